"""`Idempotency-Key` for every POST of the partner API (DESIGN.md §6).

A unique (actor, key) row with a hash of the request: same key and same request → the first
response again (marked `Idempotent-Replayed: true`); same key, other request → 409
`idempotency_key_reused`; while the first is still running → 409 `request_in_progress`.
The row is written in its own short transaction before the view runs, so two racing retries
cannot both run the view; a claim older than STALE_AFTER that never completed (its request
died) is taken over by exactly one retry, with a conditional UPDATE. Server errors (5xx) are
not stored: the client may retry them.

This layer makes HTTP retries safe; the services stay idempotent by their own natural keys
(order ids, transfer ids), so money can never move twice even if this table were lost.

Batched endpoints (order submits, remittance/batching.py) take the key into the service
instead (`@idempotent_in_service`, `Claim`): the batch reads the batch's keys in one query
before it decides anything and stores each response in the batch's own transaction, so the
record commits with the order or not at all, and a request costs no extra commit. Two
concurrent requests with one key: the second's INSERT waits for the first's commit and
fails on the unique key; its batch runs again and finds the first's response. Requests refused
before they reach the service (a malformed body) are not stored: a retry is judged again.

Records are kept IDEMPOTENCY_RETENTION_DAYS (7) after the request completed, then deleted by
`idempotency_records_purge` (beat, daily): a key sent again after that is a new request. Money
still cannot move twice, for the reason above (an order's own id answers the stored order).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError
from core.retention import retention_cutoff, rows_purge

STALE_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 200


class IdempotencyKeyRequired(DomainError):
    code, status, title = "idempotency_key_required", 400, "Idempotency-Key header required"


class IdempotencyKeyReused(Conflict):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different request"


class RequestInProgress(Conflict):
    code, title = "request_in_progress", "A request with this Idempotency-Key is in progress"


class IdempotencyRecord(models.Model):
    actor = models.CharField(max_length=64, help_text="institution:<code> or user:<id>")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "institutions"
        constraints = [
            models.UniqueConstraint(fields=["actor", "key"], name="idempotency_actor_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.actor} {self.key}"


def claim_or_replay(actor: str, key: str, request_hash: str) -> IdempotencyRecord | Replay:
    """Insert the in-flight row, or answer from the existing one."""
    claimed = _insert_claim(actor, key, request_hash)
    if claimed is not None:
        return claimed
    existing = IdempotencyRecord.objects.filter(actor=actor, key=key).first()
    if existing is None:  # the first attempt failed (5xx) and let go of the key meanwhile
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    actor=actor, key=key, request_hash=request_hash
                )
        except IntegrityError:  # another retry claimed it in between
            raise RequestInProgress("Retry after the first request has finished.") from None
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request; use a new key."
        )
    if existing.completed_at is None:
        if timezone.now() - existing.created_at < STALE_AFTER:
            raise RequestInProgress("Retry after the first request has finished.")
        return _take_over(existing)
    return Replay(existing.response_status or 200, existing.response_body)


def _insert_claim(actor: str, key: str, request_hash: str) -> IdempotencyRecord | None:
    """The claim row, or None when (actor, key) exists: one statement that commits on its own
    (every partner POST pays for it, so no ORM and no transaction block around it)."""
    if connection.in_atomic_block:  # inside a caller's transaction (tests): a savepoint
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    actor=actor, key=key, request_hash=request_hash
                )
        except IntegrityError:
            return None
    now = timezone.now()
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (actor, key, request_hash, created_at) '  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (actor, key) DO NOTHING RETURNING id",
            [actor, key, request_hash, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyRecord(
        pk=row[0], actor=actor, key=key, request_hash=request_hash, created_at=now
    )


def _take_over(stale: IdempotencyRecord) -> IdempotencyRecord:
    """Take over a claim whose request died mid-flight (services are idempotent by key, so
    running the view again is safe). One conditional UPDATE on the claim as it was read: of
    several retries that read the same stale claim, exactly one matches; the others (and any
    retry that finds it completed or released meanwhile) answer "in progress"."""
    now = timezone.now()
    taken = IdempotencyRecord.objects.filter(
        pk=stale.pk, created_at=stale.created_at, completed_at__isnull=True
    ).update(created_at=now)
    if taken != 1:
        raise RequestInProgress("Retry after the first request has finished.")
    stale.created_at = now
    return stale


def record_complete(record: IdempotencyRecord, status: int, body: Any) -> None:
    stored = json.dumps(body, default=str)
    table = IdempotencyRecord._meta.db_table
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET response_status = %s, response_body = %s{cast}, '  # noqa: S608
            "completed_at = %s WHERE id = %s",
            [status, stored, timezone.now(), record.pk],
        )


# --- the key inside a batched service's transaction ------------------------------------------


@dataclass(frozen=True)
class Claim:
    """An Idempotency-Key a batched service claims in its own transaction. `respond` turns
    the service's result (or the DomainError refusing it) into the stored (status, body): the
    view's own serialization, so a replay is byte for byte the first response."""

    actor: str
    key: str
    request_hash: str
    respond: Callable[[Any], tuple[int, Any]]


@dataclass(frozen=True)
class Replay:
    """The answer an earlier request with the same key and body got, as stored: what the API
    sends again (`institutions.idempotency_api.replay_response`)."""

    status: int
    body: Any


def claims_resolve(claims: Sequence[Claim | None]) -> list[Replay | DomainError | None]:
    """Inside the caller's transaction, before it decides anything: per claim, the earlier
    answer under its key (a Replay; 409 `idempotency_key_reused` for another body; 409
    `request_in_progress` while the first is running), or None: the request runs. A key twice
    in one call: the second waits for the first, like a concurrent retry. One query."""
    wanted = {(c.actor, c.key) for c in claims if c is not None}
    if not wanted:
        return [None] * len(claims)
    stored: dict[tuple[str, str], IdempotencyRecord] = {}
    query = models.Q()
    for actor, key in wanted:
        query |= models.Q(actor=actor, key=key)
    for record in IdempotencyRecord.objects.filter(query):
        stored[(record.actor, record.key)] = record
    now = timezone.now()
    seen: dict[tuple[str, str], str] = {}
    answers: list[Replay | DomainError | None] = []
    for claim in claims:
        if claim is None:
            answers.append(None)
            continue
        pair = (claim.actor, claim.key)
        found = stored.get(pair)
        if pair in seen:
            answers.append(
                RequestInProgress("Retry after the first request has finished.")
                if seen[pair] == claim.request_hash
                else IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request; use a new key."
                )
            )
            continue
        seen[pair] = claim.request_hash
        if found is None:
            answers.append(None)
            continue
        record = found
        if record.request_hash != claim.request_hash:
            answers.append(
                IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request; use a new key."
                )
            )
        elif record.completed_at is not None:
            answers.append(Replay(record.response_status or 200, record.response_body))
        elif now - record.created_at < STALE_AFTER:
            answers.append(RequestInProgress("Retry after the first request has finished."))
        else:
            # a claim of the one-row path whose request died: this request replaces it
            IdempotencyRecord.objects.filter(pk=record.pk, completed_at__isnull=True).delete()
            answers.append(None)
    return answers


def claims_store(responses: Sequence[tuple[Claim, Any]], *, skip_conflicts: bool = False) -> None:
    """Inside the caller's transaction: store each claim with the response its result gives
    (completed). A key another request stored meanwhile raises IntegrityError (after waiting
    for that request's commit) unless `skip_conflicts`: the caller runs again and finds it.
    Rows go in (actor, key) order, so two callers never wait on each other in a cycle."""
    if not responses:
        return
    now = timezone.now()
    rows = []
    for claim, result in sorted(responses, key=lambda cr: (cr[0].actor, cr[0].key)):
        status, body = claim.respond(result)
        rows.append(
            IdempotencyRecord(
                actor=claim.actor,
                key=claim.key,
                request_hash=claim.request_hash,
                response_status=status,
                response_body=json.loads(json.dumps(body, default=str)),
                created_at=now,
                completed_at=now,
            )
        )
    from core.db import objs_insert

    objs_insert(rows, ignore_conflicts=skip_conflicts)


# --- retention -------------------------------------------------------------------------------


def idempotency_records_purge() -> int:
    """Delete records that completed more than IDEMPOTENCY_RETENTION_DAYS ago, and claims that
    never completed (their request died and was never retried) started that long ago; returns
    how many. A record completes after it is created, so the created_at index finds them."""
    cutoff = retention_cutoff(
        days=settings.IDEMPOTENCY_RETENTION_DAYS, setting="IDEMPOTENCY_RETENTION_DAYS"
    )
    return rows_purge(
        IdempotencyRecord.objects.filter(created_at__lt=cutoff).filter(
            models.Q(completed_at__isnull=True) | models.Q(completed_at__lt=cutoff)
        )
    )
