"""Liquidity: net debit cap and prefunding per sending institution, alerts, release."""

from __future__ import annotations

import json

import pytest

from institutions import events
from institutions.models import WebhookDelivery
from institutions.money import Money
from institutions.services_webhooks import webhook_endpoint_register
from settlement.models import LiquidityAlert, LiquidityLimit, LiquidityMode, SettlementWindow
from settlement.services import windows
from settlement.services.liquidity import (
    liquidity_check,
    liquidity_limit_set,
    liquidity_prefund_record,
    liquidity_used_minor,
)

from .conftest import credited_order

pytestmark = pytest.mark.django_db


def myr(amount: str) -> Money:
    return Money.parse(amount, "MYR")


def settle_current(rate: str = "63.5") -> None:
    window = SettlementWindow.objects.get(status__in=("open", "closing"))
    windows.window_close(window_id=window.pk)
    windows.window_settle(window_id=window.pk, settlement_rate=rate)


def test_no_limit_allows_and_says_so(corridor):
    partner = corridor.network.partner.institution
    decision = liquidity_check(sending_institution=partner, amount=myr("1000.00"))
    assert decision.allowed and not decision.hold and not decision.limited


def test_used_is_the_unsettled_position_from_the_ledger(corridor):
    partner = corridor.network.partner.institution
    credited_order(corridor, "1000.00")
    assert liquidity_used_minor(institution=partner, currency="MYR") == 100_000  # fee moved out
    settle_current()
    assert liquidity_used_minor(institution=partner, currency="MYR") == 0


def test_net_debit_cap_breach_holds_then_settlement_releases(
    corridor, django_capture_on_commit_callbacks
):
    partner = corridor.network.partner.institution
    webhook_endpoint_register(institution=partner, url="https://partner.example/hooks")
    liquidity_limit_set(institution=partner, amount=myr("1500.00"), on_breach="hold")
    credited_order(corridor, "1000.00")  # used 1,000.00 of 1,500.00

    decision = liquidity_check(sending_institution=partner, amount=myr("1010.00"))
    assert (decision.allowed, decision.hold) == (False, True)
    assert decision.used == myr("1000.00") and decision.cap == myr("1500.00")
    # crossing 80% alerted once, as a webhook and in the admin's alert list
    delivery = WebhookDelivery.objects.get(event_type="liquidity.threshold")
    data = json.loads(delivery.payload)["data"]
    assert data["limit"] == {"amount": "1500.00", "currency": "MYR"}
    assert LiquidityAlert.objects.filter(kind="threshold").count() == 1
    assert LiquidityAlert.objects.filter(kind="breach").count() == 1
    liquidity_check(sending_institution=partner, amount=myr("1010.00"))
    assert WebhookDelivery.objects.filter(event_type="liquidity.threshold").count() == 1

    restored = []
    events.subscribe("liquidity.restored", lambda **kw: restored.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        settle_current()
    assert [(r["institution"].code, r["currency"]) for r in restored][-1:] == [
        ("PARTNER-MY", "MYR")
    ]
    assert LiquidityLimit.objects.get(institution=partner).alerted_at is None
    released = liquidity_check(sending_institution=partner, amount=myr("1010.00"))
    assert released.allowed and released.used == myr("0.00")


def test_refuse_by_configuration(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=myr("500.00"), on_breach="refuse")
    decision = liquidity_check(sending_institution=partner, amount=myr("500.01"))
    assert (decision.allowed, decision.hold) == (False, False)
    assert liquidity_check(sending_institution=partner, amount=myr("500.00")).allowed


def test_prefunded_is_consumed_by_settlement_and_restored_by_a_top_up(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=myr("2000.00"), mode=LiquidityMode.PREFUNDED)
    credited_order(corridor, "1000.00")
    settle_current()
    limit = LiquidityLimit.objects.get(institution=partner)
    assert limit.amount_minor == 100_000  # 2,000.00 − 1,000.00 paid in
    assert not liquidity_check(sending_institution=partner, amount=myr("1500.00")).allowed
    liquidity_prefund_record(institution=partner, amount=myr("1000.00"), actor="staff:test")
    assert liquidity_check(sending_institution=partner, amount=myr("1500.00")).allowed
