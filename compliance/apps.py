from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compliance.services.monitoring import batch_judge
        from remittance.monitoring import judge_register

        judge_register(batch_judge)
