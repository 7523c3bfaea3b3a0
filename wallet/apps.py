import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class WalletConfig(AppConfig):
    """The wallet web app for customers of a hosted sending institution: views, forms and
    templates on top of the orders, quotes and KYC services."""

    name = "wallet"
    verbose_name = "Wallet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from wallet import middleware  # noqa: F401  (registers the login-time receiver)
        from wallet.translations import compile_stale

        try:
            compile_stale()
        except OSError as exc:  # a read-only install: `manage.py translations compile` at build
            logger.warning("could not compile translations: %s", exc)
