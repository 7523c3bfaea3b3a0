"""Thin Celery tasks for institutions: retention of idempotency records (beat, daily)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from institutions.idempotency import idempotency_records_purge


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_idempotency_records() -> int:
    """Daily. A retry resumes where the failed run stopped (each batch commits on its own)."""
    return idempotency_records_purge()
