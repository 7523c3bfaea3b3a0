from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "institutions"
    verbose_name = "Institutions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from institutions import schema  # noqa: F401  (registers the OpenAPI auth extension)
