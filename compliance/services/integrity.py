"""Recording `ledger verify` results for the dashboard (the audit trail keeps each one)."""

from __future__ import annotations

from compliance.models import AuditEvent
from compliance.services.staff import audit_record


def ledger_verify_record(*, actor: str) -> AuditEvent:
    """Recompute the log from its entries and record the verdict (ok, or where it failed)."""
    from ledger.integrity import log_verify
    from partner_sdk.verify import VerificationError

    try:
        report = log_verify()
    except VerificationError as exc:
        return audit_record(
            actor=actor,
            action="ledger.verified",
            object_type="ledger",
            object_ref="log",
            detail={"result": f"FAILED at {exc}", "entries": None},
        )
    return audit_record(
        actor=actor,
        action="ledger.verified",
        object_type="ledger",
        object_ref="log",
        detail={"result": "ok", "entries": report.entries, "root": report.root.hex()},
    )
