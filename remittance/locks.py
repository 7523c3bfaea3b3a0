"""Row locks for orders. Global order: order row first, then ledger accounts by pk
(ledger/locks.py). Held only for the short write; no network call inside."""

from __future__ import annotations

import uuid

from remittance.errors import OrderNotFound
from remittance.models import RemittanceOrder


def order_lock(*, order_id: uuid.UUID | str) -> RemittanceOrder:
    try:
        # the parties and the quote ride along (webhooks, statements and the settlement
        # window need them); only the order row is locked
        return (
            RemittanceOrder.objects.select_for_update(of=("self",))
            .select_related("sending_institution", "receiving_institution", "quote")
            .get(pk=order_id)
        )
    except (RemittanceOrder.DoesNotExist, ValueError):
        raise OrderNotFound(f"no order {order_id}") from None
