"""Thin Celery tasks: they take ids, call one service, and on failure call a service too."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.errors import DomainError
from settlement.rates import fx_rates_refresh


@shared_task(acks_late=True)
def refresh_fx_rates() -> int:
    return fx_rates_refresh()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=5)
def close_window(window_id: int) -> str:
    """Close one window. Safe to run twice or after a killed worker: the close is one
    transaction and a closed window is returned unchanged."""
    from settlement.services.windows import window_close

    return window_close(window_id=window_id).status


@shared_task(acks_late=True)
def close_due_windows() -> int:
    from settlement.services.windows import window_close_request, windows_due_for_close

    due = windows_due_for_close()
    for window_id in due:
        window_close_request(window_id=window_id, actor="beat")
    return len(due)


# A window waiting for its parties' witness cosignatures is settled again this often, for
# at most an hour; it then stays closed for the operator (the witnesses' lag is alerted).
SETTLE_WITNESS_RETRY_SECONDS = 30
SETTLE_WITNESS_RETRIES = 120


@shared_task(bind=True, acks_late=True, max_retries=SETTLE_WITNESS_RETRIES)
def settle_window(
    self: Any, window_id: int, settlement_rate: str | None = None, actor: str = ""
) -> str:
    from settlement.services.windows import WindowNotWitnessed, window_fail, window_settle

    try:
        return window_settle(
            window_id=window_id, settlement_rate=settlement_rate, actor=actor or "operator"
        ).status
    except WindowNotWitnessed as exc:
        # not a failure: nothing moved, and the witnesses are expected within seconds
        if self.request.retries >= SETTLE_WITNESS_RETRIES:
            return "waiting_for_witnesses"
        raise self.retry(countdown=SETTLE_WITNESS_RETRY_SECONDS, exc=exc) from None
    except DomainError as exc:
        window_fail(window_id=window_id, reason=f"{exc.code}: {exc.detail}")
        return "failed"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=5)
def mark_window_orders_settled(window_id: int) -> int:
    from settlement.services.windows import window_orders_mark_settled

    return window_orders_mark_settled(window_id=window_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=1, max_retries=5)
def reconcile_entries(first_seq: int, last_seq: int) -> dict[str, int]:
    from settlement.services.reconciliation import reconcile_entries as reconcile

    return reconcile(first_seq=first_seq, last_seq=last_seq)


@shared_task(acks_late=True)
def reconciliation_sweep() -> dict[str, int]:
    from settlement.services.reconciliation import reconciliation_sweep as sweep

    return sweep()
