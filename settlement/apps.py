from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement and reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from settlement import hooks

        hooks.connect()
