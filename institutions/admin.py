from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from institutions import services
from institutions.admin_base import ReadOnlyMixin
from institutions.models import (
    ApiCredential,
    Corridor,
    Currency,
    Institution,
    SigningKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from institutions.services_webhooks import webhook_delivery_replay


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


class WebhookEndpointForm(forms.ModelForm):
    """The same URL rules as the API (institutions/urlsafety.py): an operator's typo must not
    point the sender inside the network either."""

    url = forms.URLField(assume_scheme="https", max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = ("institution", "url", "event_types", "enabled", "disabled_reason")

    def clean_url(self) -> str:
        from institutions.urlsafety import (
            WebhookHostUnresolvable,
            WebhookUrlRefused,
            webhook_url_check,
        )

        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except WebhookHostUnresolvable:
            pass  # checked again before every send, as for the API
        except WebhookUrlRefused as exc:
            raise forms.ValidationError(exc.detail) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("institution", "url", "enabled", "disabled_reason", "created_at")
    list_filter = ("enabled", "institution")
    readonly_fields = ("created_at",)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = services.webhook_endpoint_create(
            institution=obj.institution, url=obj.url, event_types=obj.event_types
        )
        obj.pk = endpoint.pk
        self.message_user(request, f"Signing secret: {secret} — copy it now.", messages.WARNING)


@admin.register(Corridor)
class CorridorAdmin(admin.ModelAdmin):
    list_display = ("code", "source_currency", "destination_currency", "active", "opened_at")


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "minor_units")


class WebhookAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "attempted_at", "status_code", "error", "latency_ms", "response_excerpt")
    readonly_fields = fields
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every webhook the hub queued, with every attempt. Read-only; "replay" sends one again
    with the same webhook-id (receivers dedupe) and a fresh retry schedule."""

    list_display = (
        "message_id",
        "institution",
        "event_type",
        "status",
        "attempt_count",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type", "institution")
    search_fields = ("=message_id",)
    readonly_fields = (
        "message_id",
        "institution",
        "endpoint",
        "url",
        "event_type",
        "payload",
        "status",
        "outcome",
        "attempt_count",
        "retry_step",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    )
    inlines = [WebhookAttemptInline]
    actions = ["replay"]
    list_select_related = ("institution",)
    show_full_result_count = False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Replaying sends data to a partner: staff with the change permission only.
        actions = super().get_actions(request)
        if not request.user.has_perm("institutions.change_webhookendpoint"):
            actions.pop("replay", None)
        return actions

    @admin.action(description="Replay (send again now, same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        replayed = 0
        for delivery in queryset:
            try:
                webhook_delivery_replay(delivery=delivery)
            except DomainError as exc:
                self.message_user(request, f"{delivery.message_id}: {exc.detail}", messages.ERROR)
                continue
            replayed += 1
        if replayed:
            self.message_user(request, f"{replayed} delivery(ies) queued for replay.")


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "delivery",
        "number",
        "attempted_at",
        "status_code",
        "error",
        "latency_ms",
    )
    list_filter = ("status_code", "error")
    search_fields = ("=delivery__message_id",)
    readonly_fields = (
        "delivery",
        "number",
        "attempted_at",
        "status_code",
        "error",
        "latency_ms",
        "response_excerpt",
    )
    list_select_related = ("delivery",)
    show_full_result_count = False
