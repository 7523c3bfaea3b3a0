"""OpenAPI: every operation lists the problems it can answer, not only its success.

Errors are RFC 9457 `application/problem+json` (core/problems.py) with a stable `code`.
Each operation's responses carry, per status, the `code`s it can answer, as an enum, so a
client (or a fuzzer checking the API against its schema) knows every answer it may get.

Two sources, merged per status:

- what the operation *is*, derived here once for every view: authenticated → 401; has a JSON
  body → 400 `validation_error`/`malformed_request`, 413, 415; has query parameters → 400
  `validation_error`; has a path id → 404; an idempotent POST (institutions/idempotency.py)
  → the `Idempotency-Key` header, 400 `idempotency_key_required`, 409
  `idempotency_key_reused`/`request_in_progress`; authenticated → 429 `throttled`; any
  operation → the request line guard's 400 `invalid_request`/`credentials_in_query` and 414
  `uri_too_long`;
- what its services refuse, declared on the view method with `@raises(QuoteExpired, …)`:
  the `DomainError` classes the service it calls can raise (each has its `code` and `status`).

Serializers may also declare `exactly_one_of = ("a", "b")`: the request schema then says so
with `oneOf` (the serializer's `validate` enforces the same tuple).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from core.errors import DomainError
from core.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE

F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_COMPONENT = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable; see docs/api.md.",
    "properties": {
        "type": {"type": "string", "format": "uri", "example": PROBLEM_TYPE_BASE + "not_found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "validation_error only: each invalid field and what is wrong",
        },
    },
    "required": ["type", "title", "status", "code"],
    "additionalProperties": True,
}

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "description": (
        "A unique string per intended request. The same key and body again answers the first "
        "response (`Idempotent-Replayed: true`); the same key with another body is 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}

# (status, code, title) of the refusals that come from what an operation is, not its service.
VALIDATION = (400, "validation_error", "a field is wrong; `errors` names each field and rule")
MALFORMED = (400, "malformed_request", "the body is not JSON (or nested too deep)")
UNSUPPORTED_MEDIA_TYPE = (415, "unsupported_media_type", "send Content-Type: application/json")
TOO_LARGE = (413, "payload_too_large", "the body is larger than the upload limit (2.5 MB)")
NOT_FOUND = (404, "not_found", "no such resource for you")
NOT_AUTHENTICATED = (401, "not_authenticated", "no API key")
AUTHENTICATION_FAILED = (401, "authentication_failed", "unknown or revoked API key")
THROTTLED = (429, "throttled", "too many requests; retry after `Retry-After` seconds")
# The request line guard in front of every URL (config/middleware.py).
REQUEST_LINE = (
    (400, "invalid_request", "a control character in the path or query string"),
    (400, "credentials_in_query", "a credential in the query string; use Authorization"),
    (414, "uri_too_long", "path and query string longer than 4096 characters"),
)
IDEMPOTENCY = (
    (400, "idempotency_key_required", "POST without an Idempotency-Key header"),
    (409, "idempotency_key_reused", "the key was used with another request"),
    (409, "request_in_progress", "the first request with this key is still running"),
)


def raises(*errors: type[DomainError]) -> Callable[[F], F]:
    """Declare the refusals a view method's services can raise, for its OpenAPI responses."""

    def declare(view_method: F) -> F:
        view_method.raises = (*getattr(view_method, "raises", ()), *errors)  # type: ignore[attr-defined]
        return view_method

    return declare


def _is_idempotent(view_method: Any) -> bool:
    """Wrapped by `idempotent` or `idempotent_in_service` (institutions/idempotency_api.py),
    which mark the wrapper."""
    function = getattr(view_method, "__func__", view_method)
    while function is not None:
        if getattr(function, "idempotent_post", False):
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def problem_response(problems: Iterable[tuple[int, str, str]], status: int) -> dict[str, Any]:
    """One OpenAPI response for `status`: the Problem schema with `code` limited to these."""
    titles: dict[str, str] = {}
    for _, code, title in sorted(problems, key=lambda p: p[1]):
        if title not in titles.get(code, "").split(" or "):
            titles[code] = f"{titles[code]} or {title}" if code in titles else title
    response: dict[str, Any] = {
        "description": "; ".join(f"`{code}`: {title}" for code, title in titles.items()),
        "content": {
            PROBLEM_CONTENT_TYPE: {
                "schema": {
                    "allOf": [
                        {"$ref": f"#/components/schemas/{PROBLEM_COMPONENT}"},
                        {
                            "type": "object",
                            "properties": {
                                "status": {"type": "integer", "enum": [status]},
                                "code": {"type": "string", "enum": list(titles)},
                            },
                        },
                    ]
                }
            }
        },
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
        }
    return response


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding each operation's problem responses."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self.registry.register_on_missing(
            ResolvedComponent(
                name=PROBLEM_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                object=PROBLEM_COMPONENT,
                schema=PROBLEM_SCHEMA,
            )
        )
        view_method = getattr(self.view, self.method.lower(), None)
        problems = list(self._common_problems(operation, view_method))
        problems += [(e.status, e.code, e.title) for e in getattr(view_method, "raises", ())]
        if self.method == "POST" and _is_idempotent(view_method):
            operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
            problems += IDEMPOTENCY
        for status in sorted({p[0] for p in problems}):
            operation["responses"][str(status)] = problem_response(
                [p for p in problems if p[0] == status], status
            )
        return operation

    def _common_problems(
        self, operation: dict[str, Any], view_method: Any
    ) -> Iterable[tuple[int, str, str]]:
        yield from REQUEST_LINE
        if self.view.get_authenticators():
            yield THROTTLED  # the limits count per institution, and failed keys per address
            yield AUTHENTICATION_FAILED  # a malformed, unknown or revoked key, even if optional
            if {} not in operation.get("security", [{}]):
                yield NOT_AUTHENTICATED
        if "requestBody" in operation:
            yield from (VALIDATION, MALFORMED, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE)
        parameters = operation.get("parameters", [])
        if any(p["in"] == "query" for p in parameters):
            yield VALIDATION
        if any(p["in"] == "path" for p in parameters):
            yield NOT_FOUND

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        exactly_one_of = getattr(serializer, "exactly_one_of", ())
        if exactly_one_of and direction == "request":
            schema["oneOf"] = [{"required": [name]} for name in exactly_one_of]
        return schema
