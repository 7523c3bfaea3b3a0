"""Thin Celery tasks for institutions: webhook delivery; retention of idempotency records and
finished webhook deliveries (beat, daily)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from institutions.idempotency import idempotency_records_purge
from institutions.services_webhooks import webhook_deliveries_purge, webhook_deliveries_send


@shared_task(acks_late=True)
def deliver_webhooks() -> int:
    """Send every due webhook delivery in one batched run. Requested (coalesced) on commit by
    `webhook_event_publish` and replays, and by beat every few seconds for due retries."""
    return webhook_deliveries_send()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_idempotency_records() -> int:
    """Daily. A retry resumes where the failed run stopped (each batch commits on its own)."""
    return idempotency_records_purge()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_webhook_deliveries() -> int:
    """Daily. A retry resumes where the failed run stopped (each batch commits on its own)."""
    return webhook_deliveries_purge()
