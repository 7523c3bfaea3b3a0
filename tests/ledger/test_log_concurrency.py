"""Real threads against PostgreSQL: writers never block each other and the integrator
assigns contiguous seqs with no duplicates, whatever the interleaving."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, transaction

from ledger.integrity import log_verify
from ledger.models import Entry, QueuedStatement
from ledger.services.log import ledger_integrate, statement_append
from tests.conftest import requires_postgres

from .helpers import partner_statement

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_and_two_integrators_give_a_contiguous_verifying_log(network):
    writers, per_writer = 8, 40
    signed = [
        [
            partner_statement(
                network.tmb,
                body={
                    "order_id": str(uuid.UUID(int=w * 1000 + n)),
                    "payout_reference": f"EP-{w}-{n}",
                    "receive_amount": {"amount": "1.00", "currency": "PKR"},
                },
            )
            for n in range(per_writer)
        ]
        for w in range(writers)
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(writers + 2)
    done = threading.Event()

    def write(batch):
        try:
            start.wait()
            for statement, signature in batch:
                with transaction.atomic():
                    statement_append(statement=statement, signature=signature)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def integrate():
        try:
            start.wait()
            while not done.is_set():
                ledger_integrate(batch_size=25)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(b,)) for b in signed]
    integrators = [threading.Thread(target=integrate) for _ in range(2)]
    for t in threads + integrators:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    for t in integrators:
        t.join(120)
    assert not errors, errors
    ledger_integrate()

    seqs = list(Entry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(4 + writers * per_writer))
    assert not QueuedStatement.objects.exists()
    assert Entry.objects.values("statement_ref").distinct().count() == len(seqs)
    report = log_verify()
    assert report.entries == len(seqs)
