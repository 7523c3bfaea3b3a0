"""Thin Celery tasks: they take ids, call one service, and on failure call a service too."""

from __future__ import annotations

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


@shared_task(acks_late=True)
def settle_window(window_id: int, settlement_rate: str | None = None, actor: str = "") -> str:
    from settlement.services.windows import window_fail, window_settle

    try:
        return window_settle(
            window_id=window_id, settlement_rate=settlement_rate, actor=actor or "operator"
        ).status
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
