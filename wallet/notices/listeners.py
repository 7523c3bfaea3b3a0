"""Hooks heard from the apps below (core/events.py). They run inside the emitter's
transaction, so they only pick what concerns customers and queue one task per batch for
after commit (nothing is told about a change that rolls back)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from core.tasks import task_request_on_commit
from wallet.notices.models import NoticeKind

# The order statuses a customer is told about, and what the notice says.
ORDER_NOTICES = {"credited": NoticeKind.DELIVERED, "refunded": NoticeKind.REFUNDED}


def order_status_changed(*, changes: Sequence[tuple[uuid.UUID, str]], **_: Any) -> None:
    order_ids = sorted({str(order_id) for order_id, status in changes if status in ORDER_NOTICES})
    if order_ids:
        task_request_on_commit("wallet.notices_orders_send", order_ids)


def kyc_status_changed(*, kyc_ref: str, status: str, change_id: int, **_: Any) -> None:
    if status == "needs_info":
        task_request_on_commit("wallet.notice_kyc_send", kyc_ref, change_id)
