"""Run the invariant audit in one consistent snapshot and record it (`AuditRun`).

Who may call: the beat task (`remittance.audit.tasks.audit_invariants`), `manage.py audit`,
tests. Never inside another transaction in production: on PostgreSQL the checks run in one
REPEATABLE READ, READ ONLY transaction, so orders, transfers, balances, windows and the log
are all read as of one moment — a busy hub cannot make the auditor see half of a commit and
cry wolf. (Inside an outer transaction — a test — they share that transaction's view.)

Any breach is an alert: logged at ERROR with its ids (`remittance.audit` logger), emitted as
`audit.breach` (core.events) for whoever listens, kept on the run (admin, `/readyz` detail).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from core import events
from ledger.integrity import VerifiedHead
from remittance.audit import invariants
from remittance.audit.models import AuditRun

logger = logging.getLogger("remittance.audit")


@contextmanager
def _snapshot() -> Iterator[None]:
    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _resume_head() -> VerifiedHead | None:
    """Where the log was last verified: the latest run's head (a failed log check keeps the
    head before it, so the failure is found again until someone repairs the log)."""
    last = AuditRun.objects.filter(log_size__gt=0).order_by("-started_at", "-pk").first()
    if last is None:
        return None
    frontier = bytes(last.log_frontier)
    return VerifiedHead(
        last.log_size, tuple(frontier[i : i + 32] for i in range(0, len(frontier), 32))
    )


def audit_run(*, trigger: str = "beat", full_log: bool = False) -> AuditRun:
    """Check every invariant (`invariants.CHECKS` and the log) and store the result.

    `full_log`: verify the log from seq 0 instead of from the last audited size."""
    started = timezone.now()
    clock = time.monotonic()
    since = None if full_log else _resume_head()
    breaches: list[invariants.Breach] = []
    timings: dict[str, float] = {}
    with _snapshot():
        for name, check in invariants.CHECKS.items():
            t0 = time.monotonic()
            if name == "pending_past_deadline":
                breaches += check(now=started)
            else:
                breaches += check()
            timings[name] = round(time.monotonic() - t0, 3)
        t0 = time.monotonic()
        log = invariants.log_verifies(since=since)
        timings["log_verifies"] = round(time.monotonic() - t0, 3)
        breaches += log.breaches
    head = log.head
    run = AuditRun.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        ok=not breaches,
        breaches=[b.as_dict() for b in breaches],
        counts={"seconds": round(time.monotonic() - clock, 3), "checks": timings},
        log_size=head.size if head else 0,
        log_frontier=b"".join(head.frontier) if head else b"",
        log_checked_from=log.checked_from,
        trigger=trigger[:16],
    )
    for breach in breaches:
        logger.error(
            "audit breach %s: %s; ids: %s", breach.invariant, breach.detail, ", ".join(breach.ids)
        )
    if breaches:
        events.emit("audit.breach", run_id=run.pk, breaches=run.breaches)
    return run
