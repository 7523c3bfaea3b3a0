from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from institutions import services
from institutions.models import (
    ApiCredential,
    Corridor,
    Currency,
    Institution,
    SigningKey,
)


class SigningKeyInline(admin.TabularInline):
    model = SigningKey
    fields = ("key_id", "active", "created_at", "retired_at", "hub_holds_private_key")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(boolean=True)
    def hub_holds_private_key(self, obj: SigningKey) -> bool:
        return bool(obj.wrapped_private_key)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "currency", "roles_display", "hosted")
    search_fields = ("code", "name")
    list_filter = ("country", "is_sending", "is_receiving", "hosted")
    inlines = [SigningKeyInline]
    actions = ["rotate_signing_key", "issue_api_key"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Onboarding goes through services (it writes a ledger statement); the admin edits names.
        return ("code", "is_operator", "hosted", "created_at") if obj else ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="roles")
    def roles_display(self, obj: Institution) -> str:
        return ", ".join(obj.roles)

    @admin.action(description="Rotate signing key (hosted institutions)")
    def rotate_signing_key(self, request: HttpRequest, queryset: QuerySet[Institution]) -> None:
        for institution in queryset:
            if not institution.hosted:
                self.message_user(
                    request,
                    f"{institution.code} is external: it rotates by registering a new public key "
                    "through onboarding.",
                    messages.WARNING,
                )
                continue
            new = services.signing_key_rotate(institution=institution)
            self.message_user(request, f"{institution.code}: new key {new.signing_key.key_id}")

    @admin.action(description="Issue a new API key (shown once)")
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[Institution]) -> None:
        for institution in queryset:
            _, key = services.api_credential_create(institution=institution, label="admin")
            self.message_user(
                request,
                f"{institution.code}: {key} — copy it now; it is not stored.",
                messages.WARNING,
            )


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    list_display = ("institution", "prefix", "label", "created_at", "last_used_at", "revoked_at")
    list_filter = ("institution",)
    readonly_fields = ("institution", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("secret_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiCredential]) -> None:
        for credential in queryset:
            services.api_credential_revoke(credential=credential)
        self.message_user(request, "Revoked.")


@admin.register(Corridor)
class CorridorAdmin(admin.ModelAdmin):
    list_display = ("code", "source_currency", "destination_currency", "active", "opened_at")


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "minor_units")
