"""The retention machinery (core/retention.py) and beat running every retention job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.retention import rows_purge
from institutions.idempotency import IdempotencyRecord


@pytest.mark.django_db
def test_a_purge_works_through_a_backlog_in_batches_and_only_what_it_selects():
    for n in range(7):
        IdempotencyRecord.objects.create(actor="user:1", key=f"k{n}", request_hash="h")
    keep = IdempotencyRecord.objects.create(actor="user:2", key="k", request_hash="h")

    assert rows_purge(IdempotencyRecord.objects.filter(actor="user:1"), batch_size=2) == 7

    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [keep.pk]


@pytest.mark.django_db
def test_beat_runs_every_retention_job_daily(settings):
    from config.celery import app

    app.loader.import_default_modules()
    jobs = [
        job for name, job in settings.CELERY_BEAT_SCHEDULE.items() if name.startswith("retention-")
    ]

    assert sorted(job["task"] for job in jobs) == [
        "institutions.tasks.purge_idempotency_records",
        "institutions.tasks.purge_webhook_deliveries",
        "kyc.tasks.purge_denied_kyc_access",
    ]
    for job in jobs:
        assert job["schedule"] == timedelta(hours=24)
        assert app.tasks[job["task"]].delay().get() == 0  # nothing old enough yet
