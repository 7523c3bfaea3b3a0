from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "remittance.audit"
    label = "remittance_audit"
    verbose_name = "Invariant audit"
    default_auto_field = "django.db.models.BigAutoField"
