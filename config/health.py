"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.celery import app as celery_app
from remittance.audit.selectors import audit_summary


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # a probe reports, it does not raise
        return False, type(exc).__name__


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel.queue_declare(queue="celery", passive=False)
        return True, "ok"
    except Exception as exc:
        return False, type(exc).__name__


def _audit_detail() -> dict[str, Any]:
    """The latest invariant audit (remittance/audit): shown, never a reason to leave rotation —
    a breach is for the operator to investigate, not for the load balancer."""
    try:
        return audit_summary()
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}


def readyz(request: HttpRequest) -> JsonResponse:
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    ready = db_ok and broker_ok
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {"database": db_detail, "broker": broker_detail},
            "audit": _audit_detail() if db_ok else {"status": "unknown"},
        },
        status=200 if ready else 503,
    )
