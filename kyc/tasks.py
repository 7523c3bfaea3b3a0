"""Thin Celery tasks for KYC: retention of refused-access log rows (beat, daily)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from kyc.retention import kyc_denied_access_purge


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_denied_kyc_access() -> int:
    """Daily. A retry resumes where the failed run stopped (each batch commits on its own)."""
    return kyc_denied_access_purge()
