"""Orders and settlement together: a net-debit-cap breach holds an order before any money
moves; settling the window restores headroom, releases it, and marks settled orders."""

from __future__ import annotations

import uuid

import pytest

from core.money import Money
from ledger.models import Account
from remittance.models import RemittanceOrder
from settlement.models import SettlementWindow
from settlement.services import windows
from settlement.services.liquidity import liquidity_limit_set
from tests.conftest import requires_postgres
from tests.ledger.helpers import witnesses_catch_up

from .test_orders_api import answer, quote, submit

pytestmark = pytest.mark.django_db


def _credit(corridor, amount):
    q = quote(corridor, amount)
    order_id = str(uuid.uuid4())
    assert submit(corridor, q, order_id).status_code == 201
    answer(corridor, order_id, "accept")
    credited = answer(
        corridor,
        order_id,
        "credit",
        payout_reference=f"EP-{order_id[:8]}",
        receive_amount=q["receive_amount"],
    )
    assert credited.json()["status"] == "credited"
    return order_id


def test_cap_breach_holds_then_settlement_releases_and_settles(
    corridor, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=Money.parse("1500.00", "MYR"), on_breach="hold")
    first = _credit(corridor, "1000.00")  # 1,000.00 of 1,500.00 used
    held = submit(corridor, quote(corridor, "1000.00"))
    assert held.status_code == 201 and held.json()["status"] == "held"
    held_id = held.json()["id"]
    prefund = Account.objects.get(code="prefund:PARTNER-MY:MYR")
    assert prefund.debits_pending == 0  # held before funds move
    assert corridor.network.tmb.client().get(f"/api/v1/orders/{held_id}").status_code == 200

    window = SettlementWindow.objects.get(status="open")
    with django_capture_on_commit_callbacks(execute=True):
        windows.window_close(window_id=window.pk)
        witnesses_catch_up(corridor.network)  # settling waits for both banks' cosignatures
        windows.window_settle(window_id=window.pk, settlement_rate="63.5")
        windows.window_orders_mark_settled(window_id=window.pk)
    assert RemittanceOrder.objects.get(pk=first).status == "settled"
    released = RemittanceOrder.objects.get(pk=held_id)
    assert released.status == "submitted" and released.hold_reason == ""
    prefund.refresh_from_db()
    assert prefund.debits_pending == 101_000  # reserved on release


def test_refuse_by_configuration_is_a_422_and_nothing_moves(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(
        institution=partner, amount=Money.parse("500.00", "MYR"), on_breach="refuse"
    )
    response = submit(corridor, quote(corridor, "1000.00"))
    assert response.status_code == 422 and response.json()["code"] == "liquidity_exceeded"
    assert not RemittanceOrder.objects.exists()
    assert Account.objects.get(code="prefund:PARTNER-MY:MYR").debits_pending == 0


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_orders_that_each_fit_cannot_together_break_the_cap(corridor):
    """Real threads: both orders are below the alert threshold alone, so neither takes the
    limit row lock; the re-check after the reservation (under the position row lock) refuses
    the one that would break the cap."""
    import threading

    from django.db import connection

    from institutions.models import Institution
    from remittance.services.orders import SignedStatement, order_submit
    from remittance.services.quotes import quote_create

    from .conftest import signed

    network = corridor.network
    partner = Institution.objects.get(code="PARTNER-MY")
    liquidity_limit_set(
        institution=partner,
        amount=Money.parse("1500.00", "MYR"),
        on_breach="refuse",
        alert_percent=99,
    )
    quotes = [
        quote_create(
            institution=partner,
            corridor_code="MY-PK",
            payout_method="mobile_wallet",
            send_amount=Money.parse("1000.00", "MYR"),
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit_one(q):
        try:
            order_id = uuid.uuid4()
            facts = {
                "order_id": str(order_id),
                "quote_id": q.pk,
                "sender_kyc_ref": corridor.sender_ref,
                "beneficiary_kyc_ref": corridor.beneficiary_ref,
            }
            sig = signed(network.partner, "order.submitted", facts)
            barrier.wait()
            order_submit(
                sending_institution=partner,
                order_id=order_id,
                quote_id=q.pk,
                sender_kyc_ref=corridor.sender_ref,
                beneficiary_kyc_ref=corridor.beneficiary_ref,
                signed=SignedStatement.from_request(**sig),
            )
            outcomes.append("ok")
        except Exception as exc:  # the refusal under test
            outcomes.append(getattr(exc, "code", type(exc).__name__))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_one, args=(q,)) for q in quotes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["liquidity_exceeded", "ok"]
    assert Account.objects.get(code="position:PARTNER-MY:MYR").credits_pending == 101_000
