"""An order's states, the moves between them, and the one function that makes a move.

Every change of `RemittanceOrder.status` goes through `order_transition`, which checks the
move against `TRANSITIONS` and returns the status-change row to write with it. The database
holds the same map (migration remittance 0005: a trigger refuses any other move, even by raw
SQL), so a bug here or a hand-written UPDATE cannot skip a step.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import events
from remittance.errors import InvalidTransition
from remittance.models import OrderStatus, OrderStatusChange, RemittanceOrder

S = OrderStatus
TRANSITIONS: dict[str, set[str]] = {
    "": {S.SUBMITTED, S.HELD},
    S.HELD: {S.SUBMITTED, S.REJECTED},
    S.SUBMITTED: {S.ACCEPTED, S.REJECTED, S.EXPIRED, S.FAILED},
    S.ACCEPTED: {S.CREDITED, S.REJECTED, S.EXPIRED},
    S.CREDITED: {S.SETTLED},
    S.REJECTED: {S.REFUNDED},
    S.EXPIRED: {S.REFUNDED},
    S.REFUNDED: set(),
    S.SETTLED: set(),
    S.FAILED: set(),
}
# States whose orders count against the sender's limits.
ACTIVE = (S.SUBMITTED, S.HELD, S.ACCEPTED, S.CREDITED, S.SETTLED)
OPERATOR = "operator"


def order_transition(
    order: RemittanceOrder,
    to: str,
    *,
    actor: str,
    reason: str = "",
    statement_ref: int | None = None,
) -> OrderStatusChange:
    """Check the move against the map, change the order's status in memory, and return the
    (unsaved) status-change row; the caller writes both in its transaction. Raises
    InvalidTransition, changing nothing, for a move the map does not allow."""
    if to not in TRANSITIONS[order.status]:
        raise InvalidTransition(f"order is {order.status}; it cannot become {to}")
    change = OrderStatusChange(
        order=order,
        from_status=order.status,
        to_status=to,
        actor=actor,
        reason=reason[:200],
        statement_ref=statement_ref,
    )
    order.status = to
    return change


def order_move(
    order: RemittanceOrder,
    to: str,
    *,
    actor: str,
    reason: str = "",
    statement_ref: int | None = None,
) -> None:
    """`order_transition` for one order, its status row saved now (the caller saves the
    order)."""
    change = order_transition(order, to, actor=actor, reason=reason, statement_ref=statement_ref)
    change.save()
    _announce([change])


def changes_save(changes: Sequence[OrderStatusChange]) -> None:
    """The status rows of a batch of transitions, in one INSERT."""
    OrderStatusChange.objects.bulk_create(list(changes))
    _announce(changes)


def _announce(changes: Sequence[OrderStatusChange]) -> None:
    """`order.status_changed` with (order id, new status) pairs, for higher apps (the wallet
    notifies its customers); listeners run inside this transaction and defer work to commit."""
    if changes:
        events.emit("order.status_changed", changes=[(c.order_id, c.to_status) for c in changes])
