"""Refuse malformed request lines before anything else reads them (first in MIDDLEWARE).

- A path plus query string longer than `REQUEST_URI_MAX_LENGTH` (4096) answers 414
  `uri_too_long` in problem JSON. gunicorn's own limit (`limit_request_line`, 8190 in
  config/gunicorn.conf.py) sits above it, so only lines longer than that still get gunicorn's
  HTML page.
- A control character (U+0000–U+001F, U+007F) in the path or the decoded query string answers
  400 `invalid_request`: a NUL would otherwise reach PostgreSQL, which refuses it with an error
  (a 500), and no identifier or parameter of ours contains one.
- An API request with a credential in its query string (`?api_key=…`, or any value shaped like
  an API key) answers 400 `credentials_in_query`: query strings end up in proxies' and
  browsers' logs, so credentials travel only in the Authorization header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote_plus

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.problems import problem_json_response

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Parameter names compared lower-cased with "-" and "_" removed (`api-key`, `API_KEY`, …).
_CREDENTIAL_NAMES = frozenset(
    {
        "apikey",
        "key",
        "token",
        "accesstoken",
        "authorization",
        "auth",
        "bearer",
        "secret",
        "clientsecret",
        "password",
    }
)
_API_KEY_SHAPE = re.compile(r"rk_[0-9a-f]{8}_[A-Za-z0-9_-]{16,}")


class RequestLineGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return request_line_refusal(request) or self.get_response(request)


def request_line_refusal(request: HttpRequest) -> HttpResponse | None:
    """The problem answer for a request line we refuse, or None."""
    limit = settings.REQUEST_URI_MAX_LENGTH
    if len(request.get_full_path()) > limit:
        return problem_json_response(
            status=414,
            code="uri_too_long",
            title="URI too long",
            detail=f"The path and query string together may be at most {limit} characters.",
        )
    query = request.META.get("QUERY_STRING", "")
    if _CONTROL_CHARACTER.search(request.path_info) or _CONTROL_CHARACTER.search(
        unquote_plus(query, errors="replace")
    ):
        return problem_json_response(
            status=400,
            code="invalid_request",
            title="Invalid request",
            detail="The path or query string contains a control character.",
        )
    if request.path_info.startswith("/api/") and query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            normalised = name.lower().replace("-", "").replace("_", "")
            if normalised in _CREDENTIAL_NAMES or _API_KEY_SHAPE.search(value):
                return problem_json_response(
                    status=400,
                    code="credentials_in_query",
                    title="Credentials in query string",
                    detail=f"Query parameter {name!r} looks like a credential. Send the API "
                    "key only in the Authorization header; treat a key sent in a URL as exposed.",
                )
    return None
