"""Stateful property test of orders and money (hypothesis `RuleBasedStateMachine`): random
interleavings of submit, accept, credit, reject, expire, hold/release (liquidity), window
close + settle and retried requests (same Idempotency-Key), with every invariant of the
auditor (remittance/audit) checked after every step, and each order's status as the model
expects. Each example runs in its own savepoint, rolled back afterwards."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from core.money import Money
from ledger.services.log import ledger_integrate
from remittance.audit.services import audit_run
from remittance.models import RemittanceOrder
from remittance.services.orders import order_expire, order_hold_decide
from settlement.models import SettlementWindow
from settlement.services import windows
from settlement.services.liquidity import liquidity_limit_set
from tests.ledger.helpers import witnesses_catch_up

from .test_orders_api import answer, post, quote, submit

pytestmark = pytest.mark.django_db

AMOUNTS = st.sampled_from(["100.00", "250.50", "1000.00", "37.00"])


class OrdersAndMoney(RuleBasedStateMachine):
    submitted = Bundle("submitted")
    accepted = Bundle("accepted")
    held = Bundle("held")

    def __init__(self, corridor) -> None:
        super().__init__()
        self.corridor = corridor
        self.expected: dict[str, str] = {}
        self.quotes: dict[str, dict] = {}
        self.last: tuple[str, dict, str, int] | None = None  # url, body, key, status
        self._savepoint = transaction.atomic()
        self._savepoint._from_testcase = True  # the services' durable blocks may nest in it
        self._savepoint.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- steps ------------------------------------------------------------------------------

    @rule(target=submitted, amount=AMOUNTS)
    def submit_order(self, amount: str) -> str:
        q = quote(self.corridor, amount)
        order_id = str(uuid.uuid4())
        response = submit(self.corridor, q, order_id)
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "submitted"
        self.expected[order_id] = "submitted"
        self.quotes[order_id] = q
        return order_id

    @rule(target=held, amount=AMOUNTS)
    def submit_over_a_liquidity_hold(self, amount: str) -> str:
        partner = self.corridor.network.partner.institution
        liquidity_limit_set(
            institution=partner, amount=Money.parse("1.00", "MYR"), on_breach="hold"
        )
        try:
            q = quote(self.corridor, amount)
            order_id = str(uuid.uuid4())
            response = submit(self.corridor, q, order_id)
        finally:
            liquidity_limit_set(
                institution=partner, amount=Money.parse("10000000.00", "MYR"), on_breach="hold"
            )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "held"
        self.expected[order_id] = "held"
        self.quotes[order_id] = q
        return order_id

    @rule(target=submitted, order_id=consumes(held))
    def release_hold(self, order_id: str) -> str:
        order = order_hold_decide(
            order_id=uuid.UUID(order_id), release=True, actor="staff:test", reason="limit raised"
        )
        assert order.status == "submitted"
        self.expected[order_id] = "submitted"
        return order_id

    @rule(order_id=consumes(held))
    def reject_hold(self, order_id: str) -> None:
        order = order_hold_decide(
            order_id=uuid.UUID(order_id), release=False, actor="staff:test", reason="refused"
        )
        assert order.status == "rejected"  # held for liquidity: nothing was reserved
        self.expected[order_id] = "rejected"

    @rule(target=accepted, order_id=consumes(submitted))
    def accept(self, order_id: str) -> str:
        response = answer(self.corridor, order_id, "accept")
        assert response.status_code == 200, response.content
        self.expected[order_id] = "accepted"
        return order_id

    @rule(order_id=consumes(accepted))
    def credit(self, order_id: str) -> None:
        q = self.quotes[order_id]
        fields = {"payout_reference": f"EP-{order_id[:8]}", "receive_amount": q["receive_amount"]}
        response = answer(self.corridor, order_id, "credit", **fields)
        assert response.status_code == 200, response.content
        self.expected[order_id] = "credited"

    @rule(order_id=consumes(submitted) | consumes(accepted))
    def reject(self, order_id: str) -> None:
        response = answer(self.corridor, order_id, "reject", reason_code="beneficiary_unknown")
        assert response.status_code == 200, response.content
        self.expected[order_id] = "refunded"

    @rule(order_id=consumes(submitted) | consumes(accepted))
    def expire(self, order_id: str) -> None:
        past = timezone.now() - timedelta(hours=5)
        RemittanceOrder.objects.filter(pk=order_id).update(submitted_at=past)
        assert order_expire(order_id=uuid.UUID(order_id)) is not None
        self.expected[order_id] = "refunded"

    @rule(amount=AMOUNTS)
    def retry_a_submit_with_its_key(self, amount: str) -> None:
        """A client that timed out sends the same request with the same Idempotency-Key:
        the first answer again, nothing created twice."""
        q = quote(self.corridor, amount)
        order_id = str(uuid.uuid4())
        key = str(uuid.uuid4())
        first = submit(self.corridor, q, order_id, key=key)
        from .test_orders_api import order_body

        again = post(
            self.corridor.network.partner,
            "/api/v1/orders",
            order_body(self.corridor, q, order_id),
            key=key,
        )
        assert first.status_code == 201 and again.status_code in (201, 409), again.content
        if again.status_code == 201:
            assert again.json()["id"] == order_id
        assert RemittanceOrder.objects.filter(pk=order_id).count() == 1
        self.expected[order_id] = "submitted"
        self.quotes[order_id] = q
        # it stays submitted; it is not in a bundle, so later steps leave it alone

    @rule()
    def close_and_settle(self) -> None:
        window = SettlementWindow.objects.filter(status="open").first()
        if window is None:
            return
        windows.window_close(window_id=window.pk)
        witnesses_catch_up(self.corridor.network)
        windows.window_settle(window_id=window.pk, settlement_rate="63.5")
        windows.window_orders_mark_settled(window_id=window.pk)
        for order_id, status in self.expected.items():
            if status == "credited":
                self.expected[order_id] = "settled"

    @rule()
    def integrate(self) -> None:
        ledger_integrate()

    # --- what holds after every step --------------------------------------------------------

    @invariant()
    def every_invariant_of_the_auditor_holds(self) -> None:
        run = audit_run(trigger="test")
        assert run.ok, run.breaches

    @invariant()
    def every_order_is_where_the_model_says(self) -> None:
        stored = dict(
            RemittanceOrder.objects.filter(pk__in=list(self.expected)).values_list("id", "status")
        )
        assert {str(k): v for k, v in stored.items()} == self.expected


def test_orders_and_money_keep_every_invariant_under_random_interleavings(corridor):
    run_state_machine_as_test(
        lambda: OrdersAndMoney(corridor),
        settings=settings(
            max_examples=10,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
