"""Shapes of the webhook endpoints partner API."""

from __future__ import annotations

from urllib.parse import urlsplit

from rest_framework import serializers

from webhooks.services import EVENT_TYPES


class WebhookEndpointIn(serializers.Serializer):
    url = serializers.URLField(
        max_length=500,
        help_text=(
            "An https URL whose host resolves only to public addresses (checked again before "
            "every attempt); otherwise 422 `webhook_url_refused`, with `rule` saying why."
        ),
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        default=list,
        max_length=len(EVENT_TYPES),
        help_text="Event types to receive; empty or absent means all.",
    )

    def validate_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"}:
            raise serializers.ValidationError("use an http(s) URL")
        if parts.username or parts.password:
            raise serializers.ValidationError("no credentials in the URL; webhooks are signed")
        return value


class WebhookEndpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret = serializers.CharField(
        allow_null=True,
        help_text=(
            "The `whsec_` signing secret, shown in this response only. A replay of the same "
            "request (same Idempotency-Key) answers null here: the hub never stores it in clear."
        ),
    )


class WebhookEndpointListOut(serializers.Serializer):
    results = WebhookEndpointOut(many=True)
    next = serializers.CharField(allow_null=True)
