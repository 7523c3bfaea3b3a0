"""Edges found in review: reservations outlive the ledger's reaper, held orders get a fresh
credit deadline when released, receivers cannot overrule compliance, answers sign all facts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from core.money import Money
from ledger.selectors.money import pending_transfer_state
from ledger.services.money import pending_transfers_void_expired
from remittance.models import RemittanceOrder
from remittance.services.orders import order_expire, order_hold_decide, orders_expire_due
from settlement.services.liquidity import liquidity_limit_set

from .conftest import signed
from .test_orders_api import answer, post, quote, submit

pytestmark = pytest.mark.django_db


def test_the_ledger_reaper_never_voids_a_live_orders_reservation(corridor):
    q = quote(corridor)
    order_id = submit(corridor, q).json()["id"]
    order = RemittanceOrder.objects.get(pk=order_id)
    pending_transfers_void_expired(now=timezone.now() + timedelta(days=30))
    assert pending_transfer_state(order.pending_transfer_id) == "pending"
    answer(corridor, order_id, "accept")
    credited = answer(
        corridor, order_id, "credit", payout_reference="EP-9", receive_amount=q["receive_amount"]
    )
    assert credited.json()["status"] == "credited"


def test_a_released_hold_gets_a_fresh_credit_deadline(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=Money.parse("10.00", "MYR"), on_breach="hold")
    held = submit(corridor, quote(corridor, "100.00")).json()
    assert held["status"] == "held"
    # held for two hours (beyond ORDER_CREDIT_TIMEOUT_SECONDS), then the cap is raised
    RemittanceOrder.objects.filter(pk=held["id"]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    liquidity_limit_set(institution=partner, amount=Money.parse("5000.00", "MYR"), on_breach="hold")
    order = order_hold_decide(
        order_id=uuid.UUID(held["id"]), release=True, actor="staff:t", reason="limit raised"
    )
    assert order.status == "submitted" and order.submitted_at is not None
    assert order_expire(order_id=order.pk) is None  # not due: the clock started at release
    assert orders_expire_due() == 0


def test_expiry_refunds_and_a_second_run_changes_nothing(corridor):
    order_id = submit(corridor, quote(corridor)).json()["id"]
    RemittanceOrder.objects.filter(pk=order_id).update(
        submitted_at=timezone.now() - timedelta(hours=2)
    )
    assert orders_expire_due() == 1
    order = RemittanceOrder.objects.get(pk=order_id)
    assert order.status == "refunded"
    assert pending_transfer_state(order.pending_transfer_id) == "voided"
    assert orders_expire_due() == 0


def test_the_receiving_bank_cannot_reject_an_order_held_by_compliance(corridor):
    partner = corridor.network.partner.institution
    liquidity_limit_set(institution=partner, amount=Money.parse("10.00", "MYR"), on_breach="hold")
    held = submit(corridor, quote(corridor, "100.00")).json()
    refused = answer(corridor, held["id"], "reject", reason_code="beneficiary_check_failed")
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"
    assert RemittanceOrder.objects.get(pk=held["id"]).status == "held"


def test_a_credit_must_sign_the_payout_reference_and_amount(corridor):
    q = quote(corridor)
    order_id = submit(corridor, q).json()["id"]
    answer(corridor, order_id, "accept")
    tmb = corridor.network.tmb
    thin = signed(tmb, "order.credited", {"order_id": order_id})  # facts left out
    response = post(
        tmb,
        f"/api/v1/orders/{order_id}/credit",
        {"payout_reference": "EP-1", "receive_amount": q["receive_amount"], **thin},
    )
    assert response.status_code == 400 and response.json()["code"] == "statement_mismatch"
    assert RemittanceOrder.objects.get(pk=order_id).status == "accepted"
