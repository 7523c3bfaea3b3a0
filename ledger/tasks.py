"""Thin Celery tasks for the ledger: they call one service each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from ledger.services.log import ledger_integrate


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=1, max_retries=5)
def integrate_pending() -> int:
    """Coalesced integrator run (requested on commit by statement writers, and by beat)."""
    return ledger_integrate(coalesce_seconds=settings.LEDGER_INTEGRATE_COALESCE_SECONDS)


@shared_task(acks_late=True)
def void_expired_pending_transfers() -> int:
    from ledger.services.money import pending_transfers_void_expired

    return pending_transfers_void_expired()


@shared_task(acks_late=True)
def check_witnesses() -> int:
    """Raise or clear the witness lag alerts; returns how many witnesses are alerting."""
    from ledger.services.witnesses import witnesses_lag_check

    return sum(check.alerting for check in witnesses_lag_check())
