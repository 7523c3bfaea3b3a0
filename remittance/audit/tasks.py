from celery import shared_task

from remittance.audit.services import audit_run


@shared_task(acks_late=True, ignore_result=True)
def audit_invariants() -> bool:
    """The beat's audit (AUDIT_INTERVAL_SECONDS): read-only checks, so a redelivery after a
    worker crash only runs them again."""
    return audit_run(trigger="beat").ok
