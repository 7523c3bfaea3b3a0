"""What every KYC service shares: the record's crypto (its data key under the KEK, the payload
and documents it seals) with the access-log row written on every decryption, and the status
machine. Nothing here logs, raises or signs a value from inside a record."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from core import events
from core.errors import DomainError
from kyc import crypto
from kyc.errors import (
    RecordErased,
)
from kyc.models import (
    KycAccessLog,
    KycDocument,
    KycGrant,
    KycRecord,
    KycStatusChange,
)

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


def _aad(record: KycRecord) -> bytes:
    return crypto.record_aad(
        kyc_ref=record.kyc_ref,
        owner=record.owner.code,
        role=record.role,
        present_fields=list(record.present_fields),
    )


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


def _document_open(document: KycDocument, data_key: bytes) -> tuple[dict[str, Any], bytes]:
    plaintext = crypto.decrypt(
        data_key,
        bytes(document.ciphertext),
        aad=crypto.document_aad(kyc_ref=document.record.kyc_ref, doc_ref=document.doc_ref),
        what=f"document {document.doc_ref}",
    )
    size = int.from_bytes(plaintext[:4], "big")
    return json.loads(plaintext[4 : 4 + size]), plaintext[4 + size :]


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
