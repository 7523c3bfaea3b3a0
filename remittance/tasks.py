from celery import shared_task

from remittance.services.orders import orders_expire_due


@shared_task(acks_late=True)
def expire_due_orders() -> int:
    return orders_expire_due()
