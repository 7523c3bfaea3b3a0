"""Orders and settlement together: a net-debit-cap breach holds an order before any money
moves; settling the window restores headroom, releases it, and marks settled orders."""

from __future__ import annotations

import uuid

import pytest

from institutions.money import Money
from ledger.models import Account
from remittance.models import RemittanceOrder
from settlement.models import SettlementWindow
from settlement.services import windows
from settlement.services.liquidity import liquidity_limit_set

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
