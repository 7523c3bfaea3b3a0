"""The partner API for quotes and orders, as a sending and a receiving bank use it."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command

from ledger.models import Account, Entry
from ledger.selectors.money import pending_transfer_state
from ledger.services.log import ledger_integrate
from remittance.models import OrderStatusChange, RemittanceOrder

from .conftest import signed

pytestmark = pytest.mark.django_db


def post(member, url, body, key=None):
    return member.client().post(
        url, body, format="json", headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def quote(corridor, amount="1000.00", **kw):
    response = post(
        corridor.network.partner,
        "/api/v1/quotes",
        {
            "corridor": "MY-PK",
            "payout_method": "mobile_wallet",
            "send_amount": {"amount": amount, "currency": "MYR"},
            **kw,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def order_body(corridor, q, order_id=None, **overrides):
    facts = {
        "order_id": order_id or str(uuid.uuid4()),
        "quote_id": q["id"],
        "sender_kyc_ref": corridor.sender_ref,
        "beneficiary_kyc_ref": corridor.beneficiary_ref,
    }
    return {**facts, **signed(corridor.network.partner, "order.submitted", facts), **overrides}


def submit(corridor, q, order_id=None, key=None, **overrides):
    body = order_body(corridor, q, order_id, **overrides)
    return post(corridor.network.partner, "/api/v1/orders", body, key=key)


def answer(corridor, order_id, step, **fields):
    tmb = corridor.network.tmb
    body_fields = {"order_id": order_id, **fields}
    return post(
        tmb,
        f"/api/v1/orders/{order_id}/{step}",
        {
            **fields,
            **signed(tmb, f"order.{step}ed" if step != "credit" else "order.credited", body_fields),
        },
    )


def balance(code):
    account = Account.objects.get(code=code)
    return account.credits_posted - account.debits_posted, account.debits_pending


def test_quote_prices_with_margin_fee_and_rounds_receive_down(corridor):
    q = quote(corridor, "1000.00")
    # mid 63.5, margin 1% → 62.865; fee 5.00 + 0.5% of 1000.00 = 10.00
    assert q["rate"] == "62.865"
    assert q["receive_amount"] == {"amount": "62865.00", "currency": "PKR"}
    assert q["fee"] == {"amount": "10.00", "currency": "MYR"}
    assert q["total_to_pay"] == {"amount": "1010.00", "currency": "MYR"}
    odd = quote(corridor, "10.01")
    assert odd["receive_amount"]["amount"] == "629.27"  # 629.27865 rounded down


def test_quote_by_receive_amount_never_creates_money(corridor):
    response = post(
        corridor.network.partner,
        "/api/v1/quotes",
        {
            "payout_method": "mobile_wallet",
            "receive_amount": {"amount": "50000.00", "currency": "PKR"},
        },
    )
    q = response.json()
    from decimal import Decimal

    assert Decimal(q["send_amount"]["amount"]) * Decimal(q["rate"]) >= Decimal("50000.00")
    assert q["receive_amount"]["amount"] == "50000.00"


@pytest.mark.parametrize(
    "body,code",
    [
        (
            {"payout_method": "mobile_wallet", "send_amount": {"amount": 100.5, "currency": "MYR"}},
            "validation_error",
        ),
        (
            {
                "payout_method": "mobile_wallet",
                "send_amount": {"amount": "1.001", "currency": "MYR"},
            },
            "validation_error",
        ),
        (
            {"payout_method": "cash", "send_amount": {"amount": "100.00", "currency": "MYR"}},
            "validation_error",
        ),
        ({"payout_method": "mobile_wallet"}, "validation_error"),
        (
            {
                "payout_method": "mobile_wallet",
                "send_amount": {"amount": "5.00", "currency": "MYR"},
            },
            "amount_out_of_range",
        ),
        (
            {
                "payout_method": "mobile_wallet",
                "send_amount": {"amount": "100.00", "currency": "PKR"},
            },
            "invalid_request",
        ),
        (
            {
                "corridor": "XX-YY",
                "payout_method": "mobile_wallet",
                "send_amount": {"amount": "100.00", "currency": "MYR"},
            },
            "not_found",
        ),
    ],
)
def test_bad_quote_requests_are_problems_with_stable_codes(corridor, body, code):
    response = post(corridor.network.partner, "/api/v1/quotes", body)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_stale_rate_gives_no_quote(corridor, settings):
    settings.FX_RATE_MAX_AGE_SECONDS = 0
    response = post(
        corridor.network.partner,
        "/api/v1/quotes",
        {"payout_method": "mobile_wallet", "send_amount": {"amount": "100.00", "currency": "MYR"}},
    )
    assert response.status_code == 422 and response.json()["code"] == "rate_unavailable"


def test_expired_quote_still_answers_but_cannot_be_used(corridor, freezer=None):
    q = quote(corridor)
    from remittance.models import Quote

    Quote.objects.filter(pk=q["id"]).update(expires_at="2020-01-01T00:00:00Z")
    assert corridor.network.partner.client().get(f"/api/v1/quotes/{q['id']}").status_code == 200
    response = submit(corridor, q)
    assert response.status_code == 422 and response.json()["code"] == "quote_expired"


def test_full_life_submit_accept_credit_posts_balances_and_logs_signed_steps(corridor):
    q = quote(corridor)
    order_id = str(uuid.uuid4())
    created = submit(corridor, q, order_id)
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "submitted"
    prefund = "prefund:PARTNER-MY:MYR"
    assert balance(prefund) == (10_000_000, 101_000)  # 1,010.00 reserved
    assert answer(corridor, order_id, "accept").json()["status"] == "accepted"
    credited = answer(
        corridor, order_id, "credit", payout_reference="EP-123", receive_amount=q["receive_amount"]
    )
    assert credited.status_code == 200, credited.content
    assert credited.json()["status"] == "credited"
    assert balance(prefund) == (10_000_000 - 101_000, 0)
    assert balance("position:PARTNER-MY:MYR") == (100_000, 0)
    assert balance("fee_income:PARTNER-MY:MYR") == (1_000, 0)
    assert balance("position:TMB-PK:PKR") == (6_286_500, 0)
    order = RemittanceOrder.objects.get(pk=order_id)
    assert pending_transfer_state(order.pending_transfer_id) == "posted"
    assert [c.to_status for c in OrderStatusChange.objects.filter(order=order)] == [
        "submitted",
        "accepted",
        "credited",
    ]
    ledger_integrate()
    steps = [
        json.loads(bytes(e.leaf))["statement"]
        for e in Entry.objects.filter(subject=order_id).order_by("seq")
    ]
    kinds = [(s["kind"], s["signer"]) for s in steps]
    assert ("order.submitted", "PARTNER-MY") in kinds
    assert ("order.accepted", "TMB-PK") in kinds
    assert ("order.credited", "TMB-PK") in kinds
    assert ("ledger.transfers", "HUB") in kinds
    call_command("ledger", "verify")
    call_command("ledger", "replay")


def test_reject_voids_the_reservation_and_refunds(corridor):
    q = quote(corridor)
    order_id = str(uuid.uuid4())
    submit(corridor, q, order_id)
    rejected = answer(corridor, order_id, "reject", reason_code="beneficiary_check_failed")
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["status"] == "refunded"
    assert rejected.json()["reason_code"] == "beneficiary_check_failed"
    assert balance("prefund:PARTNER-MY:MYR") == (10_000_000, 0)
    late = answer(corridor, order_id, "accept")
    assert late.status_code == 409 and late.json()["code"] == "invalid_transition"


def test_duplicate_and_late_answers_change_nothing_and_say_why(corridor):
    q = quote(corridor)
    order_id = str(uuid.uuid4())
    submit(corridor, q, order_id)
    early = answer(
        corridor, order_id, "credit", payout_reference="EP-1", receive_amount=q["receive_amount"]
    )
    assert early.status_code == 409 and "only an accepted order" in early.json()["detail"]
    answer(corridor, order_id, "accept")
    again = answer(corridor, order_id, "accept")
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    answer(
        corridor, order_id, "credit", payout_reference="EP-1", receive_amount=q["receive_amount"]
    )
    twice = answer(
        corridor, order_id, "credit", payout_reference="EP-1", receive_amount=q["receive_amount"]
    )
    assert twice.status_code == 409
    assert balance("position:TMB-PK:PKR") == (6_286_500, 0)


def test_idempotent_retry_of_every_post_returns_the_first_response(corridor):
    q = quote(corridor)
    order_id = str(uuid.uuid4())
    body = order_body(corridor, q, order_id)
    partner = corridor.network.partner
    first = post(partner, "/api/v1/orders", body, key="order-1")
    retry = post(partner, "/api/v1/orders", body, key="order-1")
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    other = submit(corridor, quote(corridor), order_id, key="order-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    # the same order id under a new key is still one order, one reservation
    again = submit(corridor, q, order_id, key="order-2")
    assert again.status_code == 201
    assert balance("prefund:PARTNER-MY:MYR") == (10_000_000, 101_000)
    assert RemittanceOrder.objects.count() == 1


def test_a_quote_is_used_once(corridor):
    q = quote(corridor)
    submit(corridor, q)
    second = submit(corridor, q)
    assert second.status_code == 409 and second.json()["code"] == "quote_used"


def test_bad_signature_and_mismatched_statement_are_refused_and_nothing_moves(corridor):
    q = quote(corridor)
    order_id = str(uuid.uuid4())
    forged = submit(corridor, q, order_id, signature="A" * 86 + "==")
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"
    partner = corridor.network.partner
    lie = signed(partner, "order.submitted", {"order_id": str(uuid.uuid4()), "quote_id": q["id"]})
    mismatch = submit(corridor, q, order_id, **lie)
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "statement_mismatch"
    assert balance("prefund:PARTNER-MY:MYR") == (10_000_000, 0)
    assert not RemittanceOrder.objects.exists()


def test_insufficient_funds_is_refused_cleanly(corridor, settings):
    settings.KYC_TIER_LIMITS = {
        "MY-PK": {
            "currency": "MYR",
            "tiers": {
                "2": {"per_transaction": "10000.00", "daily": "900000.00", "monthly": "900000.00"}
            },
        }
    }
    Account.objects.filter(code="prefund:PARTNER-MY:MYR").update(
        debits_must_not_exceed_credits=True
    )
    # RM 100,000.00 prefunded; each order reserves RM 10,054.99 (send + fee)
    codes = [submit(corridor, quote(corridor, "9999.99")).status_code for _ in range(10)]
    assert codes == [201] * 9 + [422]
    refused = submit(corridor, quote(corridor, "9999.99"))
    assert refused.json()["code"] == "insufficient_funds"
    assert balance("prefund:PARTNER-MY:MYR") == (10_000_000, 9 * 1_005_499)  # fee 55.00
    assert RemittanceOrder.objects.count() == 9


def test_limits_and_kyc_status_are_enforced(corridor, settings):
    settings.KYC_TIER_LIMITS = {
        "MY-PK": {
            "currency": "MYR",
            "tiers": {"2": {"per_transaction": "500.00", "daily": "600.00", "monthly": "1000.00"}},
        }
    }
    response = submit(corridor, quote(corridor, "600.00"))
    assert response.status_code == 422 and response.json()["code"] == "limit_exceeded"
    assert submit(corridor, quote(corridor, "400.00")).status_code == 201
    daily = submit(corridor, quote(corridor, "300.00"))
    assert daily.status_code == 422 and "daily" in daily.json()["detail"]


def test_travel_rule_refuses_an_order_above_usd_1000_missing_originator_account(corridor):
    from tests.kyc.conftest import SENDER

    from .conftest import verified_sender

    no_account = {k: v for k, v in SENDER.items() if k != "account"}
    record = verified_sender(corridor.network.partner.institution, data=no_account)
    corridor.sender_ref = record.kyc_ref
    below = submit(corridor, quote(corridor, "1000.00"))  # ≈ USD 226: name/address/DOB enough
    assert below.status_code == 201, below.content
    above = submit(corridor, quote(corridor, "5000.00"))  # ≈ USD 1,132
    assert above.status_code == 422
    assert above.json()["code"] == "travel_rule_incomplete"
    assert above.json()["missing"] == ["originator.account_or_reference"]


def test_institutions_see_only_their_orders(corridor):
    q = quote(corridor)
    order_id = submit(corridor, q).json()["id"]
    network = corridor.network
    valyou_client = network.valyou.client()
    for url in (f"/api/v1/orders/{order_id}", f"/api/v1/quotes/{q['id']}"):
        assert valyou_client.get(url).status_code == 404
    assert valyou_client.get("/api/v1/orders").json()["results"] == []
    for step in ("accept", "reject", "credit"):
        response = post(network.valyou, f"/api/v1/orders/{order_id}/{step}", {})
        assert response.status_code == 404
    assert network.tmb.client().get(f"/api/v1/orders/{order_id}").status_code == 200
    # the sender may not answer for the receiver
    wrong = post(
        network.partner,
        f"/api/v1/orders/{order_id}/accept",
        signed(network.partner, "order.accepted", {"order_id": order_id}),
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_party"
    assert network.tmb.client().get("/api/v1/orders/not-a-uuid").status_code == 404


def test_order_list_cursor_pagination_and_filters(corridor):
    ids = [submit(corridor, quote(corridor)).json()["id"] for _ in range(5)]
    client = corridor.network.tmb.client()
    page = client.get("/api/v1/orders?limit=2").json()
    seen = [o["id"] for o in page["results"]]
    while page["next"]:
        page = client.get(f"/api/v1/orders?limit=2&cursor={page['next']}").json()
        seen += [o["id"] for o in page["results"]]
    assert sorted(seen) == sorted(ids)
    assert client.get("/api/v1/orders?status=credited").json()["results"] == []
    assert client.get("/api/v1/orders?status=bogus").status_code == 400
    assert client.get("/api/v1/orders?cursor=garbage").json()["code"] == "invalid_cursor"


def test_unauthenticated_calls_are_401_problems(client, corridor):
    response = client.post("/api/v1/orders", {}, content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_signed_amounts_must_be_the_quotes(corridor):
    q = quote(corridor)
    partner = corridor.network.partner
    order_id = str(uuid.uuid4())
    facts = {
        "order_id": order_id,
        "quote_id": q["id"],
        "sender_kyc_ref": corridor.sender_ref,
        "beneficiary_kyc_ref": corridor.beneficiary_ref,
        "send_amount": q["send_amount"],
        "fee": q["fee"],
        "receive_amount": q["receive_amount"],
        "rate": q["rate"],
    }
    good = {**facts, **signed(partner, "order.submitted", facts)}
    greedy = dict(facts, receive_amount={"amount": "99999.00", "currency": "PKR"})
    bad = {**facts, **signed(partner, "order.submitted", greedy)}
    refused = post(partner, "/api/v1/orders", {**bad, "order_id": order_id})
    assert refused.status_code == 400 and refused.json()["code"] == "statement_mismatch"
    accepted = post(partner, "/api/v1/orders", good)
    assert accepted.status_code == 201, accepted.content
