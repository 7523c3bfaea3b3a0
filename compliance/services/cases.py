"""Alerts triage and cases: notes, evidence (encrypted like KYC documents), assignment,
deadlines, decisions. Every step writes the audit trail (opaque staff ids)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from compliance.models import Alert, AlertStatus, Case, CaseEvidence, CaseNote, CaseStatus
from compliance.services.staff import audit_record, staff_ref
from core.errors import Conflict, DomainError
from kyc.crypto import (
    decrypt,
    encrypt,
    new_data_key,
    new_ref,
    payload_bytes,
    unwrap_data_key,
    wrap_data_key,
)

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


def _reason(text: str, what: str) -> str:
    if not text or not text.strip():
        raise DomainError(f"a reason is required to {what}")
    return text.strip()[:500]


@transaction.atomic
def alert_dismiss(*, alert: Alert, user: AbstractBaseUser, reason: str) -> Alert:
    """A false positive: closed with the reason, kept."""
    reason = _reason(reason, "dismiss an alert")
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != AlertStatus.OPEN:
        raise Conflict(f"alert {alert.ref} is {alert.status}")
    actor = staff_ref(user)
    alert.status, alert.triage_reason, alert.triaged_by = AlertStatus.DISMISSED, reason, actor
    alert.save(update_fields=["status", "triage_reason", "triaged_by"])
    audit_record(actor=actor, action="alert.dismissed", object_type="alert", object_ref=alert.ref)
    return alert


@transaction.atomic
def alerts_escalate(
    *, alerts: Sequence[Alert], user: AbstractBaseUser, reason: str, case: Case | None = None
) -> Case:
    """Escalate open alerts into a case (a new one unless `case` is given); the case gathers
    their orders and customers."""
    reason = _reason(reason, "escalate")
    actor = staff_ref(user)
    rows = list(
        Alert.objects.select_for_update()
        .filter(pk__in=[a.pk for a in alerts], status=AlertStatus.OPEN)
        .order_by("pk")
    )
    if not rows:
        raise Conflict("no open alert among those chosen")
    if case is None:
        case = Case.objects.create(
            ref=new_ref("cas"),
            title=reason[:200],
            opened_by=actor,
        )
        audit_record(actor=actor, action="case.opened", object_type="case", object_ref=case.ref)
    orders = list(case.order_ids)
    refs = list(case.kyc_refs)
    for alert in rows:
        if alert.order_id and str(alert.order_id) not in orders:
            orders.append(str(alert.order_id))
        if alert.kyc_ref and alert.kyc_ref not in refs:
            refs.append(alert.kyc_ref)
    if alerts and rows:
        from remittance.models import RemittanceOrder

        for s, b in RemittanceOrder.objects.filter(pk__in=orders).values_list(
            "sender_kyc_ref", "beneficiary_kyc_ref"
        ):
            refs.extend(r for r in (s, b) if r not in refs)
    case.order_ids, case.kyc_refs = orders, refs
    case.save(update_fields=["order_ids", "kyc_refs", "updated_at"])
    Alert.objects.filter(pk__in=[a.pk for a in rows]).update(
        status=AlertStatus.ESCALATED, case=case, triaged_by=actor, triage_reason=reason
    )
    audit_record(
        actor=actor,
        action="alerts.escalated",
        object_type="case",
        object_ref=case.ref,
        detail={"alerts": [a.ref for a in rows]},
    )
    return case


@transaction.atomic
def case_note_add(*, case: Case, user: AbstractBaseUser, text: str) -> CaseNote:
    if not text or not text.strip():
        raise DomainError("write the note")
    actor = staff_ref(user)
    note = CaseNote.objects.create(case=case, author=actor, text=text.strip()[:10000])
    audit_record(actor=actor, action="case.note", object_type="case", object_ref=case.ref)
    return note


@transaction.atomic
def case_update(
    *,
    case: Case,
    user: AbstractBaseUser,
    assignee: AbstractBaseUser | None = None,
    deadline: date | None = None,
    status: str | None = None,
    decision: str = "",
) -> Case:
    """Assign, set a deadline, or decide (closing or reporting needs a decision text)."""
    actor = staff_ref(user)
    case = Case.objects.select_for_update().get(pk=case.pk)
    changed: dict[str, Any] = {}
    if assignee is not None and case.assignee_id != assignee.pk:
        case.assignee_id = assignee.pk
        changed["assignee"] = staff_ref(assignee)
    if deadline is not None and case.deadline != deadline:
        case.deadline = deadline
        changed["deadline"] = deadline.isoformat()
    if status and status != case.status:
        if status not in CaseStatus.values:
            raise DomainError(f"status: one of {', '.join(CaseStatus.values)}")
        if status in (CaseStatus.CLOSED, CaseStatus.REPORTED) and not decision.strip():
            raise DomainError("write the decision before closing or reporting the case")
        case.status = status
        changed["status"] = status
    if decision.strip():
        case.decision = decision.strip()[:500]
        changed["decision"] = True
    case.save()
    if changed:
        audit_record(
            actor=actor,
            action="case.updated",
            object_type="case",
            object_ref=case.ref,
            detail=changed,
        )
    return case


def _evidence_aad(case: Case, doc_ref: str) -> bytes:
    return f"remit-compliance/v1/evidence\n{case.ref}\n{doc_ref}".encode()


@transaction.atomic
def case_evidence_add(
    *, case: Case, user: AbstractBaseUser, filename: str, content_type: str, content: bytes
) -> CaseEvidence:
    """Attach a file, encrypted under its own data key (kyc.crypto), the KEK wrapping it."""
    if not content:
        raise DomainError("the file is empty")
    if len(content) > EVIDENCE_MAX_BYTES:
        raise DomainError("a file of at most 10 MB")
    doc_ref = new_ref("evd")
    data_key = new_data_key()
    plaintext = payload_bytes(
        {
            "filename": filename[:200],
            "content_type": content_type[:100],
            "content": base64.b64encode(content).decode(),
        }
    )
    actor = staff_ref(user)
    evidence = CaseEvidence.objects.create(
        case=case,
        doc_ref=doc_ref,
        size=len(content),
        wrapped_data_key=wrap_data_key(data_key, kyc_ref=doc_ref),
        ciphertext=encrypt(data_key, plaintext, aad=_evidence_aad(case, doc_ref)),
        added_by=actor,
    )
    audit_record(actor=actor, action="case.evidence", object_type="case", object_ref=case.ref)
    return evidence


@transaction.atomic
def case_evidence_read(*, evidence: CaseEvidence, user: AbstractBaseUser) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) — audited."""
    import json

    data_key = unwrap_data_key(bytes(evidence.wrapped_data_key), kyc_ref=evidence.doc_ref)
    plaintext = decrypt(
        data_key,
        bytes(evidence.ciphertext),
        aad=_evidence_aad(evidence.case, evidence.doc_ref),
        what=f"evidence {evidence.doc_ref}",
    )
    payload = json.loads(plaintext)
    audit_record(
        actor=staff_ref(user),
        action="case.evidence_read",
        object_type="evidence",
        object_ref=evidence.doc_ref,
    )
    return payload["filename"], payload["content_type"], base64.b64decode(payload["content"])
