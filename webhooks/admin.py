"""The operator's webhook pages: endpoints (with the API's URL rules), every delivery with
its attempts (read-only, replayable) and the attempts themselves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from institutions.admin_base import ReadOnlyMixin
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_delivery_replay
from webhooks.urlsafety import WebhookHostUnresolvable, WebhookUrlRefused, webhook_url_check


class WebhookEndpointForm(forms.ModelForm):
    """The same URL rules as the API (webhooks/urlsafety.py): an operator's typo must not
    point the sender inside the network either."""

    url = forms.URLField(assume_scheme="https", max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = ("institution", "url", "event_types", "enabled", "disabled_reason")

    def clean_url(self) -> str:
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
        if not request.user.has_perm("webhooks.change_webhookendpoint"):
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
