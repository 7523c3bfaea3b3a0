from celery import shared_task

from institutions.models import Institution
from remittance.services.orders import orders_expire_due, orders_release_liquidity_held


@shared_task(acks_late=True)
def expire_due_orders() -> int:
    return orders_expire_due()


@shared_task(acks_late=True)
def release_liquidity_held(institution_id: int, currency: str) -> int:
    institution = Institution.objects.get(pk=institution_id)
    return orders_release_liquidity_held(institution=institution, currency=currency)
