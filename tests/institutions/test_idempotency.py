"""Idempotency-Key claims (institutions/idempotency.py): a live claim answers 409
`request_in_progress`; a stale one (its request died mid-flight) is taken over by exactly one
retry."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from institutions import idempotency
from institutions.idempotency import STALE_AFTER, IdempotencyRecord, RequestInProgress
from tests.conftest import requires_postgres
from webhooks.models import WebhookEndpoint

PATH = "/api/v1/webhook-endpoints"
BODY = {"url": "https://bank.example/hooks"}


def request_hash(body: dict) -> str:
    """What the idempotency layer hashes for `POST PATH` with this JSON body."""
    material = f"POST\n{PATH}\n{json.dumps(body, sort_keys=True, separators=(',', ':'))}"
    return hashlib.sha256(material.encode()).hexdigest()


def unfinished_claim(actor: str, key: str, *, age: timedelta) -> IdempotencyRecord:
    """A claim whose request started `age` ago and never completed."""
    record = IdempotencyRecord.objects.create(actor=actor, key=key, request_hash=request_hash(BODY))
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    record.refresh_from_db()
    return record


def post(member, key: str = "k1"):
    return member.client().post(PATH, BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_live_claim_answers_request_in_progress(network):
    unfinished_claim(f"institution:{network.tmb.code}", "k1", age=timedelta(seconds=1))

    response = post(network.tmb)

    assert response.status_code == 409
    assert response.json()["code"] == "request_in_progress"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_a_retry_takes_over_a_stale_claim_and_completes_it(network):
    stale = unfinished_claim(
        f"institution:{network.tmb.code}", "k1", age=STALE_AFTER + timedelta(seconds=1)
    )

    response = post(network.tmb)

    assert response.status_code == 201, response.content
    assert WebhookEndpoint.objects.count() == 1
    stale.refresh_from_db()
    assert stale.completed_at is not None and stale.response_status == 201
    replay = post(network.tmb)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_two_retries_taking_over_one_stale_claim_let_exactly_one_through(monkeypatch):
    actor, key = "institution:TMB-PK", "k1"
    stale = unfinished_claim(actor, key, age=STALE_AFTER + timedelta(seconds=1))
    outcomes: list[str] = []

    def retry() -> None:
        try:
            claimed = idempotency.claim_or_replay(actor, key, stale.request_hash)
        except RequestInProgress:
            outcomes.append("in progress")
        else:
            assert isinstance(claimed, IdempotencyRecord)
            outcomes.append("runs the view")

    # The race, made deterministic: the first retry has read the stale row when the second
    # runs its whole claim; only then does the first decide, on what it read.
    real_first = QuerySet.first
    raced: list[bool] = []

    def first_then_the_other_retry(queryset: QuerySet):
        row = real_first(queryset)
        if queryset.model is IdempotencyRecord and not raced:
            raced.append(True)
            retry()
        return row

    monkeypatch.setattr(QuerySet, "first", first_then_the_other_retry)
    retry()

    assert raced, "the interleaving did not happen; the test would prove nothing"
    assert sorted(outcomes) == ["in progress", "runs the view"]
    taken = IdempotencyRecord.objects.get(pk=stale.pk)
    assert taken.completed_at is None and taken.created_at > stale.created_at


@requires_postgres  # a transactional test: SQLite's flush trips the append-only triggers
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_claim_replays_and_refuses_like_inside(network):
    """Production requests run in autocommit (the one-statement claim, not the savepoint
    path the other tests take): first response replayed, other body 409, 4xx stored too."""
    first = post(network.tmb, "k-auto")
    assert first.status_code == 201, first.content
    record = IdempotencyRecord.objects.get(key="k-auto")
    assert record.completed_at is not None and record.response_status == 201
    # what is stored is the response (the endpoint's secret is shown once and never stored)
    assert record.response_body["id"] == first.json()["id"]

    replay = post(network.tmb, "k-auto")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert WebhookEndpoint.objects.count() == 1

    other = network.tmb.client().post(
        PATH, {"url": "https://other.example/h"}, format="json", HTTP_IDEMPOTENCY_KEY="k-auto"
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"

    bad = network.tmb.client().post(
        PATH, {"url": "ftp://x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-bad"
    )
    assert bad.status_code == 400
    again = network.tmb.client().post(
        PATH, {"url": "ftp://x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-bad"
    )
    # a request that fails validation holds no claim: its retry is judged again, the same way
    assert again.status_code == 400 and again.json()["code"] == bad.json()["code"]
    assert again["content-type"].startswith("application/problem+json")
    assert not IdempotencyRecord.objects.filter(key="k-bad").exists()


# --- retention -------------------------------------------------------------------------------


def aged(record: IdempotencyRecord, *, created: timedelta, completed: timedelta | None) -> int:
    """Move a record's request `created` into the past, completed `completed` ago (or never)."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=now - created, completed_at=None if completed is None else now - completed
    )
    return record.pk


@pytest.mark.django_db
def test_records_are_kept_seven_days_after_completing_then_purged(network, settings):
    assert settings.IDEMPOTENCY_RETENTION_DAYS == 7
    actor = f"institution:{network.tmb.code}"
    rows = {
        name: IdempotencyRecord.objects.create(actor=actor, key=name, request_hash="h")
        for name in ("old", "finished-lately", "slow", "dead-claim", "live-claim")
    }
    days = timedelta(days=1)
    aged(rows["old"], created=8 * days, completed=8 * days)
    aged(rows["finished-lately"], created=6 * days, completed=6 * days)
    aged(rows["slow"], created=8 * days, completed=6 * days)  # a stale claim taken over
    aged(rows["dead-claim"], created=8 * days, completed=None)  # its request died, no retry
    aged(rows["live-claim"], created=timedelta(seconds=5), completed=None)

    assert idempotency.idempotency_records_purge() == 2

    kept = set(IdempotencyRecord.objects.values_list("key", flat=True))
    assert kept == {"finished-lately", "slow", "live-claim"}


@pytest.mark.django_db
def test_a_key_sent_again_after_the_retention_period_is_a_new_request(network):
    first = post(network.tmb, "k-reused")
    assert first.status_code == 201
    other_body = {"url": "https://other.bank.example/hooks"}

    def again():
        return network.tmb.client().post(
            PATH, other_body, format="json", HTTP_IDEMPOTENCY_KEY="k-reused"
        )

    assert again().status_code == 409  # within the period: the key is taken
    record = IdempotencyRecord.objects.get(key="k-reused")
    aged(record, created=timedelta(days=8), completed=timedelta(days=8))
    idempotency.idempotency_records_purge()

    second = again()

    assert second.status_code == 201, second.content
    assert second.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in second
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.django_db
def test_a_retention_period_under_a_day_is_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.IDEMPOTENCY_RETENTION_DAYS = 0
    with pytest.raises(ImproperlyConfigured, match="IDEMPOTENCY_RETENTION_DAYS"):
        idempotency.idempotency_records_purge()
