"""`manage.py kyc rewrap|erase` — operator tools for KYC data keys."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from kyc.selectors import kyc_record_get
from kyc.services import kek_rewrap_all, kyc_record_erase


def _operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:unknown"


class Command(BaseCommand):
    help = "Re-wrap KYC data keys under the current KEK, or erase a record (crypto-shredding)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rewrap", help="re-wrap every data key with the current (first) KEK")
        erase = sub.add_parser("erase", help="destroy a record's data key")
        erase.add_argument("kyc_ref")
        erase.add_argument("--reason", required=True)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _rewrap(self, **_: Any) -> None:
        self.stdout.write(f"re-wrapped {kek_rewrap_all()} data key(s) with the current KEK")

    def _erase(self, *, kyc_ref: str, reason: str, **_: Any) -> None:
        try:
            record = kyc_record_get(kyc_ref=kyc_ref)
            kyc_record_erase(record=record, reason=reason, actor=_operator())
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"erased {kyc_ref}: its data key is destroyed")
