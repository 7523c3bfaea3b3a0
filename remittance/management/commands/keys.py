"""`manage.py keys rewrap` — after prepending a new key-encryption key to REMIT_KEKS: re-wrap
every secret the hub keeps wrapped (KYC data keys, hosted signing keys, webhook secrets)
under the current KEK. Safe to run again; once it reports 0 left, the old KEK can go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from institutions.services import signing_keys_rewrap
from kyc.services import kek_rewrap_all
from webhooks.services import webhook_secrets_rewrap


class Command(BaseCommand):
    help = "Re-wrap every KEK-wrapped secret under the current key-encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rewrap"])

    def handle(self, *args: Any, **options: Any) -> None:
        kyc = kek_rewrap_all()
        signing = signing_keys_rewrap()
        webhooks = webhook_secrets_rewrap()
        self.stdout.write(
            f"re-wrapped {kyc} KYC data key(s), {signing} signing key(s), "
            f"{webhooks} webhook secret(s) with the current KEK"
        )
