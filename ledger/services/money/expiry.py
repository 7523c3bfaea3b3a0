"""Releasing pending transfers whose timeout passed."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ledger.models import Transfer
from ledger.models.money import TransferKind
from ledger.services.money.common import (
    VOID_EXPIRED_CODE,
    VOID_EXPIRED_NAMESPACE,
)
from ledger.services.money.specs import R, TransferSpec
from ledger.services.money.transfers import transfers_create

# --- expiry ---------------------------------------------------------------------------------


def pending_transfers_void_expired(
    *, now: datetime | None = None, limit: int = 1000, batch_size: int = 100
) -> int:
    """Void up to `limit` pending transfers whose timeout has passed and that nobody posted or
    voided; returns how many this run voided. Each batch is its own durable transaction (short
    lock windows) through `transfers_create`. The void ids derive from the pending ids, so
    concurrent or repeated runs void each at most once."""
    now = now or timezone.now()
    expired = list(
        Transfer.objects.filter(
            kind=TransferKind.PENDING, expires_at__lte=now, resolution__isnull=True
        )
        .order_by("expires_at", "pk")
        .values_list("pk", "reference")[:limit]
    )
    voided = 0
    for start in range(0, len(expired), batch_size):
        chunk = expired[start : start + batch_size]
        voids = [
            TransferSpec.void(
                id=uuid.uuid5(VOID_EXPIRED_NAMESPACE, str(pending_id)),
                pending_id=pending_id,
                code=VOID_EXPIRED_CODE,
                reference=reference,
            )
            for pending_id, reference in chunk
        ]
        with transaction.atomic(durable=True):
            results = transfers_create(transfers=voids, subject=VOID_EXPIRED_CODE)
        voided += sum(result.result == R.CREATED for result in results)
    return voided
