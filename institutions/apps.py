from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "institutions"
    verbose_name = "Institutions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from institutions import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from institutions.models import SigningKey
        from institutions.services import signing_key_aad
        from institutions.wrapped import wrapped_column_register

        wrapped_column_register(
            label="hosted signing keys",
            queryset=lambda: SigningKey.objects.filter(wrapped_private_key__isnull=False),
            field="wrapped_private_key",
            aad=lambda key: signing_key_aad(key.key_id),
        )
