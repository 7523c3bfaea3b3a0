"""The HTTP side of `Idempotency-Key` (institutions/idempotency.py keeps the records).

- `@idempotent`: a POST whose view runs once per key — the claim is written in its own short
  transaction before the view runs, the response stored after it.
- `@idempotent_in_service` + `idempotency_claim(request, respond)`: a batched POST whose
  service stores the key in its own transaction (orders): the decorator checks the header and
  marks the operation for the OpenAPI schema; the view hands the service a `Claim` carrying
  its own serializer (`respond`), so a replay is byte for byte the first response.
- `replay_response`: the stored answer as a DRF response, marked `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError
from core.problems import PROBLEM_CONTENT_TYPE, problem
from institutions.idempotency import (
    MAX_KEY_LENGTH,
    Claim,
    IdempotencyKeyRequired,
    Replay,
    claim_or_replay,
    record_complete,
)


def replay_response(replay: Replay) -> Response:
    response = Response(replay.body, status=replay.status)
    response["Idempotent-Replayed"] = "true"
    if replay.status >= 400:
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_body(exc: DomainError) -> tuple[int, dict[str, Any]]:
    """How a refusal is stored and sent: its status and problem document."""
    return exc.status, problem(
        status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
    )


def request_actor(request: Request) -> str:
    user = request.user
    code = getattr(user, "code", None)
    if code:
        return f"institution:{code}"
    return f"user:{getattr(user, 'pk', 'anonymous')}"


def request_hash(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    material = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(material).hexdigest()


def request_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise IdempotencyKeyRequired("Send a unique Idempotency-Key header with every POST.")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyRequired(f"Idempotency-Key is longer than {MAX_KEY_LENGTH}.")
    return key


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's `post`. Requires the header; replays completed responses."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request_key(request)
        claimed = claim_or_replay(request_actor(request), key, request_hash(request))
        if isinstance(claimed, Replay):
            return replay_response(claimed)
        try:
            response = view_method(self, request, *args, **kwargs)
        except DomainError as exc:
            record_complete(claimed, *problem_body(exc))
            raise
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500:
            claimed.delete()
        else:
            record_complete(claimed, response.status_code, response.data)
        return response

    wrapper.__dict__["idempotent_post"] = True  # read by the OpenAPI schema
    return wrapper


def idempotent_in_service(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a batched APIView's `post`: requires the header (before the body is even
    read); the view then builds its claim with `idempotency_claim`."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        request_key(request)
        return view_method(self, request, *args, **kwargs)

    wrapper.__dict__["idempotent_post"] = True
    return wrapper


def idempotency_claim(request: Request, respond: Callable[[Any], tuple[int, Any]]) -> Claim:
    """The request's Idempotency-Key as a `Claim` for a service that stores it in its own
    transaction; `respond` turns the service's result (or refusal) into what is stored."""
    return Claim(
        actor=request_actor(request),
        key=request_key(request),
        request_hash=request_hash(request),
        respond=respond,
    )
