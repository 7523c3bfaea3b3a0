"""`manage.py translations compile`: the .po catalogs in locale/ to .mo with Babel (no GNU
gettext needed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from wallet.translations import compile_stale


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po to .mo with Babel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["compile"])
        parser.add_argument("--force", action="store_true", help="compile even if up to date")

    def handle(self, *args: Any, **options: Any) -> None:
        written = compile_stale(force=options["force"])
        for mo in written:
            self.stdout.write(f"compiled {mo}")
        if not written:
            self.stdout.write("translations up to date")
