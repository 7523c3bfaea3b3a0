from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "wallet.notices"
    label = "wallet_notices"
    verbose_name = "Wallet notices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import events
        from wallet.notices import listeners

        events.subscribe("order.status_changed", listeners.order_status_changed)
        events.subscribe("kyc.status_changed", listeners.kyc_status_changed)
