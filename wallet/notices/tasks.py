"""Thin tasks: ids in, one service, retried with a countdown when the mail server fails."""

from __future__ import annotations

from celery import shared_task

from wallet.notices import services


@shared_task(bind=True, max_retries=5, name="wallet.notices_orders_send")
def notices_orders_send(self, order_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    try:
        return services.notices_orders_create(order_ids=order_ids)
    except services.MailFailed as exc:
        raise self.retry(countdown=30 * (self.request.retries + 1)) from exc


@shared_task(bind=True, max_retries=5, name="wallet.notice_kyc_send")
def notice_kyc_send(self, kyc_ref: str, change_id: int) -> int:  # type: ignore[no-untyped-def]
    try:
        return services.notice_kyc_create(kyc_ref=kyc_ref, change_id=change_id)
    except services.MailFailed as exc:
        raise self.retry(countdown=30 * (self.request.retries + 1)) from exc
