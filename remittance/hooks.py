"""Remittance listens to settlement (a lower app) through institutions' event hooks."""

from __future__ import annotations

from typing import Any

from core import events


def on_window_settled(*, window_id: int, order_ids: list[Any]) -> None:
    from remittance.services.orders import orders_mark_settled

    orders_mark_settled(order_ids=order_ids)


def on_liquidity_restored(*, institution: Any, currency: str) -> None:
    from remittance.tasks import release_liquidity_held

    release_liquidity_held.delay(institution.pk, currency)


def connect() -> None:
    events.subscribe("settlement.window_settled", on_window_settled)
    events.subscribe("liquidity.restored", on_liquidity_restored)
