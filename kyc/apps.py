from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "kyc"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from institutions.wrapped import wrapped_column_register
        from kyc.crypto import data_key_aad
        from kyc.models import KycRecord

        wrapped_column_register(
            label="KYC data keys",
            queryset=lambda: KycRecord.objects.filter(wrapped_data_key__isnull=False),
            field="wrapped_data_key",
            aad=lambda record: data_key_aad(record.kyc_ref),
        )
