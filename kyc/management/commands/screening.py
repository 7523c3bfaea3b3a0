"""`manage.py screening import --format un-xml|ofac-csv FILE [--alt alt.csv]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from kyc.management.commands.kyc import _operator
from kyc.screening import PARSERS
from kyc.services import screening_list_import


class Command(BaseCommand):
    help = "Import a sanctions list (UN consolidated XML or OFAC SDN CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="replace a source's entries with this file's")
        load.add_argument("--format", dest="fmt", required=True, choices=sorted(PARSERS))
        load.add_argument("file", type=Path)
        load.add_argument("--alt", type=Path, help="OFAC alt.csv (aliases), with ofac-csv")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _import(self, *, fmt: str, file: Path, alt: Path | None, **_: Any) -> None:
        if alt is not None and fmt != "ofac-csv":
            raise CommandError("--alt goes with --format ofac-csv")
        try:
            result = screening_list_import(
                fmt=fmt,
                content=file.read_bytes(),
                alt_content=alt.read_bytes() if alt else None,
                actor=_operator(),
            )
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(
            f"imported {result.entries} {result.get_source_display()} entries "
            f"(sha256 {result.file_sha256[:12]}…)"
        )
