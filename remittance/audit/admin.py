"""Audit runs in the admin: read-only, the latest first, breaches with their ids."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from remittance.audit.models import AuditRun


@admin.register(AuditRun)
class AuditRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "result", "breach_list", "log_size", "trigger", "seconds")
    list_filter = ("ok", "trigger")
    readonly_fields = (
        "started_at",
        "finished_at",
        "ok",
        "breaches_pretty",
        "counts",
        "log_checked_from",
        "log_size",
        "trigger",
    )
    exclude = ("breaches", "log_frontier")

    @admin.display(description="result", boolean=False)
    def result(self, run: AuditRun) -> str:
        return "clean" if run.ok else f"BREACH ({len(run.breaches)})"

    @admin.display(description="invariants breached")
    def breach_list(self, run: AuditRun) -> str:
        return ", ".join(sorted({b["invariant"] for b in run.breaches})) or "—"

    @admin.display(description="seconds")
    def seconds(self, run: AuditRun) -> Any:
        return run.counts.get("seconds")

    @admin.display(description="breaches (invariant, detail, ids)")
    def breaches_pretty(self, run: AuditRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(run.breaches, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
