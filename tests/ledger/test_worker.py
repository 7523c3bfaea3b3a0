"""A real Celery worker process on the real broker integrates what writers queue: statements
are sequenced on commit, coalesced, without anyone calling the integrator by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from config.celery import app as celery_app
from ledger.models import Entry, QueuedStatement
from ledger.services.log import INTEGRATION_REQUESTED, statement_issue
from tests.conftest import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.fixture
def worker(network):
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DJANGO_SETTINGS_MODULE="config.settings.local",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    celery_app.conf.task_always_eager = False
    cache.delete(INTEGRATION_REQUESTED)
    try:
        yield proc
    finally:
        celery_app.conf.task_always_eager = True
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_integrates_statements_queued_by_committed_transactions(worker):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker (set CELERY_BROKER_URL)")
    for i in range(50):
        with transaction.atomic():
            statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": i})
    assert _wait_for(lambda: Entry.objects.count() == 54), (
        f"integrated {Entry.objects.count()} of 54; queue {QueuedStatement.objects.count()}"
    )
    assert list(Entry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(54))
    assert not QueuedStatement.objects.exists()
