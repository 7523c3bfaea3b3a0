"""What settlement does when lower apps (and the orders app, through `institutions.events`) say
something happened. Connected in `SettlementConfig.ready`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from institutions import events


def on_order_credited(*, order: Any, **_: Any) -> None:
    """Inside the credit transaction: the order joins its corridor's current window."""
    from settlement.services.windows import window_order_record

    window_order_record(order=order)


def on_orders_credited(*, orders: Any, **_: Any) -> None:
    """Inside the credit batch's transaction: its orders join their corridors' windows."""
    from settlement.services.windows import window_orders_record

    window_orders_record(orders=orders)


def on_ledger_integrated(*, first_seq: int, last_seq: int, **_: Any) -> None:
    """After a log batch committed: reconcile what it touched, in a worker."""
    from settlement.tasks import reconcile_entries

    transaction.on_commit(lambda: reconcile_entries.delay(first_seq, last_seq), robust=True)


def connect() -> None:
    events.subscribe("order.credited", on_order_credited)
    events.subscribe("orders.credited", on_orders_credited)
    events.subscribe("ledger.integrated", on_ledger_integrated)
