"""The operator's admin: windows (close, settle, report, exports), liquidity, the break queue."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from ledger.services.log import ledger_integrate, statement_issue
from settlement.models import Break, LiquidityLimit, SettlementWindow
from settlement.services import windows
from settlement.services.reconciliation import reconcile_entries
from tests.ledger.helpers import witnesses_catch_up

from .conftest import credited_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    client.force_login(user)
    return client


@pytest.fixture
def checker():
    """A second operator: settling and limits need four eyes (compliance/services/four_eyes.py)."""
    from django.test import Client

    user = get_user_model().objects.create_superuser("ops2", "ops2@example.com", "pw-ops2-123")
    client = Client()
    client.force_login(user)
    return client


def approve_latest(checker) -> None:
    from compliance.models import Proposal

    proposal = Proposal.objects.filter(status="pending").latest("proposed_at")
    response = checker.post(
        f"/admin/compliance/proposal/{proposal.pk}/decide/", {"approve": "1", "note": ""}
    )
    assert response.status_code == 302, response.content
    proposal.refresh_from_db()
    assert proposal.status == "approved", proposal.outcome


def test_window_pages_close_settle_and_export(ops, checker, corridor):
    credited_order(corridor, "1000.00")
    window = SettlementWindow.objects.get(status="open")
    assert ops.get("/admin/settlement/settlementwindow/").status_code == 200
    ops.post(
        "/admin/settlement/settlementwindow/",
        {"action": "close_now", "_selected_action": [window.pk]},
    )
    window.refresh_from_db()
    assert window.status == "closing"  # the worker closes it (after commit)
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for both banks' cosignatures
    report = ops.get(f"/admin/settlement/settlementwindow/{window.pk}/report/")
    assert b"PARTNER-MY" in report.content and b"-1000.00 MYR" in report.content
    assert ops.get(f"/admin/settlement/settlementwindow/{window.pk}/report/?format=csv")[
        "Content-Type"
    ].startswith("text/csv")
    xml = ops.get(f"/admin/settlement/settlementwindow/{window.pk}/instructions.xml")
    assert xml.status_code == 200 and b"pacs.008.001.08" in xml.content
    proposed = ops.post(
        f"/admin/settlement/settlementwindow/{window.pk}/settle/",
        {"settlement_rate": "63.5", "rate_source": "treasury", "reason": "EOD", "confirm": "1"},
    )
    assert proposed.status_code == 302
    window.refresh_from_db()
    assert window.status == "closed"  # proposed, not settled: a second person approves
    approve_latest(checker)
    window.refresh_from_db()
    assert window.status == "settled" and window.rate_source == "treasury"
    again = ops.get(f"/admin/settlement/settlementwindow/{window.pk}/settle/", follow=True)
    assert b"already settled" in again.content


def test_liquidity_limit_admin_shows_usage(ops, checker, corridor):
    partner = corridor.network.partner.institution
    LiquidityLimit.objects.filter(institution=partner).delete()  # configure it from scratch
    warned = ops.get("/admin/settlement/liquiditylimit/")
    assert b"PARTNER-MY (MYR)" in warned.content and b"liquidity_not_configured" in warned.content
    assert b"VALYOU-MY" not in warned.content  # hosted: needs no limit
    response = ops.post(
        "/admin/settlement/liquiditylimit/add/",
        {
            "institution": partner.pk,
            "currency": "MYR",
            "mode": "net_debit_cap",
            "amount": "1500.00",  # major units on the form
            "on_breach": "refuse",
            "alert_percent": 80,
        },
    )
    assert response.status_code == 302, response.content
    assert not LiquidityLimit.objects.filter(institution=partner).exists()  # proposed only
    approve_latest(checker)
    limit = LiquidityLimit.objects.get(institution=partner)
    assert (limit.amount_minor, limit.on_breach, limit.alert_percent) == (150_000, "refuse", 80)
    credited_order(corridor, "1300.00")
    page = ops.get("/admin/settlement/liquiditylimit/")
    assert b"86%" in page.content and b"liquidity_not_configured" not in page.content


def test_break_queue_evidence_assign_resolve_and_upload(ops, corridor):
    stray = str(uuid.uuid4())
    statement_issue(
        institution="VALYOU-MY", kind="order.credited", body={"order_id": stray}, subject=stray
    )
    ledger_integrate()
    reconcile_entries(first_seq=0, last_seq=10_000)
    brk = Break.objects.get()
    assert (
        ops.get(
            "/admin/settlement/break/?status__exact=open&kind__exact=credit_without_order"
        ).status_code
        == 200
    )
    page = ops.get(f"/admin/settlement/break/{brk.pk}/change/")
    assert b"other source (actual)" in page.content
    work = f"/admin/settlement/break/{brk.pk}/work/"
    ops.post(work, {"action": "assign", "assign-assignee": get_user_model().objects.get().pk})
    ops.post(work, {"action": "resolve", "resolve-reason": "hub test credit, no money moved"})
    brk.refresh_from_db()
    assert brk.status == "resolved" and brk.assigned_to.username == "ops"
    assert list(brk.events.values_list("action", flat=True)) == ["assigned", "resolved"]

    upload = SimpleUploadedFile(
        "payout.csv",
        f"order_id,payout_reference,amount,currency\n{uuid.uuid4()},X,1.00,PKR\n".encode(),
    )
    response = ops.post("/admin/settlement/break/upload/", {"format": "payout-csv", "file": upload})
    assert response.status_code == 302
    assert Break.objects.filter(kind="line_unmatched").count() == 1
