"""Races on PostgreSQL: credits during a close (real threads), and a Celery worker killed with
SIGKILL in the middle of a close (a real subprocess)."""

from __future__ import annotations

import signal
import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Sum

from settlement.models import (
    NetPosition,
    Obligation,
    SettlementWindow,
    WindowAggregate,
    WindowOrder,
)
from settlement.services import windows
from tests.conftest import celery_worker_args, requires_postgres, spawn, stop, wait_for

from .conftest import FakeOrder

pytestmark = [pytest.mark.postgres, requires_postgres]


def fake_orders(network, corridor, n: int) -> list[FakeOrder]:
    return [
        FakeOrder(
            network.partner.institution if i % 2 else network.valyou.institution,
            network.tmb.institution,
            10_000 + i,
            100,
            628_650 + i,
            Decimal("62.865"),
            corridor.pk,
            payout_reference=f"EP-{i}",
        )
        for i in range(n)
    ]


def current_window() -> SettlementWindow:
    return SettlementWindow.objects.get(status__in=("open", "closing"))


@pytest.mark.django_db(transaction=True)
def test_orders_credited_during_a_close_land_in_exactly_one_window(network, my_pk):
    orders = fake_orders(network, my_pk, 80)
    windows.window_current(corridor=my_pk)
    errors: list[BaseException] = []
    lanes = [orders[i::4] for i in range(4)]

    def credit(lane: list[FakeOrder], linger: float) -> None:
        try:
            for order in lane:
                with transaction.atomic():
                    windows.window_order_record(order=order)
                    time.sleep(linger)  # the rest of the credit transaction, still open
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def close_twice() -> None:
        try:
            for target in (20, 50):
                while WindowOrder.objects.count() < target:
                    time.sleep(0.002)
                windows.window_close(window_id=current_window().pk)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=credit, args=(lane, 0.004 * (n + 1)))
        for n, lane in enumerate(lanes)
    ]
    threads.append(threading.Thread(target=close_twice))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    assert WindowOrder.objects.count() == len(orders)  # each exactly once (primary key)
    closed = list(SettlementWindow.objects.filter(status="closed"))
    assert len(closed) == 2
    for window in closed:
        members = WindowOrder.objects.filter(window=window).aggregate(
            send=Sum("send_minor"), receive=Sum("receive_minor")
        )
        # the close's totals are exactly its members: nothing landed in it after it closed
        assert members["send"] and (window.send_minor, window.receive_minor) == (
            members["send"],
            members["receive"],
        )
        assert window.order_count == WindowOrder.objects.filter(window=window).count()
        assert (
            sum(p.net_minor for p in NetPosition.objects.filter(window=window, currency="MYR")) == 0
        )
    open_window = current_window()
    aggregate = WindowAggregate.objects.filter(window=open_window).aggregate(s=Sum("send_minor"))
    members = WindowOrder.objects.filter(window=open_window).aggregate(s=Sum("send_minor"))
    assert aggregate["s"] == members["s"]


@pytest.fixture
def worker(network, real_celery):
    proc = spawn(celery_worker_args("--pool", "solo"))
    yield proc
    stop(proc, kill=True)


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    return wait_for(predicate, seconds, interval=0.05)


def _backend_blocked_on_net_positions(admin) -> int | None:
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO \"settlement_netposition\"%'"
    ).fetchone()
    return row[0] if row else None


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_close_leaves_the_window_open_never_half_closed(network, my_pk, worker):
    from settlement.tasks import close_window

    for order in fake_orders(network, my_pk, 6):
        with transaction.atomic():
            windows.window_order_record(order=order)
    window = current_window()
    db = connection.settings_dict
    admin = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        dbname=db["NAME"],
        autocommit=True,
    )
    blocker = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        dbname=db["NAME"],
    )
    try:
        # the close will have closed the window, opened the next one and written obligations
        # when it reaches the net positions — and wait there, mid-transaction
        blocker.execute("LOCK TABLE settlement_netposition IN EXCLUSIVE MODE")
        close_window.delay(window.pk)
        assert _wait_for(lambda: _backend_blocked_on_net_positions(admin) is not None, 60), (
            "the worker never reached the middle of the close"
        )
        backend = _backend_blocked_on_net_positions(admin)
        worker.send_signal(signal.SIGKILL)
        worker.wait(20)
        blocker.rollback()  # release: the orphaned backend finishes its INSERT, finds no client
        assert _wait_for(
            lambda: (
                admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend]).fetchone()
                is None
            ),
            30,
        )
    finally:
        blocker.close()
        admin.close()

    window.refresh_from_db()
    assert window.status == "open"  # still open: nothing of the close survived
    assert SettlementWindow.objects.count() == 1
    assert not Obligation.objects.exists() and not NetPosition.objects.exists()

    # the retry (acks_late redelivers; here run directly) closes it exactly once
    windows.window_close(window_id=window.pk)
    windows.window_close(window_id=window.pk)
    window.refresh_from_db()
    assert window.status == "closed" and window.order_count == 6
    assert SettlementWindow.objects.count() == 2
    assert Obligation.objects.filter(window=window).aggregate(n=Sum("order_count"))["n"] == 6
