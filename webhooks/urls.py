from django.urls import path

from webhooks import apis

urlpatterns = [
    path("webhook-endpoints", apis.WebhookEndpointsApi.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>",
        apis.WebhookEndpointApi.as_view(),
        name="webhook-endpoint",
    ),
]
