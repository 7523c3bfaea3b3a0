"""A real Celery worker process on the real broker integrates what writers queue: statements
are sequenced on commit, coalesced, without anyone calling the integrator by hand."""

from __future__ import annotations

import pytest
from django.db import transaction

from ledger.models import Entry, QueuedStatement
from ledger.services.log import statement_issue
from tests.conftest import celery_worker_args, requires_postgres, spawn, stop, wait_for

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.fixture
def worker(network, real_celery):
    proc = spawn(celery_worker_args("--pool", "solo"))
    yield proc
    stop(proc)


@pytest.mark.django_db(transaction=True)
def test_worker_integrates_statements_queued_by_committed_transactions(worker):
    for i in range(50):
        with transaction.atomic():
            statement_issue(institution="VALYOU-MY", kind="test.note", body={"n": i})
    assert wait_for(lambda: Entry.objects.count() == 54), (
        f"integrated {Entry.objects.count()} of 54; queue {QueuedStatement.objects.count()}"
    )
    assert list(Entry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(54))
    assert not QueuedStatement.objects.exists()
