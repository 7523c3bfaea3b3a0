from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from partner_sdk.wire import format_time, make_statement, sign_statement


def partner_statement(member, kind: str = "order.accepted", body: dict[str, Any] | None = None):
    """A statement signed by an external member's own key, as a partner bank would send it."""
    statement = make_statement(
        kind=kind,
        at=format_time(datetime.now(UTC)),
        signer=member.code,
        key_id=member.key_id,
        body=body or {"order_id": "ord_1", "amount": {"amount": "100.00", "currency": "MYR"}},
    )
    return statement, sign_statement(member.private_key, statement)
