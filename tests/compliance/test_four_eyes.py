"""Four eyes: one person proposes with a reason, a different person with the approving role
approves (which runs the decision), both recorded, the decision stated on the ledger with
opaque staff ids; proposals expire."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import AuditEvent, Proposal, StaffId
from compliance.services import four_eyes
from core.errors import Conflict
from ledger.models import Entry, QueuedStatement

pytestmark = pytest.mark.django_db


def statement(ref: int) -> dict:
    queued = QueuedStatement.objects.filter(pk=ref).first()
    if queued is not None:
        return json.loads(bytes(queued.statement))
    entry = Entry.objects.get(statement_ref=ref)
    return json.loads(bytes(entry.leaf))["statement"]


def propose_in_admin(client, order, action="propose_release", reason="name cleared by phone"):
    return client.post(
        "/admin/remittance/remittanceorder/",
        {"action": action, "_selected_action": [str(order.pk)], "reason": reason, "confirm": "1"},
    )


def decide(client, proposal, approve=True, note=""):
    data = {"note": note, ("approve" if approve else "reject"): "1"}
    return client.post(f"/admin/compliance/proposal/{proposal.pk}/decide/", data, follow=True)


def test_held_order_is_released_only_after_a_second_person_with_the_role_approves(
    held_order, staff
):
    officer, officer_client = staff("compliance_officer")
    _, other_officer = staff("compliance_officer")
    mlro, mlro_client = staff("mlro")
    from compliance.models import Alert

    alert = Alert.objects.get(order_id=held_order.pk)  # the hold is in the alerts queue too
    assert (alert.source, alert.action, alert.typology) == ("screening", "interdict", "sanctions")
    assert "un:" in alert.findings[0]["why"]

    form = officer_client.post(
        "/admin/remittance/remittanceorder/",
        {"action": "propose_release", "_selected_action": [str(held_order.pk)]},
    )
    assert b"Nothing happens until a second person" in form.content  # asks for a reason first
    assert not Proposal.objects.exists()
    propose_in_admin(officer_client, held_order)
    proposal = Proposal.objects.get()
    assert (proposal.status, proposal.target) == ("pending", str(held_order.pk))
    held_order.refresh_from_db()
    assert held_order.status == "held"

    own = decide(officer_client, proposal)
    assert b"You proposed this" in own.content
    assert b"A second person must approve: you proposed this" in own.content
    unauthorised = decide(other_officer, proposal)
    assert b"Your role cannot approve this decision" in unauthorised.content  # the page says so
    assert b"your role cannot approve this decision" in unauthorised.content.lower()
    proposal.refresh_from_db()
    held_order.refresh_from_db()
    assert proposal.status == "pending" and held_order.status == "held"

    page = mlro_client.get(f"/admin/compliance/proposal/{proposal.pk}/decide/")
    assert b"What approving will do" in page.content and b"100.00 MYR" in page.content
    done = decide(mlro_client, proposal, note="agreed")
    assert b"Approved" in done.content
    proposal.refresh_from_db()
    held_order.refresh_from_db()
    assert proposal.status == "approved" and proposal.decided_by_id == mlro.pk
    assert held_order.status == "submitted" and held_order.hold_reason == ""
    assert held_order.submitted_at > proposal.proposed_at  # the bank's clock starts now

    body = statement(proposal.statement_ref)
    assert body["kind"] == "compliance.decision" and body["signer"] == "HUB"
    staff_ids = dict(StaffId.objects.values_list("user__username", "ref"))
    assert body["body"]["proposed_by"] == staff_ids[officer.username]
    assert body["body"]["approved_by"] == staff_ids[mlro.username]
    assert body["body"]["decision"] == "order_release"
    text = json.dumps(body)
    assert officer.username not in text and mlro.username not in text
    assert "name cleared by phone" not in text  # the free-text reason stays in the hub
    change = held_order.history.get(to_status="submitted")
    assert change.actor == f"staff:{staff_ids[mlro.username]}"
    assert list(
        AuditEvent.objects.filter(object_ref=proposal.ref).values_list("action", flat=True)
    ) == ["proposal.approved", "proposal.created"]


def test_rejection_with_four_eyes_refunds_the_sender(held_order, staff):
    _, officer = staff("compliance_officer")
    _, mlro = staff("mlro")
    propose_in_admin(officer, held_order, action="propose_reject", reason="confirmed match")
    decide(mlro, Proposal.objects.get())
    held_order.refresh_from_db()
    assert held_order.status == "refunded" and held_order.reason_code == "compliance_rejected"


def test_a_proposal_expires(held_order, staff):
    officer, _ = staff("compliance_officer")
    mlro, _ = staff("mlro")
    proposal = four_eyes.proposal_create(
        kind="order_release", target=str(held_order.pk), reason="ok", proposer=officer
    )
    Proposal.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict, match="expired"):
        four_eyes.proposal_approve(proposal_id=proposal.pk, approver=mlro)
    held_order.refresh_from_db()
    assert held_order.status == "held"


def test_a_reason_is_required_and_one_proposal_at_a_time(held_order, staff):
    officer, client = staff("compliance_officer")
    page = propose_in_admin(client, held_order, reason="")
    assert b"This field is required" in page.content
    four_eyes.proposal_create(
        kind="order_release", target=str(held_order.pk), reason="ok", proposer=officer
    )
    with pytest.raises(Conflict, match="already waiting"):
        four_eyes.proposal_create(
            kind="order_release", target=str(held_order.pk), reason="again", proposer=officer
        )


def test_the_database_refuses_approval_by_the_proposer(held_order, staff):
    from django.db import IntegrityError, transaction

    officer, _ = staff("compliance_officer")
    proposal = four_eyes.proposal_create(
        kind="order_release", target=str(held_order.pk), reason="ok", proposer=officer
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.filter(pk=proposal.pk).update(decided_by=officer)


def test_kyc_above_tier_zero_needs_four_eyes(wallet_customer, staff):
    from kyc import services as kyc
    from kyc.models import KycRecord
    from tests.kyc.conftest import SENDER

    officer, _ = staff("compliance_officer")
    mlro, _ = staff("mlro")
    record = kyc.kyc_record_create(
        owner=wallet_customer.institution, role="sender", data=dict(SENDER)
    )
    proposal = four_eyes.proposal_create(
        kind="kyc_status",
        target=record.kyc_ref,
        reason="passport and selfie match",
        proposer=officer,
        params={"status": "verified", "tier": 2},
    )
    four_eyes.proposal_approve(proposal_id=proposal.pk, approver=mlro)
    record = KycRecord.objects.get(pk=record.pk)
    assert (record.status, record.tier) == ("verified", 2)
    assert record.status_changes.first().reason.startswith(proposal.ref)


def test_a_refused_decision_leaves_the_proposal_failed_and_nothing_moved(held_order, staff):
    officer, _ = staff("compliance_officer")
    mlro, _ = staff("mlro")
    proposal = four_eyes.proposal_create(
        kind="order_release", target=str(held_order.pk), reason="ok", proposer=officer
    )
    from remittance.services.orders import order_hold_decide

    order_hold_decide(order_id=held_order.pk, release=False, actor="staff:x", reason="meanwhile")
    with pytest.raises(Conflict, match="not held"):
        four_eyes.proposal_approve(proposal_id=proposal.pk, approver=mlro)
    proposal.refresh_from_db()
    assert proposal.status == "failed" and "not held" in proposal.outcome
    assert proposal.statement_ref is None  # nothing stated on the ledger
