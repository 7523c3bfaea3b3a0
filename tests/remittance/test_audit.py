"""The invariant auditor (remittance/audit): clean on a healthy hub (credited, settled,
refunded and pending orders, a settled window), and each invariant's breach found, with the ids
involved, when the data is broken on purpose by raw SQL (triggers disabled where the database
itself would refuse)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ledger.models import Account, Entry, Transfer
from ledger.services.log import ledger_integrate
from remittance.audit.models import AuditRun
from remittance.audit.services import audit_run
from remittance.models import RemittanceOrder
from settlement.models import SettlementWindow, WindowOrder
from settlement.services import windows
from tests.conftest import requires_postgres
from tests.ledger.helpers import witnesses_catch_up

from .test_orders_api import answer, quote, submit

pytestmark = pytest.mark.django_db


def _credit(corridor, amount="1000.00") -> str:
    q = quote(corridor, amount)
    order_id = str(uuid.uuid4())
    assert submit(corridor, q, order_id).status_code == 201
    answer(corridor, order_id, "accept")
    credited = answer(
        corridor,
        order_id,
        "credit",
        payout_reference=f"EP-{order_id[:8]}",
        receive_amount=q["receive_amount"],
    )
    assert credited.json()["status"] == "credited", credited.content
    return order_id


@pytest.fixture
def hub(corridor, django_capture_on_commit_callbacks):
    """A settled window with one settled order; then a credited, a refunded and a pending
    order in the next window."""
    settled = _credit(corridor, "200.00")
    window = SettlementWindow.objects.get(status="open")
    with django_capture_on_commit_callbacks(execute=True):
        windows.window_close(window_id=window.pk)
        witnesses_catch_up(corridor.network)
        windows.window_settle(window_id=window.pk, settlement_rate="63.5")
        windows.window_orders_mark_settled(window_id=window.pk)
    credited = _credit(corridor, "300.00")
    refunded = submit(corridor, quote(corridor, "150.00")).json()["id"]
    rejected = answer(corridor, refunded, "reject", reason_code="beneficiary_check_failed")
    assert rejected.json()["status"] == "refunded", rejected.content
    pending = submit(corridor, quote(corridor, "120.00")).json()["id"]
    ledger_integrate()
    return {
        "settled": settled,
        "credited": credited,
        "refunded": refunded,
        "pending": pending,
        "window": window.pk,
    }


def _breaches(run: AuditRun, invariant: str) -> list[dict]:
    return [b for b in run.breaches if b["invariant"] == invariant]


@contextmanager
def _triggers_off(*tables: str):
    """Disable the append-only / state-machine triggers of `tables` (PostgreSQL), or drop and
    recreate nothing on SQLite (the test database is rolled back)."""
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks block ALTER
            for table in tables:
                c.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        else:
            placeholders = ",".join("%s" for _ in tables)
            c.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' "
                f"AND tbl_name IN ({placeholders})",
                list(tables),
            )
            names = [row[0] for row in c.fetchall()]
            for name in names:
                c.execute(f'DROP TRIGGER "{name}"')
        try:
            yield c
        finally:
            if connection.vendor == "postgresql":
                c.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in tables:
                    c.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')


def test_a_healthy_hub_is_clean_and_the_log_is_checked_incrementally(hub, capsys):
    first = audit_run(trigger="test")
    assert first.ok, first.breaches
    assert first.log_checked_from == 0 and first.log_size == Entry.objects.count()
    assert RemittanceOrder.objects.get(pk=hub["settled"]).status == "settled"
    call_command("audit")
    assert "OK every invariant holds" in capsys.readouterr().out
    second = AuditRun.objects.latest("started_at")
    assert second.log_checked_from == first.log_size  # only what was appended since
    call_command("ledger", "audit", "--full-log")
    assert f"log verified 0..{first.log_size}" in capsys.readouterr().out


def test_ledger_not_summing_to_zero_names_the_currency(hub):
    with connection.cursor() as c:
        c.execute(
            "UPDATE ledger_account SET credits_posted = credits_posted + 7 WHERE code = %s",
            ["fee_income:PARTNER-MY:MYR"],
        )
    run = audit_run(trigger="test")
    found = _breaches(run, "ledger_sums_to_zero")
    assert found and found[0]["ids"] == ["MYR"] and "sum to 7" in found[0]["detail"]
    assert "fee_income:PARTNER-MY:MYR" in _breaches(run, "balances_replay")[0]["ids"]


def test_a_balance_that_does_not_replay_names_the_account(hub):
    # moved between two accounts: the sums stay zero, only the replay can tell
    with connection.cursor() as c:
        c.execute(
            "UPDATE ledger_account SET credits_posted = credits_posted + 5 WHERE code = %s",
            ["fee_income:PARTNER-MY:MYR"],
        )
        c.execute(
            "UPDATE ledger_account SET credits_posted = credits_posted - 5 WHERE code = %s",
            ["position:PARTNER-MY:MYR"],
        )
    run = audit_run(trigger="test")
    assert not _breaches(run, "ledger_sums_to_zero")
    ids = _breaches(run, "balances_replay")[0]["ids"]
    assert set(ids) == {"fee_income:PARTNER-MY:MYR", "position:PARTNER-MY:MYR"}
    assert _breaches(run, "positions")


def test_a_credited_order_missing_its_payout_or_paid_twice_is_named(hub):
    payout = Transfer.objects.get(reference=hub["credited"], code="order.payout")
    with _triggers_off("ledger_transfer"):
        Transfer.objects.filter(pk=payout.pk).update(code="order.payout-lost")
        # a second fee for the settled order, under another id
        fee = Transfer.objects.get(reference=hub["settled"], code="order.fee")
        Transfer.objects.create(
            id=uuid.uuid4(),
            kind="single",
            debit_account_id=fee.debit_account_id,
            credit_account_id=fee.credit_account_id,
            amount=fee.amount,
            currency_id=fee.currency_id,
            code="order.fee",
            reference=hub["settled"],
        )
    run = audit_run(trigger="test")
    found = _breaches(run, "order_money_legs")
    assert set(found[0]["ids"]) == {hub["credited"], hub["settled"]}


def test_a_refunded_order_that_was_paid_out_is_named(hub):
    reserve = Transfer.objects.get(reference=hub["refunded"], code="order.reserve")
    with _triggers_off("ledger_transfer"):
        Transfer.objects.create(
            id=uuid.uuid4(),
            kind="single",
            debit_account_id=reserve.debit_account_id,
            credit_account_id=reserve.credit_account_id,
            amount=100,
            currency_id=reserve.currency_id,
            code="order.payout",
            reference=hub["refunded"],
        )
    run = audit_run(trigger="test")
    assert hub["refunded"] in _breaches(run, "order_money_legs")[0]["ids"]


def test_a_reservation_pending_past_its_orders_deadline_is_named(hub, settings):
    assert audit_run(trigger="test").ok
    past = timezone.now() - timedelta(seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS + 3600)
    RemittanceOrder.objects.filter(pk=hub["pending"]).update(submitted_at=past, created_at=past)
    run = audit_run(trigger="test")
    found = _breaches(run, "pending_past_deadline")
    assert found[0]["ids"] == [hub["pending"]] and "past its deadline" in found[0]["detail"]


def test_a_final_order_whose_reservation_is_still_pending_is_named(hub):
    void = Transfer.objects.get(reference=hub["refunded"], code="order.refund")
    with _triggers_off("ledger_transfer"):
        Transfer.objects.filter(pk=void.pk).delete()
    run = audit_run(trigger="test")
    found = _breaches(run, "pending_past_deadline")
    assert found[0]["ids"] == [hub["refunded"]] and "final state" in found[0]["detail"]
    assert hub["refunded"] in _breaches(run, "order_money_legs")[0]["ids"]


def test_a_credited_order_in_no_window_or_with_other_amounts_is_named(hub):
    WindowOrder.objects.filter(order_id=hub["credited"]).delete()
    WindowOrder.objects.filter(order_id=hub["settled"]).update(send_minor=1)
    run = audit_run(trigger="test")
    details = {b["detail"]: b["ids"] for b in _breaches(run, "order_in_one_window")}
    assert details["1 credited order(s) in no settlement window"] == [hub["credited"]]
    assert details["1 order(s) whose window entry has other amounts than the order"] == [
        hub["settled"]
    ]


def test_a_window_entry_for_a_refunded_order_is_named(hub):
    credited = WindowOrder.objects.get(order_id=hub["credited"])
    credited.pk = uuid.UUID(hub["refunded"])
    credited.save(force_insert=True)
    run = audit_run(trigger="test")
    assert _breaches(run, "order_in_one_window")[0]["ids"] == [hub["refunded"]]


def test_a_position_moved_outside_orders_and_settlement_is_named(hub):
    position = Account.objects.get(code="position:TMB-PK:PKR")
    fx = Account.objects.get(code="fx_position:PKR")
    from ledger.services.money import TransferSpec, transfers_create_or_raise

    # a correctly booked transfer (the ledger balances and replays) that no order explains
    transfers_create_or_raise(
        transfers=[
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=fx.pk,
                credit_account_id=position.pk,
                amount=999,
                code="manual.adjustment",
            )
        ]
    )
    run = audit_run(trigger="test")
    found = _breaches(run, "positions")
    assert len(found[0]["ids"]) == 1 and found[0]["ids"][0].startswith("position:TMB-PK:PKR")
    assert not _breaches(run, "balances_replay") and not _breaches(run, "ledger_sums_to_zero")


def test_a_status_that_skipped_a_step_is_named(hub):
    order_id = uuid.UUID(hub["pending"]).hex if connection.vendor == "sqlite" else hub["pending"]
    with _triggers_off("remittance_remittanceorder", "remittance_orderstatuschange") as c:
        c.execute(
            "UPDATE remittance_remittanceorder SET status = 'settled' WHERE id = %s", [order_id]
        )
    run = audit_run(trigger="test")
    assert hub["pending"] in _breaches(run, "status_history")[0]["ids"]


def test_a_rewritten_log_entry_after_the_audited_size_is_named_by_seq(hub, corridor):
    first = audit_run(trigger="test")
    assert first.ok
    _credit(corridor, "110.00")
    ledger_integrate()
    target = first.log_size + 1
    with _triggers_off("ledger_entry"):
        leaf = bytes(Entry.objects.get(seq=target).leaf)
        Entry.objects.filter(seq=target).update(leaf=leaf.replace(b'"v":1', b'"v":1 ', 1))
    run = audit_run(trigger="test")
    found = _breaches(run, "log_verifies")
    assert found and found[0]["ids"] == [str(target)]
    # the next run starts again from the last good head, so the breach keeps being reported
    again = audit_run(trigger="test")
    assert _breaches(again, "log_verifies")[0]["ids"] == [str(target)]


def test_readyz_shows_the_latest_audit(hub, client):
    assert client.get("/readyz").json()["audit"] == {"status": "never"}
    audit_run(trigger="test")
    detail = client.get("/readyz").json()["audit"]
    assert detail["status"] == "clean" and detail["breaches"] == []
    WindowOrder.objects.filter(order_id=hub["credited"]).delete()
    audit_run(trigger="test")
    ready = client.get("/readyz")
    assert ready.status_code == 200  # a breach is shown, not a reason to leave rotation
    assert ready.json()["audit"]["breaches"] == [
        {"invariant": "order_in_one_window", "ids": [hub["credited"]]}
    ]


def test_the_admin_lists_runs_with_their_breaches(hub, admin_client):
    WindowOrder.objects.filter(order_id=hub["credited"]).delete()
    run = audit_run(trigger="test")
    page = admin_client.get("/admin/remittance_audit/auditrun/")
    assert page.status_code == 200 and b"BREACH (1)" in page.content
    detail = admin_client.get(f"/admin/remittance_audit/auditrun/{run.pk}/change/")
    assert hub["credited"].encode() in detail.content


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_audit_during_a_burst_of_orders_never_reports_a_false_breach(corridor):
    """Real threads on PostgreSQL: senders submit, the receiving bank accepts and credits or
    rejects, an integrator sequences the log, while the auditor runs over and over. Every run
    is clean (one snapshot: it never sees half of a commit), and so is the final one."""
    import threading

    senders, per_sender = 4, 6
    errors: list[BaseException] = []
    stop = threading.Event()

    def lifecycle(n: int) -> None:
        try:
            for i in range(per_sender):
                q = quote(corridor, f"{100 + n * 10 + i}.00")
                order_id = str(uuid.uuid4())
                assert submit(corridor, q, order_id).status_code == 201
                if i % 3 == 2:
                    answer(corridor, order_id, "reject", reason_code="beneficiary_check_failed")
                    continue
                answer(corridor, order_id, "accept")
                done = answer(
                    corridor,
                    order_id,
                    "credit",
                    payout_reference=f"EP-{order_id[:8]}",
                    receive_amount=q["receive_amount"],
                )
                assert done.json()["status"] == "credited", done.content
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def integrate() -> None:
        try:
            while not stop.is_set():
                ledger_integrate(batch_size=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=lifecycle, args=(n,)) for n in range(senders)]
    integrator = threading.Thread(target=integrate)
    for t in [*threads, integrator]:
        t.start()
    runs: list[AuditRun] = []
    while any(t.is_alive() for t in threads) or len(runs) < 3:
        runs.append(audit_run(trigger="test"))
    for t in threads:
        t.join(120)
    stop.set()
    integrator.join(60)
    assert not errors, errors
    assert [r.breaches for r in runs if not r.ok] == []
    ledger_integrate()
    final = audit_run(trigger="test", full_log=True)
    assert final.ok, final.breaches
    assert RemittanceOrder.objects.filter(status="credited").count() == senders * 4
    assert RemittanceOrder.objects.filter(status="refunded").count() == senders * 2
