"""KYC records: create (encrypted with their own data key), read with an access-log row, status moves, erasure (crypto-shredding), KEK re-wrap."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from institutions.models import Institution
from kyc import crypto
from kyc.errors import (
    IllegalStatusChange,
    KycValidationError,
    RecordErased,
)
from kyc.models import (
    KycAccessLog,
    KycDocument,
    KycRecord,
    KycStatusChange,
)
from kyc.services.screening import _screen
from kyc.services.vault import (
    TIERS,
    TRANSITIONS,
    Status,
    _aad,
    _data_key,
    _document_open,
    _locked,
    _payload_open,
    _status_move,
)
from kyc.validation import DocumentUpload, documents_clean, present_fields, record_data_clean
from ledger.services.log import statement_issue
from partner_sdk import kyc as sdk
from partner_sdk.wire import canonical_json

logger = logging.getLogger(__name__)


# --- records --------------------------------------------------------------------------------


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
    many keys were re-wrapped. (`manage.py keys rewrap` does this for every wrapped column.)"""
    from institutions.wrapped import wrapped_column_rewrap, wrapped_columns

    [column] = [c for c in wrapped_columns() if c.label == "KYC data keys"]
    return wrapped_column_rewrap(column, batch_size=batch_size)
