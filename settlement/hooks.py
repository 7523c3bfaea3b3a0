"""What settlement does when a lower app (the ledger) says something happened. Connected in
`SettlementConfig.ready`. (The orders app, above settlement, calls settlement directly.)"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core import events


def on_ledger_integrated(*, first_seq: int, last_seq: int, **_: Any) -> None:
    """After a log batch committed: reconcile what it touched, in a worker."""
    from settlement.tasks import reconcile_entries

    transaction.on_commit(lambda: reconcile_entries.delay(first_seq, last_seq), robust=True)


def connect() -> None:
    events.subscribe("ledger.integrated", on_ledger_integrated)
