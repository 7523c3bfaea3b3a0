"""Thin Celery tasks for webhooks: delivery, and retention of finished deliveries (beat,
daily). Their names predate this app and stay as they were, so messages already queued and
beat entries keep working."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from webhooks.services import webhook_deliveries_purge, webhook_deliveries_send


@shared_task(name="institutions.tasks.deliver_webhooks", acks_late=True)
def deliver_webhooks() -> int:
    """Send every due webhook delivery in one batched run. Requested (coalesced) on commit by
    `webhook_event_publish` and replays, and by beat every few seconds for due retries."""
    return webhook_deliveries_send()


@shared_task(
    name="institutions.tasks.purge_webhook_deliveries",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
)
def purge_webhook_deliveries() -> int:
    """Daily. A retry resumes where the failed run stopped (each batch commits on its own)."""
    return webhook_deliveries_purge()
