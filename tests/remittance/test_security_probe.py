"""The outside security probe's findings on orders, KYC sharing, quotes and input (issue 11),
each replayed as the attacker ran it. Every test here failed on the code before the fix."""

from __future__ import annotations

import copy
import json
import re
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kyc import services as kyc
from kyc.errors import ForeignRecord
from kyc.models import KycAccessLog, KycGrant, KycOrderLink
from remittance.models import Recipient, RemittanceOrder
from remittance.services.orders import order_submit
from remittance.services.quotes import quote_create
from tests.kyc.conftest import BENEFICIARY

from .conftest import fund, signed, verified_sender
from .test_orders_api import order_body, post, quote, submit

pytestmark = pytest.mark.django_db


def _sealing_key(institution) -> None:
    institution.x25519_public_key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    institution.save(update_fields=["x25519_public_key"])


@pytest.fixture
def valyou_order(corridor, wallet_customer):
    """A VALYOU-MY wallet order whose beneficiary record is VALYOU-MY's own (its reference is
    public: it is in the order.submitted entry every party can read)."""
    valyou = corridor.network.valyou.institution
    beneficiary = kyc.kyc_record_create(
        owner=valyou, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )
    from core.money import Money

    q = quote_create(
        institution=valyou,
        customer=wallet_customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse("100.00", "MYR"),
    )
    return order_submit(
        sending_institution=valyou,
        order_id=uuid.uuid4(),
        quote_id=q.pk,
        sender_kyc_ref=wallet_customer.kyc_ref,
        beneficiary_kyc_ref=beneficiary.kyc_ref,
        customer=wallet_customer,
    )


# --- High: another institution's customer's KYC record ----------------------------------------


def test_a_sending_bank_cannot_name_another_institutions_beneficiary_record(corridor, valyou_order):
    partner = corridor.network.partner
    _sealing_key(partner.institution)
    foreign_ref = valyou_order.beneficiary_kyc_ref
    order_id = str(uuid.uuid4())

    # the signed statement names the foreign ref as well, as the attacker's did
    body = order_body(corridor, quote(corridor), order_id)
    facts = {**body["statement"]["body"], "beneficiary_kyc_ref": foreign_ref}
    body = {**facts, **signed(partner, "order.submitted", facts)}
    response = post(partner, "/api/v1/orders", body)

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert not RemittanceOrder.objects.filter(pk=order_id).exists()
    assert not KycOrderLink.objects.filter(order_ref=order_id).exists()
    # …so the follow-up access request has nothing to stand on
    access = partner.client().post(
        f"/api/v1/kyc/{foreign_ref}/access",
        {"purpose": "beneficiary_check", "order_ref": order_id},
        format="json",
    )
    assert access.status_code == 404
    assert not KycGrant.objects.filter(institution=partner.institution).exists()


def test_a_link_the_requester_made_grants_nothing_without_the_owner_in_the_order(
    corridor, valyou_order
):
    """Access follows from ownership: even with a link row of its own (as the hole left
    behind), a bank gets a record only for an order in which the record's owner named it."""
    partner = corridor.network.partner
    _sealing_key(partner.institution)
    record = kyc.kyc_record_create(
        owner=corridor.network.valyou.institution,
        role="beneficiary",
        data=copy.deepcopy(BENEFICIARY),
    )
    KycOrderLink.objects.create(record=record, order_ref="ord_x", institution=partner.institution)
    access = partner.client().post(
        f"/api/v1/kyc/{record.kyc_ref}/access",
        {"purpose": "beneficiary_check", "order_ref": "ord_x"},
        format="json",
    )
    assert access.status_code == 404
    assert KycAccessLog.objects.get(record=record).action == "denied"
    # and a party of the owner's real order is not helped by naming the wrong order
    tmb = corridor.network.tmb
    _sealing_key(tmb.institution)
    wrong = tmb.client().post(
        f"/api/v1/kyc/{valyou_order.beneficiary_kyc_ref}/access",
        {"purpose": "beneficiary_check", "order_ref": "ord_x"},
        format="json",
    )
    right = tmb.client().post(
        f"/api/v1/kyc/{valyou_order.beneficiary_kyc_ref}/access",
        {"purpose": "beneficiary_check", "order_ref": str(valyou_order.pk)},
        format="json",
    )
    assert (wrong.status_code, right.status_code) == (404, 200)


def test_linking_a_record_to_an_order_its_owner_is_not_party_to_is_refused(corridor):
    record = kyc.kyc_record_create(
        owner=corridor.network.valyou.institution,
        role="beneficiary",
        data=copy.deepcopy(BENEFICIARY),
    )
    with pytest.raises(ForeignRecord):
        kyc.kyc_links_create(links=[(record, "ord_1", [corridor.network.partner.institution])])
    assert not KycOrderLink.objects.exists()


def test_a_wallet_customer_cannot_name_a_beneficiary_of_another_institution(
    corridor, wallet_customer
):
    from core.money import Money

    valyou = corridor.network.valyou.institution
    q = quote_create(
        institution=valyou,
        customer=wallet_customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse("100.00", "MYR"),
    )
    from core.errors import NotFound

    with pytest.raises(NotFound, match="no beneficiary KYC record"):
        order_submit(
            sending_institution=valyou,
            order_id=uuid.uuid4(),
            quote_id=q.pk,
            sender_kyc_ref=wallet_customer.kyc_ref,
            beneficiary_kyc_ref=corridor.beneficiary_ref,  # PARTNER-MY's customer
            customer=wallet_customer,
        )


# --- Low: a wallet customer and another customer's quote --------------------------------------


def test_a_wallet_customer_cannot_send_with_another_customers_quote(
    client, corridor, wallet_customer
):
    from django.contrib.auth import get_user_model

    from remittance.models import Customer

    recipient = Recipient.objects.create(
        customer=wallet_customer,
        kyc_ref=kyc.kyc_record_create(
            owner=wallet_customer.institution,
            role="beneficiary",
            data=copy.deepcopy(BENEFICIARY),
        ).kyc_ref,
        payout_method="mobile_wallet",
        payout_hint="••••4567",
    )
    other_user = get_user_model().objects.create_user("bilal", password="pw-bilal-123")
    from ledger.models import AccountKind
    from ledger.services.money import account_get_or_create

    other = Customer.objects.create(
        user=other_user,
        institution=wallet_customer.institution,
        kyc_ref=verified_sender(wallet_customer.institution).kyc_ref,
        wallet=account_get_or_create(
            code=f"wallet:{uuid.uuid4()}:MYR",
            kind=AccountKind.WALLET,
            currency="MYR",
            institution=wallet_customer.institution,
        ),
    )
    fund(other.wallet, 50_000)
    assert client.login(username="bilal", password="pw-bilal-123")
    from core.money import Money

    theirs = quote_create(
        institution=wallet_customer.institution,
        customer=wallet_customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse("100.00", "MYR"),
    )
    Recipient.objects.create(
        customer=other, kyc_ref=recipient.kyc_ref, payout_method="mobile_wallet"
    )
    own_recipient = other.recipients.get()
    sent = client.post(
        "/wallet/send",
        {
            "quote_id": theirs.pk,
            "recipient_id": str(own_recipient.pk),
            "order_id": str(uuid.uuid4()),
        },
    )
    assert sent.status_code in (200, 302)  # back to the form with a message, never a 500
    assert not RemittanceOrder.objects.exists()


# --- Low: reusing another institution's order id ----------------------------------------------


@pytest.fixture
def other_bank(corridor):
    """A second external sending bank with its own verified customer and prefunded limit."""
    from core.money import Money
    from ledger.services.accounts import account_open, prefund
    from settlement.services.liquidity import liquidity_limit_set
    from tests.conftest import _member

    from .conftest import fund

    member = _member(code="OTHER-MY", name="Other", country="MY", currency="MYR", is_sending=True)
    fund(account_open(prefund(member.institution, "MYR")), 1_000_000)
    liquidity_limit_set(institution=member.institution, amount=Money.parse("10000.00", "MYR"))
    member.sender_ref = verified_sender(member.institution).kyc_ref
    member.beneficiary_ref = kyc.kyc_record_create(
        owner=member.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    ).kyc_ref
    return member


def _other_submit(other, order_id: str, quote_id: str | None = None):
    if quote_id is None:
        quote_id = post(
            other,
            "/api/v1/quotes",
            {
                "payout_method": "mobile_wallet",
                "send_amount": {"amount": "100.00", "currency": "MYR"},
            },
        ).json()["id"]
    facts = {
        "order_id": order_id,
        "quote_id": quote_id,
        "sender_kyc_ref": other.sender_ref,
        "beneficiary_kyc_ref": other.beneficiary_ref,
    }
    return post(other, "/api/v1/orders", {**facts, **signed(other, "order.submitted", facts)})


def test_another_institutions_order_id_is_answered_as_if_it_did_not_exist(corridor, other_bank):
    taken = submit(corridor, quote(corridor)).json()["id"]
    # judged like a fresh id: a bad quote is the answer, as it would be for any new id
    unknown_quote = _other_submit(other_bank, taken, quote_id="qt_" + "0" * 24)
    assert unknown_quote.status_code == 404, unknown_quote.content
    assert unknown_quote.json()["code"] == "not_found"
    assert "quote" in unknown_quote.json()["detail"]
    # and when everything else passes, the id is merely unavailable
    response = _other_submit(other_bank, taken)
    assert response.status_code == 409, response.content
    problem = response.json()
    assert problem["code"] == "order_id_unavailable"
    assert "different order" not in json.dumps(problem)
    assert RemittanceOrder.objects.get(pk=taken).sending_institution.code == "PARTNER-MY"
    # the same bank with a fresh id goes through
    assert _other_submit(other_bank, str(uuid.uuid4())).status_code == 201


# --- Medium: input that made 500s ------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    ["1e30", "9" * 29, "1e999999999", "1e2", "1_000.00", "١٠٠٠", "1000.001", " 1000"],
)
def test_amounts_outside_the_one_grammar_are_a_400_problem(corridor, amount):
    response = post(
        corridor.network.partner,
        "/api/v1/quotes",
        {"payout_method": "mobile_wallet", "send_amount": {"amount": amount, "currency": "MYR"}},
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"


def test_a_lowercase_currency_is_refused(corridor):
    response = post(
        corridor.network.partner,
        "/api/v1/quotes",
        {"payout_method": "mobile_wallet", "send_amount": {"amount": "100.00", "currency": "myr"}},
    )
    assert response.status_code == 400
    assert "uppercase ISO 4217" in json.dumps(response.json())


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["body", "statement"])
def test_json_nested_a_thousand_levels_is_a_400_problem(corridor, where):
    q = quote(corridor)
    body = json.dumps(order_body(corridor, q))
    if where == "body":
        raw = '{"deep": ' + _nested(1000) + ", " + body[1:]
    else:
        raw = re.sub(r'"statement": \{', '"statement": {"deep": ' + _nested(1000) + ", ", body)
    response = corridor.network.partner.client().post(
        "/api/v1/orders",
        raw,
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "malformed_request"
    assert not RemittanceOrder.objects.exists()


@pytest.mark.parametrize(
    "amount",
    [
        {"send_amount": {"amount": "16000000000000.00", "currency": "MYR"}},
        {"send_amount": {"amount": "999999999999999.99", "currency": "MYR"}},
        {"receive_amount": {"amount": "999999999999999.99", "currency": "PKR"}},
    ],
)
def test_a_huge_amount_is_out_of_range_not_a_500(corridor, amount):
    response = post(
        corridor.network.partner, "/api/v1/quotes", {"payout_method": "mobile_wallet", **amount}
    )
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "amount_out_of_range"


def test_a_body_over_the_upload_limit_is_a_413_problem(corridor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"payout_method": "mobile_wallet", "pad": "x" * 20_000})
    response = corridor.network.partner.client().post(
        "/api/v1/quotes",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "payload_too_large"


def test_a_webhook_url_with_port_zero_is_refused(corridor):
    response = post(
        corridor.network.tmb, "/api/v1/webhook-endpoints", {"url": "https://1.1.1.1:0/hooks"}
    )
    assert response.status_code == 422, response.content
    assert response.json()["rule"] == "port"
