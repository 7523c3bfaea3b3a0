"""Retention: rows that are only useful for a while are deleted once that while is over
(docs/operations.md, Security → Retention, says what, for how long and why).

Each job is a service next to its model — `idempotency_records_purge`,
`webhook_deliveries_purge`, `kyc.retention.kyc_denied_access_purge` — run daily by beat. This
module is what they share: the cutoff and the batched delete.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone

PURGE_BATCH = 5000


def retention_cutoff(*, days: int, setting: str) -> datetime:
    """Rows whose age is measured from before this moment have served their time. A period
    under a day is refused: it would delete what is still in use (an Idempotency-Key of a
    request being retried, a delivery being sent)."""
    if days < 1:
        raise ImproperlyConfigured(f"{setting} must be at least 1 (days), not {days}")
    return timezone.now() - timedelta(days=days)


def rows_purge(queryset: models.QuerySet, *, batch_size: int = PURGE_BATCH) -> int:
    """Delete the rows `queryset` selects, `batch_size` at a time in pk order, each batch in
    its own short transaction (a first run over a long backlog never holds one long lock or
    one huge transaction). Returns how many rows of the queryset's model went; rows deleted
    with them by CASCADE are not counted."""
    model = queryset.model
    label = model._meta.label
    deleted, after = 0, None
    while True:
        batch = queryset.order_by("pk")
        if after is not None:
            batch = batch.filter(pk__gt=after)
        with transaction.atomic():
            pks = list(batch.values_list("pk", flat=True)[:batch_size])
            if pks:
                _, per_model = model._base_manager.filter(pk__in=pks).only("pk").delete()
                deleted += per_model.get(label, 0)
        if len(pks) < batch_size:
            return deleted
        after = pks[-1]
