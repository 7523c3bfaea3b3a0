"""Reads about witnesses: checkpoints cosigned by enough of them, who cosigned what, and how
far behind each witness is.

Checkpoints are published one at a time by the single integrator, so a checkpoint's primary
key grows with its tree size; the queries below order by `checkpoint_id` to walk the
cosignatures' own index newest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from core.errors import DomainError
from ledger.models import Checkpoint, Cosignature, Witness
from ledger.selectors.log import checkpoint_latest


class NotWitnessed(DomainError):
    code, status, title = "not_witnessed", 404, "No checkpoint has that many witness cosignatures"


def checkpoint_witnessed(*, min_witnesses: int) -> Checkpoint | None:
    """The latest checkpoint cosigned by at least `min_witnesses` witnesses (the latest
    checkpoint for 0). What a receipt should be checked against: no single party — the
    operator included — can have shown it a history the others did not see."""
    if min_witnesses <= 0:
        return checkpoint_latest()
    found = (
        Cosignature.objects.values("checkpoint_id")
        .annotate(witnesses=Count("institution_id"))
        .filter(witnesses__gte=min_witnesses)
        .order_by("-checkpoint_id")
        .values_list("checkpoint_id", flat=True)
        .first()
    )
    return None if found is None else Checkpoint.objects.get(pk=found)


def witnesses_count() -> int:
    """How many witnesses the hub expects cosignatures from."""
    return Witness.objects.count()


def checkpoint_cosigned_by_all(
    *, after_seq: int, institution_ids: Iterable[int]
) -> Checkpoint | None:
    """A checkpoint that includes entry `after_seq` (its tree size is larger) and that every
    one of `institution_ids` cosigned — the same checkpoint, so they verified the same tree.
    The earliest such, or None."""
    ids = set(institution_ids)
    if not ids:
        raise ValueError("no institutions to ask for")
    found = (
        Cosignature.objects.filter(checkpoint__tree_size__gt=after_seq, institution_id__in=ids)
        .values("checkpoint_id")
        .annotate(witnesses=Count("institution_id", distinct=True))
        .filter(witnesses=len(ids))
        .order_by("checkpoint_id")
        .values_list("checkpoint_id", flat=True)
        .first()
    )
    return None if found is None else Checkpoint.objects.get(pk=found)


@dataclass(frozen=True)
class CheckpointWitness:
    institution: str
    name: str
    timestamp: int


def checkpoint_witnesses(checkpoint: Checkpoint) -> list[CheckpointWitness]:
    """Who cosigned `checkpoint`, by code and name, with the cosignature's own timestamp."""
    return [
        CheckpointWitness(code, name, timestamp)
        for code, name, timestamp in checkpoint.cosignatures.order_by(
            "institution__code"
        ).values_list("institution__code", "institution__name", "timestamp")
    ]


def checkpoint_note_cosigned_by(checkpoint: Checkpoint, institution_id: int) -> str:
    """The signed note with the operator's line and one witness's line only: what that
    witness vouched for, as other witnesses read it (gossip)."""
    line = (
        checkpoint.cosignatures.filter(institution_id=institution_id)
        .values_list("signature_line", flat=True)
        .get()
    )
    return checkpoint.body + "\n" + checkpoint.signature_line + line


@dataclass(frozen=True)
class WitnessStatus:
    institution: str
    name: str
    last_cosigned_size: int | None
    last_cosigned_at: datetime | None
    lag_entries: int
    lag_seconds: float
    lag_alert_since: datetime | None
    checkpoint: str | None
    """the latest checkpoint it cosigned: operator's line and its own"""


def witness_lag(witness: Witness, *, latest: Checkpoint | None, now: datetime) -> tuple[int, float]:
    """(entries, seconds) a witness is behind: the entries its last cosigned checkpoint does
    not cover, and how long the oldest checkpoint it has not covered has waited (counted from
    when the hub began to expect it, for a new witness)."""
    if latest is None:
        return 0, 0.0
    covered = witness.last_cosigned_size or 0
    if covered >= latest.tree_size:
        return 0, 0.0
    first_uncovered = (
        Checkpoint.objects.filter(tree_size__gt=covered)
        .order_by("tree_size")
        .values_list("created_at", flat=True)
        .first()
    ) or latest.created_at
    since = max(first_uncovered, witness.created_at)
    return latest.tree_size - covered, max(0.0, (now - since) / timedelta(seconds=1))


def witnesses_status(*, now: datetime | None = None) -> list[WitnessStatus]:
    """Every witness with its latest cosigned checkpoint and its lag, by institution code."""
    now = now or timezone.now()
    latest = checkpoint_latest()
    statuses = []
    for witness in Witness.objects.select_related("institution", "last_checkpoint").order_by(
        "institution__code"
    ):
        entries, seconds = witness_lag(witness, latest=latest, now=now)
        checkpoint = witness.last_checkpoint
        statuses.append(
            WitnessStatus(
                institution=witness.institution.code,
                name=witness.institution.name,
                last_cosigned_size=witness.last_cosigned_size,
                last_cosigned_at=witness.last_cosigned_at,
                lag_entries=entries,
                lag_seconds=seconds,
                lag_alert_since=witness.lag_alert_since,
                checkpoint=None
                if checkpoint is None
                else checkpoint_note_cosigned_by(checkpoint, witness.institution_id),
            )
        )
    return statuses
