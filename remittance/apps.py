from django.apps import AppConfig


class RemittanceConfig(AppConfig):
    name = "remittance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from institutions.wrapped import wrapped_column_register
        from remittance import hooks
        from remittance.models import NameCheck
        from remittance.services.name_checks import name_check_aad

        hooks.connect()
        wrapped_column_register(
            label="name checks",
            queryset=lambda: NameCheck.objects.exclude(sealed=b""),
            field="sealed",
            aad=lambda check: name_check_aad(check.id),
        )
