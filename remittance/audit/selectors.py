"""Reads of audit results: what the admin and `/readyz` show."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from remittance.audit.models import AuditRun


def audit_latest() -> AuditRun | None:
    return AuditRun.objects.order_by("-started_at", "-pk").first()


def audit_summary() -> dict[str, Any]:
    """The latest run in a few fields: `status` is `clean`, `breach`, `stale` (no run within
    three beat periods: is beat running?) or `never`."""
    run = audit_latest()
    if run is None:
        return {"status": "never"}
    stale_after = timedelta(seconds=3 * settings.AUDIT_INTERVAL_SECONDS)
    status = "breach" if not run.ok else "clean"
    if status == "clean" and timezone.now() - run.finished_at > stale_after:
        status = "stale"
    return {
        "status": status,
        "at": run.finished_at.isoformat().replace("+00:00", "Z"),
        "breaches": [
            {"invariant": b["invariant"], "ids": b["ids"][:10]} for b in run.breaches[:10]
        ],
        "log_size": run.log_size,
    }
