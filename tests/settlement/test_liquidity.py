"""Liquidity: net debit cap and prefunding per sending institution, alerts, release; no limit
is no credit for an external sender; orders in flight in a batch count as used."""

from __future__ import annotations

import copy
import io
import json
import uuid

import pytest
from django.core.management import call_command

from core import events
from core.money import Money
from institutions.models import Institution
from kyc import services as kyc
from ledger.models import Account
from ledger.services.accounts import account_open, position, prefund
from ledger.services.money import TransferSpec, account_get_or_create, transfers_create_or_raise
from remittance.models import RemittanceOrder
from remittance.services.orders import order_submit
from remittance.services.quotes import quote_create
from settlement.models import LiquidityAlert, LiquidityLimit, LiquidityMode, SettlementWindow
from settlement.services import windows
from settlement.services.liquidity import (
    LiquidityNotConfigured,
    liquidity_check,
    liquidity_limit_set,
    liquidity_prefund_record,
    liquidity_unconfigured_senders,
    liquidity_used_minor,
)
from tests.kyc.conftest import BENEFICIARY
from tests.ledger.helpers import witnesses_catch_up
from tests.remittance.test_orders_api import quote, submit
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_register

from .conftest import credited_order

pytestmark = pytest.mark.django_db


def myr(amount: str) -> Money:
    return Money.parse(amount, "MYR")


def settle_current(corridor, rate: str = "63.5") -> None:
    window = SettlementWindow.objects.get(status__in=("open", "closing"))
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for both banks' cosignatures
    windows.window_settle(window_id=window.pk, settlement_rate=rate)


def no_limit(institution) -> None:
    LiquidityLimit.objects.filter(institution=institution).delete()  # the fixture's generous one


def test_no_limit_is_no_credit_for_an_external_sender(corridor):
    partner = corridor.network.partner.institution
    no_limit(partner)
    with pytest.raises(LiquidityNotConfigured) as refused:
        liquidity_check(sending_institution=partner, amount=myr("1000.00"))
    assert refused.value.code == "liquidity_not_configured" and refused.value.status == 422
    assert "PARTNER-MY" in refused.value.detail and "MYR" in refused.value.detail
    assert not LiquidityAlert.objects.filter(kind="breach").exists()  # not a hold, no breach


def test_no_limit_refuses_the_order_as_a_problem_and_nothing_moves(corridor):
    partner = corridor.network.partner.institution
    no_limit(partner)
    response = submit(corridor, quote(corridor, "1000.00"))
    assert response.status_code == 422, response.content
    problem = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert problem["code"] == "liquidity_not_configured"
    assert (problem["institution"], problem["currency"]) == ("PARTNER-MY", "MYR")
    assert "prefund or net debit cap" in problem["detail"]
    assert not RemittanceOrder.objects.exists()
    assert Account.objects.get(code="prefund:PARTNER-MY:MYR").debits_pending == 0


def test_a_hosted_sender_needs_no_limit(corridor, wallet_customer):
    valyou = corridor.network.valyou.institution
    assert not LiquidityLimit.objects.filter(institution=valyou).exists()
    decision = liquidity_check(sending_institution=valyou, amount=myr("100.00"))
    assert decision.allowed and not decision.limited
    # and a wallet order goes through (the wallet's own no-overdraft flag is its guard)
    q = quote_create(
        institution=valyou,
        customer=wallet_customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=myr("100.00"),
    )
    beneficiary = kyc.kyc_record_create(
        owner=valyou, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )
    order = order_submit(
        sending_institution=valyou,
        order_id=uuid.uuid4(),
        quote_id=q.pk,
        sender_kyc_ref=wallet_customer.kyc_ref,
        beneficiary_kyc_ref=beneficiary.kyc_ref,
        customer=wallet_customer,
    )
    assert order.status == "submitted"


def test_with_the_policy_off_no_limit_is_unlimited(corridor, settings):
    settings.LIQUIDITY_REQUIRE_LIMIT = False
    partner = corridor.network.partner.institution
    no_limit(partner)
    decision = liquidity_check(sending_institution=partner, amount=myr("1000.00"))
    assert decision.allowed and not decision.hold and not decision.limited
    assert submit(corridor, quote(corridor, "1000.00")).json()["status"] == "submitted"


def test_in_flight_counts_as_used(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(
        institution=partner, amount=Money.from_minor(100, "MYR"), on_breach="refuse"
    )
    order = Money.from_minor(20, "MYR")
    assert liquidity_check(sending_institution=partner, amount=order).allowed
    refused = liquidity_check(sending_institution=partner, amount=order, in_flight_minor=90)
    assert (refused.allowed, refused.hold) == (False, False)
    assert refused.used == Money.from_minor(90, "MYR")
    breach = LiquidityAlert.objects.get(kind="breach")
    assert (breach.used_minor, breach.cap_minor) == (90, 100)
    # exactly at the cap still fits
    assert liquidity_check(sending_institution=partner, amount=order, in_flight_minor=80).allowed


def test_in_flight_counts_below_the_threshold_too(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=Money.from_minor(1000, "MYR"))
    decision = liquidity_check(
        sending_institution=partner, amount=Money.from_minor(20, "MYR"), in_flight_minor=10
    )
    assert decision.allowed and decision.used == Money.from_minor(10, "MYR")
    # in flight pushes it over the alert threshold (80%): alerted, with what it would reach
    liquidity_check(
        sending_institution=partner, amount=Money.from_minor(20, "MYR"), in_flight_minor=800
    )
    assert LiquidityAlert.objects.get(kind="threshold").used_minor == 820
    with pytest.raises(ValueError):
        liquidity_check(sending_institution=partner, amount=myr("1.00"), in_flight_minor=-1)


def test_used_is_the_unsettled_position_from_the_ledger(corridor):
    partner = corridor.network.partner.institution
    credited_order(corridor, "1000.00")
    assert liquidity_used_minor(institution=partner, currency="MYR") == 100_000  # fee moved out
    settle_current(corridor)
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
        settle_current(corridor)
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
    settle_current(corridor)
    limit = LiquidityLimit.objects.get(institution=partner)
    assert limit.amount_minor == 100_000  # 2,000.00 − 1,000.00 paid in
    assert not liquidity_check(sending_institution=partner, amount=myr("1500.00")).allowed
    liquidity_prefund_record(institution=partner, amount=myr("1000.00"), actor="staff:test")
    assert liquidity_check(sending_institution=partner, amount=myr("1500.00")).allowed


def test_seed_demo_gives_the_partner_a_prefunded_limit_and_a_rerun_keeps_it(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    partner = Institution.objects.get(code="PARTNER-MY")
    limit = LiquidityLimit.objects.get(institution=partner)
    assert (limit.currency, limit.mode, limit.amount_minor) == ("MYR", "prefunded", 1_000_000_000)
    assert liquidity_unconfigured_senders() == []
    assert liquidity_check(sending_institution=partner, amount=myr("1000.00")).allowed

    call_command("seed_demo", stdout=io.StringIO())
    assert LiquidityLimit.objects.get(institution=partner).amount_minor == 1_000_000_000
    assert account_open(prefund(partner, "MYR")).credits_posted == 1_000_000_000  # not funded twice


def test_seed_demo_on_an_older_demo_database_limits_to_the_unspent_deposit(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    partner = Institution.objects.get(code="PARTNER-MY")
    LiquidityLimit.objects.filter(institution=partner).delete()  # made before limits existed
    deposit = account_open(prefund(partner, "MYR"))
    elsewhere = account_get_or_create(code="funding:external:MYR", kind="funding", currency="MYR")
    transfers_create_or_raise(
        transfers=[
            # an order reserved (send + fee), and RM 2,500.00 of the deposit spent before
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=deposit.pk,
                credit_account_id=account_open(position(partner, "MYR")).pk,
                amount=101_000,
                kind="pending",
            ),
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=deposit.pk,
                credit_account_id=elsewhere.pk,
                amount=250_000,
            ),
        ]
    )
    call_command("seed_demo", stdout=io.StringIO())
    decision = liquidity_check(sending_institution=partner, amount=myr("1.00"))
    assert decision.cap == Money.from_minor(1_000_000_000 - 250_000, "MYR")
    assert decision.used == Money.from_minor(101_000, "MYR")
    # headroom = what is left of the deposit
    assert decision.cap - decision.used == Money.from_minor(1_000_000_000 - 351_000, "MYR")
