"""Reconciliation: every kind of break is opened by a crafted mismatch, none by a clean run."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import DomainError
from institutions.models import Corridor
from ledger.models import Entry
from ledger.services.log import ledger_integrate, statement_issue
from settlement.models import Break, BreakEvent, ReconStatus, WindowOrder
from settlement.services import reconciliation as recon
from settlement.services.statements import StatementAlreadyImported, statement_import

from .conftest import FakeOrder, accepted_order, credited_order

pytestmark = pytest.mark.django_db


def reconcile_all() -> dict[str, int]:
    ledger_integrate()
    head = Entry.objects.order_by("-seq").values_list("seq", flat=True).first()
    return recon.reconcile_entries(first_seq=0, last_seq=head)


def kinds() -> set[str]:
    return set(Break.objects.values_list("kind", flat=True))


def test_a_clean_run_opens_no_break(corridor, django_capture_on_commit_callbacks):
    ids = [credited_order(corridor, a) for a in ("1000.00", "10.01")]
    with django_capture_on_commit_callbacks(execute=True):
        ledger_integrate()  # ledger.integrated → reconcile task (eager here)
    assert set(WindowOrder.objects.values_list("recon_status", flat=True)) == {ReconStatus.MATCHED}
    assert recon.reconciliation_sweep(now=timezone.now() + timedelta(hours=1))["overdue"] == 0
    assert not Break.objects.exists()
    assert len(ids) == WindowOrder.objects.count()


@pytest.mark.parametrize(
    "field,value,expected_kind",
    [
        ("fee_minor", 1_001, "debit_mismatch"),
        ("receive_minor", 6_286_501, "payout_mismatch"),
        ("receive_minor", 6_286_501, "confirmation_mismatch"),
        ("payout_reference", "EP-OTHER", "confirmation_mismatch"),
    ],
)
def test_a_crafted_difference_in_the_three_facts_opens_a_break(
    corridor, field, value, expected_kind
):
    order_id = credited_order(corridor, "1000.00")
    WindowOrder.objects.filter(order_id=order_id).update(**{field: value})
    reconcile_all()
    brk = Break.objects.get(kind=expected_kind, order_id=order_id)
    assert brk.expected and brk.status == "open"
    assert WindowOrder.objects.get(order_id=order_id).recon_status == ReconStatus.BROKEN
    # idempotent: running again opens nothing new
    count = Break.objects.count()
    reconcile_all()
    assert Break.objects.count() == count


def test_a_credit_whose_statements_are_not_on_the_log_is_a_break(corridor):
    order = FakeOrder(
        corridor.network.partner.institution,
        corridor.network.tmb.institution,
        10_000,
        100,
        628_650,
        Decimal("62.865"),
        Corridor.objects.get(code="MY-PK").pk,
    )
    from settlement.services.windows import window_order_record

    window_order_record(order=order)
    recon.orders_reconcile(order_ids=[order.id])
    brk = Break.objects.get(kind="statement_missing")
    assert "order.credited" in brk.detail
    assert {"debit_mismatch", "payout_mismatch"} <= kinds()


def test_a_statement_contradicting_the_order_is_a_break(corridor):
    order_id = credited_order(corridor, "1000.00")
    statement_issue(
        institution="VALYOU-MY",
        kind="order.submitted",
        body={"order_id": order_id, "send_amount": {"amount": "1.00", "currency": "MYR"}},
        subject=order_id,
    )
    reconcile_all()
    assert kinds() == {"statement_mismatch"}
    brk = Break.objects.get()
    assert brk.actual[0]["fields"] == ["send_amount", "signer"]


def test_a_credit_with_no_order_is_a_break(corridor):
    stray = str(uuid.uuid4())
    statement_issue(
        institution="VALYOU-MY",
        kind="order.credited",
        body={"order_id": stray, "payout_reference": "EP-X"},
        subject=stray,
    )
    counts = reconcile_all()
    assert counts["orphans"] == 1
    assert Break.objects.get().kind == "credit_without_order"


def test_an_order_accepted_but_not_credited_within_the_sla_is_a_break(corridor, settings):
    order_id = accepted_order(corridor)
    ledger_integrate()
    assert recon.reconciliation_sweep()["overdue"] == 0  # within the SLA
    later = timezone.now() + timedelta(seconds=settings.SETTLEMENT_CREDIT_SLA_SECONDS + 1)
    assert recon.reconciliation_sweep(now=later)["overdue"] == 1
    assert Break.objects.get().order_id == uuid.UUID(order_id)
    assert recon.reconciliation_sweep(now=later)["overdue"] == 0  # once


def payout_csv(tmp_path: Path, rows: list[tuple[str, str, str, str]], name="payout.csv") -> Path:
    path = tmp_path / name
    lines = ["order_id,payout_reference,amount,currency"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_payout_statement_import_opens_a_break_per_bad_line_only(corridor, tmp_path):
    a = credited_order(corridor, "1000.00", payout_reference="EP-A")
    b = credited_order(corridor, "10.01", payout_reference="EP-B")
    c = credited_order(corridor, "20.00", payout_reference="EP-C")
    tmb = corridor.network.tmb.institution
    clean = payout_csv(tmp_path, [(a, "EP-A", "62865.00", "PKR"), (b, "EP-B", "629.27", "PKR")])
    imported = statement_import(format="payout-csv", path=clean, institution=tmb)
    assert (imported.line_count, imported.matched_count, imported.break_count) == (2, 2, 0)
    with pytest.raises(StatementAlreadyImported):
        statement_import(format="payout-csv", path=clean, institution=tmb)

    bad = payout_csv(
        tmp_path,
        [
            (a, "EP-A", "62865.00", "PKR"),  # fine
            (b, "EP-B", "629.28", "PKR"),  # amount differs
            (c, "EP-WRONG", "1257.30", "PKR"),  # reference differs
            (str(uuid.uuid4()), "EP-Z", "1.00", "PKR"),  # no such order
            ("not-an-id", "EP-Y", "1.00", "PKR"),  # no such order either
            (a, "EP-A", "62865.00", "PKR"),  # the same payout twice
        ],
        name="bad.csv",
    )
    imported = statement_import(format="payout-csv", path=bad, institution=tmb)
    by_line = dict(Break.objects.filter(statement_import=imported).values_list("line_no", "kind"))
    assert by_line == {
        3: "line_mismatch",
        4: "line_mismatch",
        5: "line_unmatched",
        6: "line_unmatched",
        7: "line_duplicate",
    }
    assert (imported.matched_count, imported.break_count) == (1, 5)
    mismatch = Break.objects.get(statement_import=imported, line_no=3)
    assert mismatch.expected["amount_minor"] == 62_927 and mismatch.actual["amount_minor"] == 62_928


def test_a_line_for_another_receivers_order_is_a_mismatch(corridor, tmp_path, second_receiver):
    a = credited_order(corridor, "1000.00", payout_reference="EP-A")
    path = payout_csv(tmp_path, [(a, "EP-A", "62865.00", "PKR")])
    imported = statement_import(format="payout-csv", path=path, institution=second_receiver)
    assert Break.objects.get(statement_import=imported).kind == "line_mismatch"


def test_a_malformed_statement_is_refused_whole(corridor, tmp_path):
    path = payout_csv(tmp_path, [(str(uuid.uuid4()), "EP", "1.001", "PKR")])
    with pytest.raises(DomainError):
        statement_import(format="payout-csv", path=path)
    assert not Break.objects.exists()


def test_breaks_are_assigned_and_resolved_with_a_reason_audited(corridor):
    stray = str(uuid.uuid4())
    statement_issue(
        institution="VALYOU-MY", kind="order.credited", body={"order_id": stray}, subject=stray
    )
    reconcile_all()
    brk = Break.objects.get()
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    recon.break_assign(break_id=brk.pk, assignee=staff, actor="staff:ops")
    with pytest.raises(DomainError):
        recon.break_resolve(break_id=brk.pk, reason="  ", actor="staff:ops")
    recon.break_resolve(break_id=brk.pk, reason="test credit by the hub", actor="staff:ops")
    brk.refresh_from_db()
    assert brk.status == "resolved" and brk.assigned_to == staff
    assert list(BreakEvent.objects.filter(brk=brk).values_list("action", "actor")) == [
        ("assigned", "staff:ops"),
        ("resolved", "staff:ops"),
    ]
    with pytest.raises(recon.BreakResolved):
        recon.break_resolve(break_id=brk.pk, reason="again", actor="staff:ops")
    reconcile_all()  # a resolved break is never reopened by a re-run
    assert Break.objects.get().status == "resolved"
