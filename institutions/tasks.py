"""Thin Celery tasks for institutions: webhook delivery."""

from __future__ import annotations

from celery import shared_task

from institutions.services_webhooks import webhook_deliveries_send


@shared_task(acks_late=True)
def deliver_webhooks() -> int:
    """Send every due webhook delivery in one batched run. Requested (coalesced) on commit by
    `webhook_event_publish` and replays, and by beat every few seconds for due retries."""
    return webhook_deliveries_send()
