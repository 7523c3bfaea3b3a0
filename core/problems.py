"""RFC 9457 problem details for every API error.

Every error a client can cause answers `application/problem+json` with a stable `code`
(documented in docs/api.md); never a stack trace, never PII. Services raise `DomainError`
subclasses; this module turns them (and DRF's own exceptions) into problems.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://docs.remit.example/problems/"


def problem(
    *, status: int, code: str, title: str, detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def problem_response(**kwargs: Any) -> Response:
    body = problem(**kwargs)
    return Response(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


_DRF_CODES: dict[type, tuple[str, str]] = {
    drf_exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    drf_exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    drf_exceptions.NotFound: ("not_found", "Not found"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf_exceptions.Throttled: ("throttled", "Too many requests"),
    drf_exceptions.ParseError: ("malformed_request", "Malformed request body"),
    drf_exceptions.ValidationError: ("validation_error", "Invalid request"),
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return problem_response(
            status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django logs it and answers a bare 500 (see handler500)
    code, title = "error", "Error"
    for cls, (c, t) in _DRF_CODES.items():
        if isinstance(exc, cls):
            code, title = c, t
            break
    extra: dict[str, Any] = {}
    if isinstance(exc, drf_exceptions.ValidationError):
        extra["errors"] = response.data
        detail = "One or more fields are invalid."
    else:
        detail = str(getattr(exc, "detail", "")) or title
    body = problem(status=response.status_code, code=code, title=title, detail=detail, **extra)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_json_response(**kwargs: Any) -> JsonResponse:
    """A problem answered outside DRF (middleware, Django's error handlers)."""
    body = problem(**kwargs)
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


def _plain_problem(status: int, code: str, title: str) -> JsonResponse:
    return problem_json_response(status=status, code=code, title=title)


def _is_api(request: HttpRequest) -> bool:
    """API clients get problem JSON; people on the web pages get a page (templates/404.html,
    500.html) — never Django's debug page and never a stack trace either way."""
    return request.path.startswith("/api/")


def handler404(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse | HttpResponse:
    if not _is_api(request):
        return render(request, "404.html", status=404)
    return _plain_problem(404, "not_found", "Not found")


def handler500(request: HttpRequest) -> JsonResponse | HttpResponse:
    if not _is_api(request):
        # no request context: whatever failed (the database, a context processor) must not
        # fail the error page too
        try:
            return HttpResponseServerError(render_to_string("500.html"))
        except Exception:  # the template itself is broken: a line of text is still an answer
            logger.exception("the 500 page failed to render")
            return HttpResponseServerError(
                "Something went wrong on our side. Please try again later.",
                content_type="text/plain; charset=utf-8",
            )
    return _plain_problem(500, "internal_error", "Internal error")


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        return _plain_problem(413, "payload_too_large", "Request body too large")
    return _plain_problem(400, "bad_request", "Bad request")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Problem JSON for the API; the admin's own page for a signed-in member of staff (the
    admin is server-rendered: a raw JSON body there reads as a crash)."""
    if request.path.startswith("/admin/"):
        from django.contrib import admin
        from django.template.response import TemplateResponse

        context = {
            **admin.site.each_context(request),
            "title": "Permission denied",
            "exception_message": "Your role does not include this page or action.",
        }
        response = TemplateResponse(request, "admin/403.html", context, status=403)
        return response.render()
    return _plain_problem(403, "permission_denied", "Permission denied")
