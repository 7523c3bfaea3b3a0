"""Row locks for settlement: the only place settlement takes them.

Global order (no cycle with the other apps, see ledger/locks.py):
- a credit (remittance `order_credit`): order → ledger accounts → SHARE lock on the corridor's
  *current* window (the `order.credited` hook). Credits never wait for each other here.
- a close: UPDATE lock on the current window only (it waits for credits in flight, and credits
  that come after it wait and then land in the next window).
- a settle: UPDATE lock on a *closed* window (no credit ever locks one) → liquidity limits by pk
  → ledger accounts (one `transfers_create` call).
- liquidity check (in `order_submit`, before the reservation): liquidity limit → accounts.
"""

from __future__ import annotations

from django.db import connection, transaction

from core.errors import NotFound
from settlement.models import CURRENT_STATUSES, LiquidityLimit, SettlementWindow


def window_lock(*, window_id: int) -> SettlementWindow:
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("window_lock needs an open transaction")
    try:
        return SettlementWindow.objects.select_for_update(of=("self",)).get(pk=window_id)
    except SettlementWindow.DoesNotExist:
        raise NotFound(f"no settlement window {window_id}") from None


def current_window_share_lock(*, corridor_id: int) -> int | None:
    """The id of the corridor's current window, SHARE-locked until the transaction ends (so a
    close, which takes the UPDATE lock, waits for this credit and the credit can never land in
    a window that is already closed). None if there is none, or if a close committed while we
    waited (PostgreSQL re-checks the status then): the caller looks again."""
    table = SettlementWindow._meta.db_table
    statuses = [str(s) for s in CURRENT_STATUSES]
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE corridor_id = %s AND status IN (%s, %s){lock}",  # noqa: S608
            [corridor_id, *statuses],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def liquidity_limits_lock(*, limit_ids: list[int]) -> dict[int, LiquidityLimit]:
    locked = (
        LiquidityLimit.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted(set(limit_ids)))
        .order_by("pk")
    )
    return {limit.pk: limit for limit in locked}
