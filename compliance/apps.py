from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compliance.models import CaseEvidence
        from compliance.services.monitoring import batch_judge
        from institutions.wrapped import wrapped_column_register
        from kyc.crypto import data_key_aad
        from remittance.monitoring import judge_register

        judge_register(batch_judge)
        wrapped_column_register(
            label="case evidence",
            queryset=lambda: CaseEvidence.objects.all(),
            field="wrapped_data_key",
            aad=lambda evidence: data_key_aad(evidence.doc_ref),
        )
