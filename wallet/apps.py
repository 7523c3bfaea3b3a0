from django.apps import AppConfig


class WalletConfig(AppConfig):
    """The wallet web app for customers of a hosted sending institution (docs/architecture.md):
    views, forms and templates on top of the orders, quotes and KYC services."""

    name = "wallet"
    verbose_name = "Wallet"
    default_auto_field = "django.db.models.BigAutoField"
