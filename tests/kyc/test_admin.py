from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.urls import reverse

from kyc.models import KycAccessLog, KycRecord, KycStatusChange, ScreeningHit

compliance_migration = importlib.import_module("kyc.migrations.0003_compliance_group")


@pytest.fixture
def compliance_user(db):
    # Re-run the data migration: a `transaction=True` test elsewhere may have flushed it.
    compliance_migration.forwards(apps, None)
    user = User.objects.create_user("amina", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="compliance"))
    return user


@pytest.mark.django_db
def test_compliance_group_has_exactly_the_permissions_it_needs(compliance_user):
    codenames = set(
        Group.objects.get(name="compliance").permissions.values_list("codename", flat=True)
    )
    assert codenames == set(compliance_migration.PERMISSIONS)
    assert not {c for c in codenames if c.startswith(("add_", "change_", "delete_"))}


@pytest.mark.django_db
def test_staff_decrypts_on_demand_and_the_view_is_logged(client, compliance_user, sender):
    client.force_login(compliance_user)
    url = reverse("admin:kyc_kycrecord_review", args=[sender.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"Chaudhry" not in page.content
    shown = client.post(url, {"action": "decrypt", "decrypt-purpose": "periodic review"})
    assert shown.status_code == 200 and b"Chaudhry" in shown.content
    # labelled fields, not a Python dict
    assert b'<th scope="row">Name: family</th><td>Chaudhry</td>' in shown.content
    assert b"{&#x27;" not in shown.content
    assert "no-store" in shown["Cache-Control"]
    log = KycAccessLog.objects.get()
    assert (log.actor, log.purpose) == ("staff:amina", "review: periodic review")


@pytest.mark.django_db
def test_staff_without_the_group_cannot_decrypt(client, sender):
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    url = reverse("admin:kyc_kycrecord_review", args=[sender.pk])
    assert client.post(url, {"action": "decrypt", "decrypt-purpose": "x"}).status_code == 403
    assert not KycAccessLog.objects.exists()


@pytest.mark.django_db
def test_status_change_and_hit_decision_from_the_admin_are_audited(
    client, compliance_user, network, sample_lists
):
    from kyc import services

    record = services.kyc_record_create(
        owner=network.valyou.institution,
        role="beneficiary",
        data={"name": {"given": "Yusuf Husain", "family": "Naqvi"}},
    )
    client.force_login(compliance_user)
    hit = ScreeningHit.objects.get(record=record)
    changelist = reverse("admin:kyc_screeninghit_changelist")
    form = client.post(changelist, {"action": "clear_hits", "_selected_action": [hit.pk]})
    assert form.status_code == 200 and b"reason" in form.content  # asks for a reason first
    client.post(
        changelist,
        {"action": "clear_hits", "_selected_action": [hit.pk], "reason": "different DOB"},
    )
    hit.refresh_from_db()
    assert (hit.status, hit.decided_by, hit.reason) == ("cleared", "staff:amina", "different DOB")
    url = reverse("admin:kyc_kycrecord_review", args=[record.pk])
    # verifying above tier 0 takes four eyes (compliance/services/four_eyes.py): amina, an
    # officer, proposes; an MLRO approves
    from compliance.models import Proposal, StaffId
    from compliance.roles import roles_sync
    from compliance.services.four_eyes import proposal_approve

    roles_sync()
    compliance_user.groups.add(Group.objects.get(name="compliance_officer"))
    client.post(
        url,
        {
            "action": "status",
            "status-status": "verified",
            "status-tier": "2",
            "status-reason": "ok",
        },
    )
    assert KycRecord.objects.get(pk=record.pk).status == "pending"
    mlro = User.objects.create_user("mlro", password="pw", is_staff=True)
    mlro.groups.add(Group.objects.get(name="mlro"))
    proposal_approve(proposal_id=Proposal.objects.get(target=record.kyc_ref).pk, approver=mlro)
    record = KycRecord.objects.get(pk=record.pk)
    assert (record.status, record.tier) == ("verified", 2)
    assert KycStatusChange.objects.filter(record=record, actor="staff:amina").count() == 1
    mlro_actor = f"staff:{StaffId.objects.get(user=mlro).ref}"
    assert KycStatusChange.objects.filter(record=record, actor=mlro_actor).count() == 1
    # The access log is read-only in the admin too.
    log_url = reverse("admin:kyc_kycaccesslog_changelist")
    assert client.get(log_url).status_code == 200
    assert client.get(reverse("admin:kyc_kycaccesslog_add")).status_code == 403
