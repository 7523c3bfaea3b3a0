"""Races against the money ledger with real threads on PostgreSQL: the account locks keep
every limit, and a pending transfer is resolved once however many try."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from ledger.replay import replay_compare
from ledger.selectors.money import account_balance
from ledger.services import log as log_services
from ledger.services.log import ledger_integrate
from ledger.services.money import TransferSpec, transfer_create
from tests.ledger.conftest_money import balances, fund, money_operator, open_account

__all__ = ["money_operator"]  # the fixture, imported for pytest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]

THREADS = 100
# Connections open at once: PostgreSQL's default max_connections is 100 and other test runs
# share the server. The threads still race: each waits at the barrier, then for a slot.
CONCURRENT_CONNECTIONS = 20


@pytest.fixture(autouse=True)
def _integrate_explicitly(monkeypatch):
    """Statements queue as usual; the test runs the integrator itself at the end rather than
    from every thread's on_commit."""
    monkeypatch.setattr(log_services, "integration_request", lambda: None)


def race(work, count=THREADS):
    """Run `work(i)` in `count` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)
    slots = threading.BoundedSemaphore(CONCURRENT_CONNECTIONS)

    def run(i):
        barrier.wait()
        with slots:
            try:
                return work(i)
            finally:
                connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_a_hundred_orders_against_one_wallet_never_overdraw_it(money_operator):
    funding = open_account("funding:MYR", kind="funding")
    wallet = open_account("wallet:w1:MYR", debits_must_not_exceed_credits=True)
    position = open_account("position:VALYOU-MY:MYR", kind="position")
    fund(source=funding, target=wallet, amount=5000)  # 50.00

    def reserve_then_post(i):
        pending_id = uuid.uuid4()
        reserved = transfer_create(
            transfer=TransferSpec(pending_id, wallet.pk, position.pk, 100, kind="pending")
        )
        if not reserved.ok:
            return reserved.result
        posted = transfer_create(transfer=TransferSpec.post(id=uuid.uuid4(), pending_id=pending_id))
        return f"posted:{posted.result}"

    outcomes = Counter(race(reserve_then_post))
    assert outcomes == {"posted:created": 50, "exceeds_credits": 50}
    assert balances(wallet) == (0, 5000, 0, 5000)
    assert account_balance(account=wallet)["balance"] == 0
    assert balances(position) == (0, 0, 0, 5000)
    ledger_integrate()
    assert replay_compare() == []


def test_a_pending_transfer_is_resolved_once_however_many_try(money_operator):
    funding = open_account("funding:MYR", kind="funding")
    wallet = open_account("wallet:w1:MYR", debits_must_not_exceed_credits=True)
    position = open_account("position:VALYOU-MY:MYR", kind="position")
    fund(source=funding, target=wallet, amount=5000)
    pending_id = uuid.uuid4()
    transfer_create(transfer=TransferSpec(pending_id, wallet.pk, position.pk, 1000, kind="pending"))

    def resolve(i):
        spec = (
            TransferSpec.post(id=uuid.uuid4(), pending_id=pending_id)
            if i % 2
            else TransferSpec.void(id=uuid.uuid4(), pending_id=pending_id)
        )
        return transfer_create(transfer=spec).result

    outcomes = Counter(race(resolve, count=40))
    assert outcomes["created"] == 1
    assert set(outcomes) - {"created"} <= {
        "pending_transfer_already_posted",
        "pending_transfer_already_voided",
    }
    wallet_after = balances(wallet)
    assert wallet_after in ((0, 1000, 0, 5000), (0, 0, 0, 5000))
    ledger_integrate()
    assert replay_compare() == []


def test_transfers_in_both_directions_do_not_deadlock(money_operator):
    a = open_account("position:A:MYR", kind="position")
    b = open_account("position:B:MYR", kind="position")

    def transfer(i):
        debit, credit = (a, b) if i % 2 else (b, a)
        return transfer_create(transfer=TransferSpec(uuid.uuid4(), debit.pk, credit.pk, 7)).result

    assert Counter(race(transfer, count=60)) == {"created": 60}
    assert balances(a) == (0, 210, 0, 210)
    assert balances(b) == (0, 210, 0, 210)
