from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from partner_sdk.wire import format_time, make_statement, sign_statement

ORDER_1 = "00000000-0000-4000-8000-000000000001"


def partner_statement(
    member,
    kind: str = "order.credited",
    body: dict[str, Any] | None = None,
    at: datetime | None = None,
):
    """A statement signed by an external member's own key, as a partner bank would send it."""
    statement = make_statement(
        kind=kind,
        at=format_time(at or datetime.now(UTC)),
        signer=member.code,
        key_id=member.key_id,
        body=body
        if body is not None
        else {
            "order_id": ORDER_1,
            "payout_reference": "EP-1",
            "receive_amount": {"amount": "100.00", "currency": "PKR"},
        },
    )
    return statement, sign_statement(member.private_key, statement)
