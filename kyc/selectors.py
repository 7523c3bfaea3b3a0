"""Reads for KYC. None of them decrypts: decryption is a write (it logs) and lives in services."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from core.errors import NotFound
from kyc.models import KycAccessLog, KycRecord


def kyc_record_get(*, kyc_ref: str) -> KycRecord:
    record = KycRecord.objects.select_related("owner").filter(kyc_ref=kyc_ref).first()
    if record is None:
        raise NotFound(f"no KYC record {kyc_ref}")
    return record


def kyc_records_get(*, kyc_refs: Iterable[str], lock: bool = False) -> dict[str, KycRecord]:
    """The records with these refs, by ref, in one query (unknown refs are absent). `lock`:
    SELECT … FOR UPDATE in pk order (callers lock records in one consistent order)."""
    records = KycRecord.objects.select_related("owner").filter(kyc_ref__in=set(kyc_refs))
    if lock:
        records = records.select_for_update(of=("self",)).order_by("pk")
    return {record.kyc_ref: record for record in records}


def kyc_access_log(*, record: KycRecord) -> QuerySet[KycAccessLog]:
    return KycAccessLog.objects.filter(record=record).order_by("-at", "-pk")
