"""Screening of KYC records against the sanctions lists, hit decisions, list imports."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import objs_insert
from core.errors import DomainError, NotFound
from kyc.errors import (
    HitAlreadyDecided,
    KycValidationError,
)
from kyc.models import (
    KycAccessLog,
    KycRecord,
    ScreeningEntry,
    ScreeningHit,
    ScreeningImport,
)
from kyc.screening import PARSERS, ListFormatError, Matcher, parse_ofac_csv, person_names
from kyc.services.vault import (
    DEFAULT_SCREENING_THRESHOLD,
    Status,
    _locked,
    _payload_decrypt,
    _status_move,
)

logger = logging.getLogger(__name__)

# --- screening ------------------------------------------------------------------------------

_matcher_cache: dict[str, Any] = {"key": None, "matcher": None}


def screening_threshold() -> float:
    return float(getattr(settings, "KYC_SCREENING_THRESHOLD", DEFAULT_SCREENING_THRESHOLD))


def _matcher() -> Matcher:
    """The in-memory matcher of all active list names, rebuilt when a list is imported."""
    key = tuple(ScreeningImport.objects.order_by("pk").values_list("pk", "imported_at"))
    if _matcher_cache["key"] != key:
        names: list[tuple[int, str]] = []
        for pk, name, aliases, scripts in ScreeningEntry.objects.filter(active=True).values_list(
            "pk", "name", "aliases", "original_script_names"
        ):
            names.extend((pk, n) for n in [name, *aliases, *scripts])
        _matcher_cache.update(key=key, matcher=Matcher(names))
    return _matcher_cache["matcher"]


def _screen(
    *, record: KycRecord, data: dict[str, Any], context: str, matcher: Matcher | None = None
) -> list[ScreeningHit]:
    """Match a record's names; persist one hit per (record, entry); hold the record while a
    hit is open. Returns the hits that still block (open or confirmed)."""
    matches = (matcher if matcher is not None else _matcher()).match(
        person_names(data), threshold=screening_threshold()
    )
    blocking: list[ScreeningHit] = []
    for match in matches:
        hit, _ = ScreeningHit.objects.get_or_create(
            record=record,
            entry_id=match.entry_id,
            defaults={
                "score": Decimal(str(match.score)),
                "matched_entry_name": match.matched_name[:300],
                "context": context,
            },
        )
        if hit.status != ScreeningHit.Decision.CLEARED:
            blocking.append(hit)
    if any(h.status == ScreeningHit.Decision.OPEN for h in blocking) and not record.screening_hold:
        KycRecord.objects.filter(pk=record.pk).update(screening_hold=True)
        record.screening_hold = True
    return blocking


@dataclass(frozen=True)
class ScreeningResult:
    hold: bool
    hits: list[ScreeningHit] = field(default_factory=list)


@transaction.atomic
def screening_check_parties(*, kyc_refs: list[str]) -> ScreeningResult:
    """Screen an order's parties now (lists change after onboarding). `hold` is true when any
    party has an open or confirmed hit, is under a screening hold, or was rejected. Decrypts
    each record (access-log rows, actor `service:screening`)."""
    records = list(KycRecord.objects.select_related("owner").filter(kyc_ref__in=kyc_refs))
    found = {r.kyc_ref for r in records}
    unknown = [ref for ref in kyc_refs if ref not in found]
    if unknown:
        raise NotFound(f"no KYC record {unknown[0]}")
    results = screening_check_records(records=records)
    return ScreeningResult(
        hold=any(r.hold for r in results.values()),
        hits=[hit for r in results.values() for hit in r.hits],
    )


@transaction.atomic(savepoint=False)
def screening_check_records(
    *, records: Sequence[KycRecord], order_ref: str = ""
) -> dict[str, ScreeningResult]:
    """`screening_check_parties` for records already read (an order batch), by kyc_ref: one
    decryption per distinct record, one read of the list version, one INSERT of access-log
    rows. Hits are written only when a name matches."""
    unique = list({record.kyc_ref: record for record in records}.values())
    matcher = _matcher()
    payloads = [_payload_decrypt(record) for record in unique]
    objs_insert(
        [
            KycAccessLog(
                record=record,
                action=KycAccessLog.Action.DECRYPT,
                actor="service:screening",
                purpose="screening",
                order_ref=order_ref,
            )
            for record in unique
        ]
    )
    results: dict[str, ScreeningResult] = {}
    for record, payload in zip(unique, payloads, strict=True):
        blocking = _screen(record=record, data=payload["data"], context="order", matcher=matcher)
        hold = bool(blocking) or record.screening_hold or record.status == Status.REJECTED
        results[record.kyc_ref] = ScreeningResult(hold=hold, hits=blocking)
    return results


@transaction.atomic
def screening_hit_decide(
    *, hit: ScreeningHit, decision: str, reason: str, actor: str
) -> ScreeningHit:
    """Clear (a false positive) or confirm (a true match) an open hit, with a reason.

    Confirmed → the record is `rejected`. Cleared and no other open hit → the hold is lifted.
    Either way a status-change row records who decided what and why."""
    if decision not in (ScreeningHit.Decision.CLEARED, ScreeningHit.Decision.CONFIRMED):
        raise KycValidationError({"decision": ["choice: cleared or confirmed"]})
    if not reason or not reason.strip():
        raise KycValidationError({"reason": ["required: a decision needs a reason"]})
    hit = ScreeningHit.objects.select_for_update().select_related("entry").get(pk=hit.pk)
    if hit.status != ScreeningHit.Decision.OPEN:
        raise HitAlreadyDecided(f"hit {hit.pk} was already {hit.status}")
    record = _locked(hit.record)
    hit.status, hit.reason = decision, reason.strip()[:500]
    hit.decided_by, hit.decided_at = actor[:96], timezone.now()
    hit.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    still_open = ScreeningHit.objects.filter(
        record=record, status=ScreeningHit.Decision.OPEN
    ).exists()
    record.screening_hold = still_open
    note = f"screening hit {hit.pk} ({hit.entry.source}:{hit.entry.reference}) {decision}: "
    to_status = Status.REJECTED if decision == ScreeningHit.Decision.CONFIRMED else record.status
    _status_move(
        record=record,
        status=to_status,
        tier=record.tier,
        reason=note + hit.reason,
        actor=actor,
    )
    hit.record = record
    return hit


def screening_list_import(
    *, fmt: str, content: bytes, actor: str, alt_content: bytes | None = None
) -> ScreeningImport:
    """Import a UN consolidated XML (`un-xml`) or OFAC SDN CSV (`ofac-csv`, optional alt.csv)
    file; the source's earlier entries are deactivated (kept for the hits that cite them)."""
    if fmt not in PARSERS:
        raise KycValidationError({"format": ["choice: " + ", ".join(sorted(PARSERS))]})
    source, parser = PARSERS[fmt]
    try:
        parties = (
            list(parse_ofac_csv(content, alt_content))
            if fmt == "ofac-csv"
            else list(parser(content))  # type: ignore[call-arg]
        )
    except ListFormatError as exc:
        raise DomainError(f"not a valid {fmt} file: {exc}") from None
    digest = hashlib.sha256(content + (alt_content or b"")).hexdigest()
    with transaction.atomic():
        list_import = ScreeningImport.objects.create(
            source=source, file_sha256=digest, entries=len(parties), actor=actor[:96]
        )
        ScreeningEntry.objects.filter(source=source, active=True).update(active=False)
        ScreeningEntry.objects.bulk_create(
            (
                ScreeningEntry(
                    list_import=list_import,
                    source=source,
                    reference=p.reference[:64],
                    kind=p.kind[:16],
                    name=p.name[:300],
                    aliases=p.aliases,
                    original_script_names=p.original_script_names,
                    programs=p.programs[:200],
                    details=p.details,
                )
                for p in parties
            ),
            batch_size=2000,
        )
    logger.info("imported %s screening entries from %s (%s)", len(parties), fmt, digest[:12])
    return list_import
