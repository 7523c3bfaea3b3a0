"""Sharing by reference: which institutions may ask for a record (links made when its owner names it in an order) and the sealed share itself."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import objs_insert
from core.errors import NotFound
from institutions.models import Institution
from kyc import crypto
from kyc.errors import (
    ForeignRecord,
    KycValidationError,
    NoSealingKey,
    RecordErased,
)
from kyc.models import (
    KycAccessLog,
    KycGrant,
    KycOrderLink,
    KycRecord,
)
from kyc.services.vault import (
    PURPOSES,
    _data_key,
    _document_open,
    _payload_open,
)
from ledger.services.log import statement_issue

logger = logging.getLogger(__name__)

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
