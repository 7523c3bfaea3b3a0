"""Alerts → case → report: triage with reasons, a case gathering alerts, orders and
customers, notes and encrypted evidence, the goAML report validated against the vendored
schema, the PDF summary; and a sanctions list loaded with four eyes, then every customer
re-screened with hits in the alerts queue."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from compliance.models import Alert, AuditEvent, Case, CaseEvidence, Proposal, RescreenRun
from compliance.services import four_eyes
from kyc.models import KycAccessLog, ScreeningImport
from tests.kyc.conftest import SAMPLES

from .conftest import LISTED, beneficiary, send

pytestmark = pytest.mark.django_db


def monitoring_alert(order) -> Alert:
    return Alert.objects.create(
        ref=f"alr_{order.pk.hex[:26]}",
        source="monitoring",
        action="review",
        order_id=order.pk,
        kyc_ref=order.sender_kyc_ref,
        typology="structuring",
        score=60,
        amount_minor=order.send_minor,
        currency=order.send_currency,
        findings=[
            {
                "rule": "structuring-3000-day",
                "version": 1,
                "typology": "structuring",
                "score": 60,
                "why": "2 transfers within 10% under 3,000.00 MYR in a day",
            }
        ],
    )


def test_alert_to_case_to_report(wallet_customer, staff):
    officer, officer_client = staff("compliance_officer")
    _, mlro_client = staff("mlro")
    order = send(wallet_customer, beneficiary(wallet_customer.institution), "290.00")
    alert = monitoring_alert(order)
    spare = monitoring_alert(send(wallet_customer, beneficiary(wallet_customer.institution)))

    dismissed = officer_client.post(
        "/admin/compliance/alert/",
        {"action": "dismiss", "_selected_action": [spare.pk], "reason": "", "confirm": "1"},
    )
    assert b"This field is required" in dismissed.content  # no dismissal without a reason
    officer_client.post(
        "/admin/compliance/alert/",
        {"action": "dismiss", "_selected_action": [spare.pk], "reason": "salary", "confirm": "1"},
    )
    spare.refresh_from_db()
    assert (spare.status, spare.triage_reason) == ("dismissed", "salary")

    escalated = officer_client.post(
        "/admin/compliance/alert/",
        {
            "action": "escalate",
            "_selected_action": [alert.pk],
            "reason": "structuring",
            "confirm": "1",
        },
    )
    case = Case.objects.get()
    assert escalated.url == f"/admin/compliance/case/{case.pk}/work/"
    assert case.order_ids == [str(order.pk)]
    assert set(case.kyc_refs) == {order.sender_kyc_ref, order.beneficiary_kyc_ref}
    page = officer_client.get(escalated.url)
    assert b"290.00 MYR" in page.content

    officer_client.post(escalated.url, {"what": "note", "note-text": "called the customer"})
    secret = b"bank statement: salary from employer"
    from django.core.files.uploadedfile import SimpleUploadedFile

    officer_client.post(
        escalated.url,
        {"what": "evidence", "evidence-file": SimpleUploadedFile("stmt.txt", secret)},
    )
    evidence = CaseEvidence.objects.get()
    assert secret not in bytes(evidence.ciphertext)  # encrypted at rest
    download = officer_client.get(f"/admin/compliance/case/{case.pk}/evidence/{evidence.pk}/")
    assert download.content == secret

    # officers work cases; the MLRO files the report
    assert officer_client.get(f"/admin/compliance/case/{case.pk}/goaml.xml").status_code == 403
    report = mlro_client.get(f"/admin/compliance/case/{case.pk}/goaml.xml")
    assert report.status_code == 200 and report["X-Goaml-Valid"] == "true"
    root = ET.fromstring(report.content)
    assert root.findtext("report_code") == "STR" and root.findtext("entity_reference") == case.ref
    assert root.findtext("transaction/transactionnumber") == str(order.pk)
    assert root.findtext("transaction/amount_local") == "290.00"
    assert root.findtext("transaction/t_from/from_person/last_name") == "Chaudhry"
    assert root.findtext("report_indicators/indicator") == "STRUC"
    assert KycAccessLog.objects.filter(purpose=f"str:{case.ref}").count() == 2  # audited
    pdf = officer_client.get(f"/admin/compliance/case/{case.pk}/summary.pdf")
    assert pdf.content.startswith(b"%PDF")

    closing = officer_client.post(
        escalated.url,
        {"what": "work", "work-status": "reported", "work-decision": ""},
        follow=True,
    )
    assert b"write the decision" in closing.content.lower()
    officer_client.post(
        escalated.url,
        {
            "what": "work",
            "work-status": "reported",
            "work-decision": "STR filed",
            "work-assignee": officer.pk,
        },
    )
    case.refresh_from_db()
    assert (case.status, case.decision, case.assignee_id) == ("reported", "STR filed", officer.pk)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "alert.dismissed",
        "alerts.escalated",
        "case.note",
        "case.evidence",
        "case.evidence_read",
        "case.goaml_exported",
        "case.updated",
    } <= actions


def test_a_sanctions_list_loads_with_four_eyes_and_every_customer_is_rescreened(
    wallet_customer, staff, django_capture_on_commit_callbacks
):
    listed_ref = beneficiary(wallet_customer.institution, LISTED)  # no list yet: no hit
    assert not Alert.objects.exists()
    _, officer_client = staff("compliance_officer")
    _, mlro_client = staff("mlro")
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = (SAMPLES / "un_consolidated.xml").read_bytes()
    bad = officer_client.post(
        "/admin/compliance/proposal/upload-list/",
        {"format": "un-xml", "reason": "monthly", "file": SimpleUploadedFile("x.xml", b"<nope/>")},
    )
    assert b"not a valid un-xml file" in bad.content or b"lists nobody" in bad.content
    officer_client.post(
        "/admin/compliance/proposal/upload-list/",
        {
            "format": "un-xml",
            "reason": "monthly update",
            "file": SimpleUploadedFile("un.xml", content),
        },
    )
    proposal = Proposal.objects.get(kind="sanctions_list")
    assert not ScreeningImport.objects.exists()  # nothing loads before approval
    with django_capture_on_commit_callbacks(execute=True):
        four_eyes.proposal_approve(proposal_id=proposal.pk, approver=_user(mlro_client))
    assert ScreeningImport.objects.count() == 1
    run = RescreenRun.objects.get()
    assert run.status == "done" and run.done == run.total and run.hits >= 1
    alert = Alert.objects.get(kyc_ref=listed_ref)
    assert alert.source == "screening" and alert.action == "interdict"
    progress = mlro_client.get("/admin/compliance/rescreenrun/")
    assert b"<progress" in progress.content


def _user(client):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=client.session["_auth_user_id"])
