"""Writes about witnesses: who the hub expects cosignatures from, their latest cosigned
checkpoint, and the lag alert.

A witness is a partner bank running its own verifier (`python -m partner_sdk.witness`); the
cosignatures themselves are taken by `ledger.services.log.cosignature_add`, which moves the
witness's latest checkpoint forward here in the same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from institutions.models import Institution
from ledger.models import Checkpoint, Witness
from ledger.selectors.log import checkpoint_latest
from ledger.selectors.witnesses import witness_lag

logger = logging.getLogger(__name__)


def witness_register(*, institution: Institution) -> Witness:
    """Expect cosignatures from `institution` (idempotent). A witness that never cosigns
    lags from the moment it is registered."""
    witness, _ = Witness.objects.get_or_create(institution=institution)
    return witness


def witness_cosigned(*, institution: Institution, checkpoint: Checkpoint) -> None:
    """Record that `institution` cosigned `checkpoint`: its latest cosigned checkpoint moves
    forward, never back (a witness may also cosign an older checkpoint another witness
    signed). Runs inside `cosignature_add`'s transaction."""
    witness_register(institution=institution)
    Witness.objects.filter(
        Q(last_cosigned_size__isnull=True) | Q(last_cosigned_size__lt=checkpoint.tree_size),
        institution=institution,
    ).update(
        last_checkpoint=checkpoint,
        last_cosigned_size=checkpoint.tree_size,
        last_cosigned_at=timezone.now(),
    )


@dataclass(frozen=True)
class LagCheck:
    institution: str
    lag_entries: int
    lag_seconds: float
    alerting: bool


def witnesses_lag_check(*, now: datetime | None = None) -> list[LagCheck]:
    """Raise the operator alert for each witness whose oldest uncovered checkpoint has waited
    longer than LEDGER_WITNESS_LAG_ALERT_SECONDS, and clear it once the witness catches up.
    An alert is logged (ERROR, `ALERT witness …`) when it is raised, and shown in the admin
    and `manage.py ledger status` while it stands. Run by beat. Only `lag_alert_since` is
    written, so a cosignature arriving meanwhile is not lost."""
    now = now or timezone.now()
    threshold = float(settings.LEDGER_WITNESS_LAG_ALERT_SECONDS)
    latest = checkpoint_latest()
    checks = []
    for witness in Witness.objects.select_related("institution").order_by("pk"):
        entries, seconds = witness_lag(witness, latest=latest, now=now)
        lagging = seconds > threshold
        code = witness.institution.code
        if lagging and witness.lag_alert_since is None:
            witness.lag_alert_since = now
            witness.save(update_fields=["lag_alert_since"])
            logger.error(
                "ALERT witness %s lags %d entries, %.0f s (threshold %.0f s); last cosigned "
                "size %s",
                code,
                entries,
                seconds,
                threshold,
                witness.last_cosigned_size,
            )
        elif not lagging and witness.lag_alert_since is not None:
            witness.lag_alert_since = None
            witness.save(update_fields=["lag_alert_since"])
            logger.warning("witness %s caught up (%d entries behind)", code, entries)
        checks.append(LagCheck(code, entries, seconds, lagging))
    return checks
