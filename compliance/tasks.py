"""Celery tasks of the console: thin, take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, max_retries=5)
def rescreen(self, run_id: int) -> int:  # type: ignore[no-untyped-def]
    from compliance.services.sanctions import rescreen_execute

    try:
        return rescreen_execute(run_id=run_id).hits
    except Exception as exc:
        raise self.retry(exc=exc, countdown=10) from exc


@shared_task
def proposals_expire() -> int:
    from compliance.services.four_eyes import proposals_expire as expire

    return expire()


@shared_task
def ledger_verify() -> str:
    """Hourly: recompute the log and record the verdict for the dashboard."""
    from compliance.services.integrity import ledger_verify_record

    return str(ledger_verify_record(actor="system:beat").detail["result"])
