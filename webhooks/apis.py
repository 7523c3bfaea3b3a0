"""The partner API for webhook endpoints: management for the calling institution
(thin views). An institution sees and deletes only its own endpoints; anything else is 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from core.schema import raises
from institutions.authentication import caller
from institutions.idempotency_api import idempotent
from webhooks import serializers as s
from webhooks.models import WebhookEndpoint
from webhooks.services import (
    TooManyWebhookEndpoints,
    webhook_endpoint_delete,
    webhook_endpoint_get,
    webhook_endpoint_register,
    webhook_endpoints_of,
)
from webhooks.urlsafety import WebhookUrlRefused


def _endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return s.WebhookEndpointOut(
        {
            "id": endpoint.pk,
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "enabled": endpoint.enabled,
            "disabled_reason": endpoint.disabled_reason,
            "created_at": endpoint.created_at,
        }
    ).data


class _SecretShownOnce(Response):
    """The created endpoint with its secret in the rendered body only. `data` (what the
    idempotency layer stores for replays) carries `secret: null`, so the plaintext secret is
    never written to the database."""

    def __init__(self, data: dict[str, Any], *, secret: str, status: int) -> None:
        super().__init__({**data, "secret": None}, status=status)
        self._secret = secret

    @property
    def rendered_content(self) -> Any:
        self.data = {**self.data, "secret": self._secret}
        return super().rendered_content


class WebhookEndpointsApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="Your webhook endpoints",
        responses=s.WebhookEndpointListOut,
    )
    def get(self, request: Request) -> Response:
        endpoints = webhook_endpoints_of(institution=caller(request))
        return Response({"results": [_endpoint(e) for e in endpoints], "next": None})

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Register a webhook endpoint (the signing secret is shown once)",
        description=(
            "Events are signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
            "`webhook-signature: v1,…`) with the returned `whsec_` secret; dedupe on "
            "`webhook-id`. Answer 2xx within 5 s; anything else is retried (5 s, 5 min, 30 min, "
            "2 h, 5 h, 10 h, 10 h, plus jitter). Answering 410 Gone disables the endpoint. "
            "The URL must be https and its host must resolve only to public addresses "
            "(no loopback, private, link-local or metadata addresses); the hub checks again "
            "before every attempt and counts a refusal as a failed attempt."
        ),
        request=s.WebhookEndpointIn,
        responses={201: s.WebhookEndpointCreatedOut},
    )
    @raises(DomainError, TooManyWebhookEndpoints, WebhookUrlRefused)
    @idempotent
    def post(self, request: Request) -> Response:
        body = s.WebhookEndpointIn(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_register(
            institution=caller(request),
            url=body.validated_data["url"],
            event_types=body.validated_data["event_types"],
        )
        return _SecretShownOnce(_endpoint(endpoint), secret=secret, status=201)


class WebhookEndpointApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        summary="One of your webhook endpoints",
        responses=s.WebhookEndpointOut,
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(
            _endpoint(webhook_endpoint_get(institution=caller(request), endpoint_id=endpoint_id))
        )

    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        summary="Delete one of your webhook endpoints",
        responses={204: None},
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        webhook_endpoint_delete(institution=caller(request), endpoint_id=endpoint_id)
        return Response(status=204)
