"""Admin building blocks every app shares (institutions is the lowest app)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyMixin:
    """History is not edited in the admin: no add, change or delete. Actions that change
    state go through services (and so through the audit trail and the ledger)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


def staff_actor(request: HttpRequest) -> str:
    """How a staff member appears in audit trails and status-change rows."""
    return f"staff:{request.user.get_username()}"
