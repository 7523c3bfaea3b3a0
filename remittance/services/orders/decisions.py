"""What happens to an order besides the parties' steps: refunds, expiry of an order not
credited in time, compliance's decision on a held order, release of orders held for
liquidity, and settlement. Each is stated on the log by the operator.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.money import Money
from institutions.models import Institution
from remittance.errors import InsufficientFunds, InvalidTransition
from remittance.locks import order_lock
from remittance.models import RemittanceOrder
from remittance.services.orders import funds
from remittance.services.orders.notify import order_publish
from remittance.services.orders.signing import operator_record
from remittance.services.orders.states import (
    OPERATOR,
    S,
    changes_save,
    order_move,
    order_transition,
)
from settlement.services.liquidity import (
    LiquidityExceeded,
    LiquidityNotConfigured,
    liquidity_check,
    liquidity_recheck,
)

logger = logging.getLogger(__name__)


def _operator_states(kind: str, body: dict, order: RemittanceOrder) -> int:
    return operator_record(settings.LEDGER_OPERATOR_CODE, kind, body, str(order.id))


def order_refund(order: RemittanceOrder, *, reason: str) -> None:
    """A rejected or expired order's reservation is voided (the sender has its money back),
    stated by the operator, and the order becomes refunded (saved: each step is its own
    status change, as the database's state machine wants). Inside the caller's transaction,
    with the order locked and its rejected/expired state saved."""
    funds.refund(order)
    total = Money.from_minor(order.send_minor + order.fee_minor, order.send_currency)
    ref = _operator_states(
        "order.refunded",
        {"order_id": str(order.id), "amount": total.to_wire(), "reason": reason[:48]},
        order,
    )
    order_move(order, S.REFUNDED, actor=OPERATOR, reason=reason, statement_ref=ref)
    order.save(update_fields=["status", "updated_at"])


@transaction.atomic(durable=True)
def order_expire(*, order_id: uuid.UUID) -> RemittanceOrder | None:
    """Expire an order not credited in time: void the reservation and refund. No-op (None)
    if it moved on meanwhile."""
    order = order_lock(order_id=order_id)
    deadline = (order.submitted_at or order.created_at) + timedelta(
        seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS
    )
    if order.status not in (S.SUBMITTED, S.ACCEPTED) or timezone.now() < deadline:
        return None
    ref = _operator_states(
        "order.expired", {"order_id": str(order.id), "previous_status": order.status}, order
    )
    order_move(order, S.EXPIRED, actor=OPERATOR, reason="credit timeout", statement_ref=ref)
    order.save(update_fields=["status", "updated_at"])
    order_refund(order, reason="expired")
    for event in ("order.expired", "order.refunded"):
        order_publish(order, event, order.sending_institution, order.receiving_institution)
    return order


def orders_expire_due(*, limit: int = 500) -> int:
    """Expire what is due, oldest first; one order's failure is logged and does not stop the
    others (it is retried on the next run)."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS)
    ids = list(
        RemittanceOrder.objects.filter(
            status__in=(S.SUBMITTED, S.ACCEPTED), submitted_at__lt=cutoff
        )
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for order_id in ids:
        try:
            expired += order_expire(order_id=order_id) is not None
        except Exception:
            logger.exception("could not expire order %s", order_id)
    return expired


_RELEASED_FIELDS = ["status", "hold_reason", "pending_transfer_id", "submitted_at", "updated_at"]


@transaction.atomic(durable=True)
def order_hold_decide(
    *, order_id: uuid.UUID, release: bool, actor: str, reason: str
) -> RemittanceOrder:
    """Compliance decision on a held order: release it (a liquidity hold, if any, still waits
    for headroom), or reject it and refund whatever was reserved."""
    if not reason.strip():
        raise DomainError("a reason is required")
    order = order_lock(order_id=order_id)
    if order.status != S.HELD:
        raise InvalidTransition(f"order is {order.status}, not held")
    if release:
        _hold_clear(order, ("screening", "monitoring"), actor=actor, reason=reason)
        if "liquidity" in order.hold_reason:
            _liquidity_release(order, actor=actor)
        order.save(update_fields=_RELEASED_FIELDS)
        return order
    ref = _operator_states(
        "order.rejected", {"order_id": str(order.id), "reason_code": "compliance_rejected"}, order
    )
    order_move(order, S.REJECTED, actor=actor, reason=reason, statement_ref=ref)
    order.reason_code = "compliance_rejected"
    order.hold_reason = ""
    order.save(update_fields=["status", "reason_code", "hold_reason", "updated_at"])
    if order.pending_transfer_id:
        order_refund(order, reason="compliance_rejected")
    order_publish(order, "order.rejected", order.sending_institution)
    if order.status == S.REFUNDED:
        order_publish(order, "order.refunded", order.sending_institution)
    return order


def _hold_clear(order: RemittanceOrder, whys: tuple[str, ...], *, actor: str, reason: str) -> None:
    """Drop hold reasons; with none left the order goes on to the receiving bank."""
    cleared = [r for r in order.hold_reason.split(",") if r in whys]
    remaining = [r for r in order.hold_reason.split(",") if r and r not in whys]
    order.hold_reason = ",".join(remaining)
    if remaining:
        return
    why = ",".join(cleared) or whys[0]
    ref = _operator_states("order.released", {"order_id": str(order.id), "reason": why}, order)
    order_move(order, S.SUBMITTED, actor=actor, reason=reason, statement_ref=ref)
    order.submitted_at = timezone.now()  # the receiving bank's clock starts now
    order_publish(order, "order.submitted", order.receiving_institution)


def _liquidity_release(order: RemittanceOrder, *, actor: str) -> bool:
    """Reserve and clear the liquidity hold if the sending institution has headroom now."""
    total = Money.from_minor(order.send_minor + order.fee_minor, order.send_currency)
    decision = liquidity_check(sending_institution=order.sending_institution, amount=total)
    if not decision.allowed:
        return False
    funds.reserve_one(
        order_id=order.id,
        source=order.source_account,
        sending_institution=order.sending_institution,
        amount=total,
    )
    liquidity_recheck(sending_institution=order.sending_institution, currency=total.currency)
    order.pending_transfer_id = funds.transfer_id(order.id, "reserve")
    _hold_clear(order, ("liquidity",), actor=actor, reason="liquidity headroom restored")
    return True


def orders_release_liquidity_held(*, institution: Institution, currency: str) -> int:
    """After settlement restores headroom: release held orders oldest first, each in its own
    transaction, until one no longer fits."""
    ids = list(
        RemittanceOrder.objects.filter(
            sending_institution=institution,
            send_currency=currency,
            status=S.HELD,
            hold_reason__contains="liquidity",
        )
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    released = 0
    for order_id in ids:
        try:
            if not _liquidity_release_one(order_id=order_id):
                break  # no headroom: later (younger) orders wait their turn
        except (InsufficientFunds, LiquidityExceeded, LiquidityNotConfigured) as exc:
            # this order cannot go now (e.g. the wallet was spent meanwhile); it stays held
            # for compliance to decide, and must not block the orders behind it
            logger.warning("held order %s not released: %s", order_id, exc.code)
            continue
        released += 1
    return released


@transaction.atomic(durable=True)
def _liquidity_release_one(*, order_id: uuid.UUID) -> bool:
    order = order_lock(order_id=order_id)
    if order.status != S.HELD or "liquidity" not in order.hold_reason:
        return True  # moved on meanwhile; keep going
    if not _liquidity_release(order, actor=OPERATOR):
        return False
    order.save(update_fields=_RELEASED_FIELDS)
    return True


@transaction.atomic
def orders_mark_settled(*, order_ids: list) -> int:
    """credited → settled for the orders a settlement window settled. Called inside the
    settlement's own transaction (event `settlement.window_settled`); a repeat is harmless."""
    orders = list(
        RemittanceOrder.objects.select_for_update(of=("self",))
        .filter(pk__in=order_ids, status=S.CREDITED)
        .order_by("pk")
        .only("pk", "status")
    )
    changes_save(
        [
            order_transition(order, S.SETTLED, actor=OPERATOR, reason="settlement window settled")
            for order in orders
        ]
    )
    RemittanceOrder.objects.filter(pk__in=[o.pk for o in orders]).update(
        status=S.SETTLED, updated_at=timezone.now()
    )
    return len(orders)


SENDER_CANCELLED = "sender_cancelled"


@transaction.atomic(durable=True)
def order_cancel(
    *, order_id: uuid.UUID, sending_institution: Institution, actor: str
) -> RemittanceOrder:
    """The sender takes an order back while the receiving bank has not accepted it (submitted
    or held): it becomes rejected with reason `sender_cancelled`, stated by the operator, and
    is refunded — the existing rejected → refunded path, so partners see only states they
    know. Once accepted it is the receiving bank's to finish: InvalidTransition."""
    order = order_lock(order_id=order_id)
    if order.sending_institution_id != sending_institution.pk:
        raise DomainError("only the sending institution may cancel an order")
    if order.status not in (S.SUBMITTED, S.HELD):
        raise InvalidTransition(
            f"order is {order.status}; only an order the receiving bank has not accepted "
            "can be cancelled"
        )
    was_held = order.status == S.HELD
    ref = _operator_states(
        "order.rejected", {"order_id": str(order.id), "reason_code": SENDER_CANCELLED}, order
    )
    order_move(order, S.REJECTED, actor=actor, reason=SENDER_CANCELLED, statement_ref=ref)
    order.reason_code = SENDER_CANCELLED
    order.hold_reason = ""
    order.save(update_fields=["status", "reason_code", "hold_reason", "updated_at"])
    if order.pending_transfer_id:
        order_refund(order, reason=SENDER_CANCELLED)
    # a held order never reached the receiving bank: only the sender is told
    told = [order.sending_institution]
    if not was_held:
        told.append(order.receiving_institution)
    order_publish(order, "order.rejected", *told)
    if order.status == S.REFUNDED:
        order_publish(order, "order.refunded", order.sending_institution)
    return order
