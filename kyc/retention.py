"""Retention of the KYC access log (docs/operations.md, Security → Retention).

Only `denied` rows are ever deleted: refused attempts to see a record, kept
KYC_DENIED_ACCESS_RETENTION_DAYS (365) for security review (a partner probing records it is not
party to shows up in them). `decrypt`, `share` and `erase` rows are who saw or removed whose
personal data: AML/CFT record keeping, at least five years after the transaction or the end of
the relationship under FATF Recommendation 11, longer where national law says so (Malaysia's
AMLA, Pakistan's AML Act; the MLRO confirms the period). They are never deleted, so any such
period is met; the database refuses it anyway (migration 0004 lets the append-only trigger
delete `denied` rows and nothing else).
"""

from __future__ import annotations

from django.conf import settings

from core.retention import retention_cutoff, rows_purge
from kyc.models import KycAccessLog


def kyc_denied_access_purge() -> int:
    """Delete `denied` access-log rows older than KYC_DENIED_ACCESS_RETENTION_DAYS; returns how
    many."""
    cutoff = retention_cutoff(
        days=settings.KYC_DENIED_ACCESS_RETENTION_DAYS, setting="KYC_DENIED_ACCESS_RETENTION_DAYS"
    )
    return rows_purge(KycAccessLog.objects.filter(action=KycAccessLog.Action.DENIED, at__lt=cutoff))
