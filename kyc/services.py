"""Writes for KYC by reference (DESIGN.md §5, docs/compliance.md).

Who may call what:
- onboarding / the wallet UI / the order flow: `kyc_record_create`, `kyc_link_parties`,
  `travel_rule_missing`, `screening_check_parties`, `tier_limits`;
- the partner API: `kyc_access_request`;
- compliance staff (admin) and operators (management commands): `kyc_record_read`,
  `kyc_record_status_set`, `screening_hit_decide`, `kyc_record_erase`, `kek_rewrap_all`,
  `screening_list_import`.

Every decryption goes through `_payload_open`, which writes the access-log row in the same
transaction as the read; nothing here logs, raises or signs a value from inside a record.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import events
from core.db import objs_insert
from core.errors import DomainError, NotFound
from core.money import Money
from institutions.crypto import keyring
from institutions.models import Corridor, Institution
from kyc import crypto
from kyc.errors import (
    ForeignRecord,
    HitAlreadyDecided,
    IllegalStatusChange,
    KycValidationError,
    NoSealingKey,
    RecordErased,
)
from kyc.models import (
    KycAccessLog,
    KycDocument,
    KycGrant,
    KycOrderLink,
    KycRecord,
    KycStatusChange,
    ScreeningEntry,
    ScreeningHit,
    ScreeningImport,
)
from kyc.screening import PARSERS, ListFormatError, Matcher, parse_ofac_csv, person_names
from kyc.validation import DocumentUpload, documents_clean, present_fields, record_data_clean
from ledger.services.log import statement_issue
from partner_sdk import kyc as sdk
from partner_sdk.wire import canonical_json

logger = logging.getLogger(__name__)

Status = KycRecord.Status
PURPOSES = frozenset(KycGrant.Purpose.values)
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.VERIFIED, Status.NEEDS_INFO, Status.REJECTED}),
    Status.NEEDS_INFO: frozenset({Status.PENDING, Status.VERIFIED, Status.REJECTED}),
    Status.VERIFIED: frozenset({Status.VERIFIED, Status.NEEDS_INFO, Status.REJECTED}),
    Status.REJECTED: frozenset({Status.PENDING}),
}
TIERS = (1, 2, 3)

# Defaults, overridable in settings; sources and reasoning in docs/compliance.md.
DEFAULT_TRAVEL_RULE_THRESHOLD_USD = Decimal("1000")
DEFAULT_SCREENING_THRESHOLD = 88
# --- records --------------------------------------------------------------------------------


def _aad(record: KycRecord) -> bytes:
    return crypto.record_aad(
        kyc_ref=record.kyc_ref,
        owner=record.owner.code,
        role=record.role,
        present_fields=list(record.present_fields),
    )


def _document_plaintext(doc: DocumentUpload, doc_ref: str) -> tuple[bytes, dict[str, Any]]:
    meta = {
        "doc_ref": doc_ref,
        "kind": doc.kind,
        "content_type": doc.content_type,
        "filename": doc.filename[:100],
        "sha256": hashlib.sha256(doc.content).hexdigest(),
    }
    header = canonical_json(meta)
    return len(header).to_bytes(4, "big") + header + bytes(doc.content), meta


@transaction.atomic
def kyc_record_create(
    *,
    owner: Institution,
    role: str,
    data: dict[str, Any],
    documents: Sequence[DocumentUpload] = (),
) -> KycRecord:
    """Validate, encrypt and screen a new record (status `pending`, tier 1).

    A screening match at or above `KYC_SCREENING_THRESHOLD` records a hit and sets
    `screening_hold`; the record cannot be verified until compliance decides the hit."""
    clean = record_data_clean(role=role, data=data)
    uploads = documents_clean(documents)
    kyc_ref = crypto.new_ref("kyc")
    data_key = crypto.new_data_key()
    salt = os.urandom(32)
    encrypted_docs: list[tuple[str, int, bytes]] = []
    metas: list[dict[str, Any]] = []
    for upload in uploads:
        doc_ref = crypto.new_ref("doc")
        plaintext, meta = _document_plaintext(upload, doc_ref)
        blob = crypto.encrypt(
            data_key, plaintext, aad=crypto.document_aad(kyc_ref=kyc_ref, doc_ref=doc_ref)
        )
        encrypted_docs.append((doc_ref, len(upload.content), blob))
        metas.append(meta)
    record = KycRecord(
        kyc_ref=kyc_ref,
        owner=owner,
        role=role,
        present_fields=present_fields(clean),
        commitment=sdk.commitment(salt, clean),
        wrapped_data_key=crypto.wrap_data_key(data_key, kyc_ref=kyc_ref),
    )
    payload = {
        "v": 1,
        "kyc_ref": kyc_ref,
        "role": role,
        "salt": base64.b64encode(salt).decode(),
        "data": clean,
        "documents": metas,
    }
    record.ciphertext = crypto.encrypt(data_key, crypto.payload_bytes(payload), aad=_aad(record))
    record.save()
    KycDocument.objects.bulk_create(
        KycDocument(record=record, doc_ref=ref, size=size, ciphertext=blob)
        for ref, size, blob in encrypted_docs
    )
    _screen(record=record, data=clean, context="record_create")
    return record


def _data_key(record: KycRecord) -> bytes:
    if record.is_erased or record.wrapped_data_key is None:
        raise RecordErased(f"{record.kyc_ref} was erased; its data can no longer be read")
    return crypto.unwrap_data_key(bytes(record.wrapped_data_key), kyc_ref=record.kyc_ref)


def _payload_decrypt(record: KycRecord) -> dict[str, Any]:
    """The record's payload. Callers write the access-log row in the same transaction."""
    plaintext = crypto.decrypt(
        _data_key(record),
        bytes(record.ciphertext),
        aad=_aad(record),
        what=f"record {record.kyc_ref}",
    )
    payload = json.loads(plaintext)
    if payload.get("kyc_ref") != record.kyc_ref:
        raise crypto.KycIntegrityError(f"record {record.kyc_ref} holds another record's payload")
    return payload


def _payload_open(
    *,
    record: KycRecord,
    actor: str,
    purpose: str,
    action: str = KycAccessLog.Action.DECRYPT,
    order_ref: str = "",
) -> dict[str, Any]:
    """Decrypt a record and write its access-log row (same transaction as the caller)."""
    if not actor or not purpose:
        raise DomainError("a decryption needs an actor and a purpose")
    payload = _payload_decrypt(record)
    KycAccessLog.objects.create(
        record=record, action=action, actor=actor[:96], purpose=purpose[:64], order_ref=order_ref
    )
    return payload


@transaction.atomic
def kyc_record_read(*, record: KycRecord, actor: str, purpose: str) -> dict[str, Any]:
    """Decrypt a record for `actor` ("service:order_submit", "staff:alice", "institution:X")
    and `purpose`; always writes an access-log row. Raises RecordErased after erasure and
    KycIntegrityError if the ciphertext or anything bound to it was altered.

    Returns `{"kyc_ref", "role", "status", "tier", "commitment", "data", "documents"}` where
    documents are metadata only (see `kyc_document_read`)."""
    payload = _payload_open(record=record, actor=actor, purpose=purpose)
    return {
        "kyc_ref": record.kyc_ref,
        "role": record.role,
        "status": record.status,
        "tier": record.tier,
        "commitment": record.commitment,
        "data": payload["data"],
        "documents": payload["documents"],
    }


def _document_open(document: KycDocument, data_key: bytes) -> tuple[dict[str, Any], bytes]:
    plaintext = crypto.decrypt(
        data_key,
        bytes(document.ciphertext),
        aad=crypto.document_aad(kyc_ref=document.record.kyc_ref, doc_ref=document.doc_ref),
        what=f"document {document.doc_ref}",
    )
    size = int.from_bytes(plaintext[:4], "big")
    return json.loads(plaintext[4 : 4 + size]), plaintext[4 + size :]


@transaction.atomic
def kyc_document_read(
    *, document: KycDocument, actor: str, purpose: str
) -> tuple[dict[str, Any], bytes]:
    """Decrypt an uploaded image: (metadata, bytes). Writes an access-log row."""
    record = document.record
    if not actor or not purpose:
        raise DomainError("a decryption needs an actor and a purpose")
    meta, content = _document_open(document, _data_key(record))
    KycAccessLog.objects.create(
        record=record,
        action=KycAccessLog.Action.DECRYPT,
        actor=actor[:96],
        purpose=f"{purpose[:30]} ({document.doc_ref})",
    )
    return meta, content


def _status_move(
    *, record: KycRecord, status: str, tier: int, reason: str, actor: str
) -> KycRecord:
    change = KycStatusChange.objects.create(
        record=record,
        from_status=record.status,
        to_status=status,
        from_tier=record.tier,
        to_tier=tier,
        reason=reason[:500],
        actor=actor[:96],
    )
    record.status, record.tier = status, tier
    record.save(update_fields=["status", "tier", "screening_hold", "updated_at"])
    # for higher apps (the wallet tells its customer); listeners defer their work to commit
    events.emit("kyc.status_changed", kyc_ref=record.kyc_ref, status=status, change_id=change.pk)
    return record


def _locked(record: KycRecord) -> KycRecord:
    return (
        KycRecord.objects.select_for_update(of=("self",)).select_related("owner").get(pk=record.pk)
    )


@transaction.atomic
def kyc_record_status_set(
    *, record: KycRecord, status: str, reason: str, actor: str, tier: int | None = None
) -> KycRecord:
    """Move a record along the SEP-12 statuses (TRANSITIONS) with a reason; writes a
    status-change row. A record under a screening hold cannot become `verified`."""
    if not reason or not reason.strip():
        raise KycValidationError({"reason": ["required: a status change needs a reason"]})
    if tier is not None and tier not in TIERS:
        raise KycValidationError({"tier": [f"choice: one of {', '.join(map(str, TIERS))}"]})
    record = _locked(record)
    if record.is_erased:
        raise RecordErased(f"{record.kyc_ref} was erased")
    if status not in TRANSITIONS.get(record.status, frozenset()):
        raise IllegalStatusChange(f"{record.status} → {status} is not allowed")
    if status == Status.VERIFIED and record.screening_hold:
        raise IllegalStatusChange("decide the open screening hits before verifying")
    return _status_move(
        record=record,
        status=status,
        tier=record.tier if tier is None else tier,
        reason=reason.strip(),
        actor=actor,
    )


@transaction.atomic
def kyc_record_erase(*, record: KycRecord, reason: str, actor: str) -> KycRecord:
    """Crypto-shredding: destroy the wrapped data key. The ciphertext stays and is useless;
    the commitment stays but its salt was inside the ciphertext, so it can no longer be tested
    against guesses. An operator-signed `kyc.erased` statement (kyc_ref only) tells partners
    to erase their sealed copies. Idempotent."""
    if not reason or not reason.strip():
        raise KycValidationError({"reason": ["required: an erasure needs a reason"]})
    record = _locked(record)
    if record.is_erased:
        return record
    KycStatusChange.objects.create(
        record=record,
        from_status=record.status,
        to_status=record.status,
        from_tier=record.tier,
        to_tier=record.tier,
        reason=f"erased: {reason.strip()}"[:500],
        actor=actor[:96],
    )
    KycAccessLog.objects.create(
        record=record, action=KycAccessLog.Action.ERASE, actor=actor[:96], purpose="erasure"
    )
    record.wrapped_data_key = None
    record.erased_at = timezone.now()
    record.save(update_fields=["wrapped_data_key", "erased_at", "updated_at"])
    statement_issue(
        institution=settings.LEDGER_OPERATOR_CODE,
        kind="kyc.erased",
        body={"kyc_ref": record.kyc_ref},
        subject=record.kyc_ref,
    )
    return record


def kek_rewrap_all(*, batch_size: int = 500) -> int:
    """Re-wrap every live data key under the current KEK; ciphertext is not touched. Each
    batch is its own transaction, so a long run can be interrupted and resumed. Returns how
    many keys were re-wrapped."""
    ring = keyring()
    done = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                KycRecord.objects.select_for_update()
                .filter(pk__gt=last_pk, wrapped_data_key__isnull=False)
                .order_by("pk")
                .only("pk", "kyc_ref", "wrapped_data_key")[:batch_size]
            )
            if not batch:
                return done
            changed = []
            for record in batch:
                blob = bytes(record.wrapped_data_key or b"")
                if ring.kid_of(blob) != ring.current_kid:
                    key = crypto.unwrap_data_key(blob, kyc_ref=record.kyc_ref)
                    record.wrapped_data_key = crypto.wrap_data_key(key, kyc_ref=record.kyc_ref)
                    changed.append(record)
            KycRecord.objects.bulk_update(changed, ["wrapped_data_key"])
            done += len(changed)
            last_pk = batch[-1].pk


# --- sharing --------------------------------------------------------------------------------


def kyc_link_parties(*, kyc_ref: str, order_ref: str, institutions: list[Institution]) -> None:
    """Called when an order is submitted: these institutions may later ask for this record,
    for this order. Idempotent."""
    record = KycRecord.objects.filter(kyc_ref=kyc_ref).first()
    if record is None:
        raise NotFound(f"no KYC record {kyc_ref}")
    kyc_links_create(links=[(record, order_ref, institutions)])


def kyc_links_create(*, links: Sequence[tuple[KycRecord, str, Sequence[Institution]]]) -> None:
    """`kyc_link_parties` for many (record, order ref, institutions), in one INSERT.

    A record is linked only to an order its owner is party to: the owner is always among the
    institutions (it is the one naming its customer's record in its order). A link list
    without the owner is a caller's bug that would open someone else's customer to strangers,
    so it raises before anything is written."""
    for record, _, institutions in links:
        if record.owner_id not in {institution.pk for institution in institutions}:
            raise ForeignRecord(
                f"{record.kyc_ref} may be named only in orders of the institution that owns it"
            )
    objs_insert(
        [
            KycOrderLink(record=record, order_ref=order_ref, institution=institution)
            for record, order_ref, institutions in links
            for institution in dict.fromkeys(institutions)
        ],
        ignore_conflicts=True,
    )


@dataclass(frozen=True)
class SealedRecord:
    grant_id: str
    envelope: dict[str, Any]  # partner_sdk.kyc envelope: format, suite, header, enc, ciphertext


def _purpose_check(purpose: Any, order_ref: Any) -> None:
    errors: dict[str, list[str]] = {}
    if not purpose:
        errors["purpose"] = ["required: state why the record is needed"]
    elif purpose not in PURPOSES:
        errors["purpose"] = ["choice: one of " + ", ".join(sorted(PURPOSES))]
    if not order_ref or not isinstance(order_ref, str) or len(order_ref) > 64:
        errors["order_ref"] = ["required: the order the record is needed for"]
    if errors:
        raise KycValidationError(errors)


def kyc_access_request(
    *, institution: Institution, kyc_ref: str, purpose: str, order_ref: str
) -> SealedRecord:
    """Share a record with an institution party to the order, sealed to its X25519 key.

    Not party to that order (or no such record) → NotFound, indistinguishably; the refused
    attempt on an existing record is still logged. Missing/unknown purpose → 400. Allowed →
    a grant, an access-log row and a `kyc.shared` statement (refs only), all in one
    transaction with the sealing."""
    _purpose_check(purpose, order_ref)
    actor = f"institution:{institution.code}"
    with transaction.atomic():
        record = KycRecord.objects.select_related("owner").filter(kyc_ref=kyc_ref).first()
        # access follows from ownership and the order's parties: the requester is party to an
        # order in which the record's *owner* named it (a link the requester made by naming
        # someone else's record in its own order grants nothing)
        party = record is not None and {record.owner_id, institution.pk} <= set(
            KycOrderLink.objects.filter(
                record=record,
                order_ref=order_ref,
                institution_id__in=(record.owner_id, institution.pk),
            ).values_list("institution_id", flat=True)
        )
        if record is not None and not party:
            KycAccessLog.objects.create(
                record=record,
                action=KycAccessLog.Action.DENIED,
                actor=actor,
                purpose=purpose,
                order_ref=order_ref,
            )
    if record is None or not party:
        raise NotFound("no such KYC record for this order")
    return _share(record=record, institution=institution, purpose=purpose, order_ref=order_ref)


@transaction.atomic
def _share(
    *, record: KycRecord, institution: Institution, purpose: str, order_ref: str
) -> SealedRecord:
    if record.is_erased:
        raise RecordErased(f"{record.kyc_ref} was erased")
    if not institution.x25519_public_key:
        raise NoSealingKey(f"{institution.code} has not registered an X25519 public key")
    grant = KycGrant.objects.create(
        grant_id=crypto.new_ref("grant"),
        record=record,
        institution=institution,
        purpose=purpose,
        order_ref=order_ref,
    )
    payload = _payload_open(
        record=record,
        actor=f"institution:{institution.code}",
        purpose=purpose,
        action=KycAccessLog.Action.SHARE,
        order_ref=order_ref,
    )
    key = _data_key(record)
    documents = []
    for document in record.documents.order_by("pk"):
        meta, content = _document_open(document, key)
        documents.append(dict(meta, content=base64.b64encode(content).decode()))
    # what the grant is, by reference only: in the sealed envelope's header and on the log
    grant_facts = {
        "kyc_ref": record.kyc_ref,
        "commitment": record.commitment,
        "grantee": institution.code,
        "purpose": purpose,
        "order_ref": order_ref,
        "grant_id": grant.grant_id,
    }
    header = {**grant_facts, "sealed_at": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    envelope = crypto.seal(
        public_key=bytes(institution.x25519_public_key),
        header=header,
        payload={
            "kyc_ref": record.kyc_ref,
            "role": record.role,
            "salt": payload["salt"],
            "data": payload["data"],
            "documents": documents,
        },
    )
    statement_issue(
        institution=settings.LEDGER_OPERATOR_CODE,
        kind="kyc.shared",
        body=grant_facts,
        subject=record.kyc_ref,
    )
    return SealedRecord(grant_id=grant.grant_id, envelope=envelope)


# --- travel rule and limits -----------------------------------------------------------------


def travel_rule_missing(
    *,
    originator_ref: str,
    beneficiary_ref: str,
    amount: Money,
    usd_rate: Decimal | None,
    records: Mapping[str, KycRecord] | None = None,
) -> list[str]:
    """FATF Recommendation 16 (docs/compliance.md): what is missing for this transfer; empty
    means the order may proceed. `usd_rate` is USD per one unit of `amount.currency`; without
    it a non-USD amount is treated as at/above the threshold (we never guess down).

    Always: originator name, address and date of birth (June 2025 revision: every sender);
    beneficiary name and account. At/above `KYC_TRAVEL_RULE_THRESHOLD_USD`: also the
    originator's account or customer reference, and address or ID number or date and place
    of birth. Reads only which fields are present (no decryption); `records` (by ref) saves
    the read when the caller has them."""
    threshold = Decimal(
        str(getattr(settings, "KYC_TRAVEL_RULE_THRESHOLD_USD", DEFAULT_TRAVEL_RULE_THRESHOLD_USD))
    )
    if amount.currency == "USD":
        usd: Decimal | None = amount.amount
    else:
        usd = None if usd_rate is None else amount.amount * Decimal(usd_rate)
    above = usd is None or usd >= threshold
    if records is None:  # else the caller read them already (an order batch)
        records = {
            r.kyc_ref: r
            for r in KycRecord.objects.filter(kyc_ref__in=[originator_ref, beneficiary_ref])
        }
    missing: list[str] = []

    def present(side: str, ref: str, role: str) -> set[str] | None:
        record = records.get(ref)
        if record is None or record.is_erased:
            missing.append(f"{side}.record")
            return None
        if record.role != role:
            missing.append(f"{side}.role")
        return set(record.present_fields)

    originator = present("originator", originator_ref, KycRecord.Role.SENDER)
    if originator is not None:
        for name in ("name", "address", "date_of_birth"):
            if name not in originator:
                missing.append(f"originator.{name}")
        if above:
            if not originator & {"account", "reference"}:
                missing.append("originator.account_or_reference")
            if not (
                originator & {"address", "id_document"}
                or {"date_of_birth", "place_of_birth"} <= originator
            ):
                missing.append("originator.address_or_id_or_birth")
    beneficiary = present("beneficiary", beneficiary_ref, KycRecord.Role.BENEFICIARY)
    if beneficiary is not None:
        for name in ("name", "account"):
            if name not in beneficiary:
                missing.append(f"beneficiary.{name}")
    return missing


@dataclass(frozen=True)
class Limits:
    per_transaction: Money
    daily: Money
    monthly: Money


def tier_limits(*, record: KycRecord, corridor_code: str) -> Limits:
    """Sending limits for a record on a corridor, in the corridor's source currency, from
    `KYC_TIER_LIMITS`. A record that is not `verified` (or is held, or erased) may send
    nothing: all three limits are zero."""
    config = cast(dict[str, Any], settings.KYC_TIER_LIMITS).get(corridor_code)
    if config is None:
        corridor = Corridor.objects.filter(code=corridor_code).first()
        raise NotFound(
            f"no KYC limits configured for corridor {corridor_code}"
            if corridor
            else f"no corridor {corridor_code}"
        )
    currency = config["currency"]
    tier = config["tiers"].get(str(record.tier))
    usable = record.status == Status.VERIFIED and not record.screening_hold and not record.is_erased
    if tier is None or not usable:
        zero = Money.zero(currency)
        return Limits(zero, zero, zero)
    return Limits(
        per_transaction=Money.parse(tier["per_transaction"], currency),
        daily=Money.parse(tier["daily"], currency),
        monthly=Money.parse(tier["monthly"], currency),
    )


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


__all__ = [
    "Limits",
    "ScreeningResult",
    "SealedRecord",
    "kek_rewrap_all",
    "kyc_access_request",
    "kyc_document_read",
    "kyc_link_parties",
    "kyc_record_create",
    "kyc_record_erase",
    "kyc_record_read",
    "kyc_record_status_set",
    "screening_check_parties",
    "screening_hit_decide",
    "screening_list_import",
    "tier_limits",
    "travel_rule_missing",
]
