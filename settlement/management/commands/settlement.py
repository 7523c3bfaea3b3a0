from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from settlement.models import SettlementWindow
from settlement.services import instructions, windows


class Command(BaseCommand):
    help = (
        "Settlement windows: `settlement close WINDOW`, `settlement settle WINDOW RATE`, "
        "`settlement export WINDOW --out DIR` (instructions CSV + pacs.008 XML + report CSV)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("close").add_argument("window", type=int)
        settle = sub.add_parser("settle")
        settle.add_argument("window", type=int)
        settle.add_argument("rate")
        settle.add_argument("--source", default="command")
        export = sub.add_parser("export")
        export.add_argument("window", type=int)
        export.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "close":
                window = windows.window_close(window_id=options["window"])
            elif action == "settle":
                window = windows.window_settle(
                    window_id=options["window"],
                    settlement_rate=options["rate"],
                    rate_source=options["source"],
                    actor="command",
                )
            else:
                window = SettlementWindow.objects.select_related("corridor").get(
                    pk=options["window"]
                )
                out: Path = options["out"]
                out.mkdir(parents=True, exist_ok=True)
                (out / "instructions.csv").write_text(
                    instructions.window_instructions_csv(window=window)
                )
                (out / "pacs008.xml").write_bytes(
                    instructions.window_instructions_pacs008(window=window)
                )
                (out / "report.csv").write_text(instructions.window_report_csv(window=window))
        except (DomainError, SettlementWindow.DoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{window}")
