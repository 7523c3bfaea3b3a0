"""Errors a client can cause, raised by services. Kept free of DRF imports so any layer may
raise them; core/problems.py turns them into RFC 9457 responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal a client can cause. `code` is stable and part of the API contract."""

    code = "invalid_request"
    status = 400
    title = "Invalid request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(DomainError):
    code, status, title = "not_found", 404, "Not found"


class Conflict(DomainError):
    code, status, title = "conflict", 409, "Conflict"


class InvalidSignature(DomainError):
    code, status, title = "invalid_signature", 400, "Invalid signature"
