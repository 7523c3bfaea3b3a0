from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from institutions.wrapped import wrapped_column_register
        from webhooks.models import WebhookEndpoint
        from webhooks.services import webhook_secret_aad

        wrapped_column_register(
            label="webhook secrets",
            queryset=lambda: WebhookEndpoint.objects.exclude(wrapped_secret=b""),
            field="wrapped_secret",
            aad=lambda endpoint: webhook_secret_aad(endpoint.pk),
        )
