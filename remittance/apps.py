from django.apps import AppConfig


class RemittanceConfig(AppConfig):
    name = "remittance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from remittance import hooks

        hooks.connect()
