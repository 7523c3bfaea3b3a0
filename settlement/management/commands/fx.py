from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from settlement.rates import fx_rates_import_csv, fx_rates_refresh


class Command(BaseCommand):
    help = "FX rates: `fx import FILE.csv` (base,quote,rate[,as_of]) or `fx refresh` (provider)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import")
        imp.add_argument("file", type=Path)
        sub.add_parser("refresh")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "import":
            self.stdout.write(f"imported {fx_rates_import_csv(path=options['file'])} rate(s)")
        else:
            self.stdout.write(f"stored {fx_rates_refresh()} rate(s) from the provider")
