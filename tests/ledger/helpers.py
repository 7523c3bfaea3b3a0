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


def witnesses_catch_up(network) -> None:
    """What the external banks' witnesses do within seconds in production
    (partner_sdk/witness.py, run as real processes in tests/partner_sdk/test_witness.py): the
    queued statements are sequenced, and every member holding its own key checks the latest
    checkpoint's operator signature and cosigns it with that key through the hub's intake.
    Hosted members (the hub holds their keys) do not witness."""
    import time

    from ledger.selectors.log import checkpoint_latest, checkpoint_verifier
    from ledger.services.log import cosignature_add, ledger_integrate
    from partner_sdk.note import cosign, open_checkpoint

    ledger_integrate()
    checkpoint = checkpoint_latest()
    open_checkpoint(checkpoint.note, checkpoint_verifier())
    for member in network.members.values():
        if member.private_key is None:
            continue
        line = cosign(
            checkpoint.body,
            name=member.code,
            private_key=member.private_key,
            timestamp=int(time.time()),
        )
        cosignature_add(
            institution=member.institution,
            checkpoint_text=checkpoint.body,
            cosignature_line=line,
        )
