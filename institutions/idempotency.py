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
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import Conflict, DomainError

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


def _actor(request: Request) -> str:
    user = request.user
    code = getattr(user, "code", None)
    if code:
        return f"institution:{code}"
    return f"user:{getattr(user, 'pk', 'anonymous')}"


def _request_hash(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    material = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(material).hexdigest()


def _claim(actor: str, key: str, request_hash: str) -> IdempotencyRecord | Response:
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
    response = Response(existing.response_body, status=existing.response_status)
    response["Idempotent-Replayed"] = "true"
    if existing.response_status and existing.response_status >= 400:
        response.content_type = "application/problem+json"
    return response


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


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's `post`. Requires the header; replays completed responses."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise IdempotencyKeyRequired("Send a unique Idempotency-Key header with every POST.")
        if len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyRequired(f"Idempotency-Key is longer than {MAX_KEY_LENGTH}.")
        claimed = _claim(_actor(request), key, _request_hash(request))
        if isinstance(claimed, Response):
            return claimed
        try:
            response = view_method(self, request, *args, **kwargs)
        except DomainError as exc:
            from config.problems import problem

            body = problem(
                status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
            )
            _complete(claimed, exc.status, body)
            raise
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500:
            claimed.delete()
        else:
            _complete(claimed, response.status_code, response.data)
        return response

    return wrapper


def _complete(record: IdempotencyRecord, status: int, body: Any) -> None:
    stored = json.dumps(body, default=str)
    table = IdempotencyRecord._meta.db_table
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET response_status = %s, response_body = %s{cast}, '  # noqa: S608
            "completed_at = %s WHERE id = %s",
            [status, stored, timezone.now(), record.pk],
        )
