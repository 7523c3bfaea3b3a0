from django.apps import AppConfig


class RemittanceConfig(AppConfig):
    name = "remittance"
    default_auto_field = "django.db.models.BigAutoField"
