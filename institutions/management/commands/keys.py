"""`manage.py keys rewrap` — after prepending a new key-encryption key to REMIT_KEKS: re-wrap
every secret the hub keeps wrapped (every column registered in institutions/wrapped.py: KYC
data keys, hosted signing keys, webhook secrets, name checks, case evidence…) under the current
KEK. Safe to run again; once it reports 0 for every column, the old KEK can go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from institutions.wrapped import wrapped_columns_rewrap


class Command(BaseCommand):
    help = "Re-wrap every KEK-wrapped secret under the current key-encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rewrap"])

    def handle(self, *args: Any, **options: Any) -> None:
        counts = wrapped_columns_rewrap()
        self.stdout.write(
            "re-wrapped with the current KEK: "
            + ", ".join(f"{label} {count}" for label, count in counts.items())
        )
