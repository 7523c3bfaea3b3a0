"""`manage.py ledger export|verify|replay|integrate` — the operator's tools for the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.integrity import log_verify
from ledger.selectors.log import checkpoint_latest, entries_leaves, export_keys
from ledger.services.log import ledger_integrate
from partner_sdk.verify import VerificationError


class Command(BaseCommand):
    help = "Export, verify, replay or integrate the signed ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write entries.jsonl, checkpoint.txt, keys.json")
        export.add_argument("--out", required=True, type=Path)
        sub.add_parser("verify", help="recompute the tree and check every signature")
        sub.add_parser("replay", help="rebuild every balance from the log and compare")
        sub.add_parser("integrate", help="sequence queued statements now")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _export(self, *, out: Path, **_: Any) -> None:
        checkpoint = checkpoint_latest()
        if checkpoint is None:
            raise CommandError("the log has no checkpoint yet")
        out.mkdir(parents=True, exist_ok=True)
        count = 0
        with (out / "entries.jsonl").open("wb") as fh:
            for leaf in entries_leaves(up_to=checkpoint.tree_size):
                fh.write(leaf + b"\n")
                count += 1
        (out / "checkpoint.txt").write_text(checkpoint.note, encoding="utf-8")
        (out / "keys.json").write_text(json.dumps(export_keys(), indent=2) + "\n")
        self.stdout.write(
            f"exported {count} entries and checkpoint {checkpoint.tree_size} to {out}"
        )

    def _verify(self, **_: Any) -> None:
        try:
            report = log_verify()
        except VerificationError as exc:
            where = f"seq={exc.where}" if isinstance(exc.where, int) else str(exc.where)
            self.stderr.write(f"FAIL {where}: {exc.reason}")
            raise SystemExit(1) from None
        self.stdout.write(
            f"OK {report.entries} entries, {report.checkpoints} checkpoints, "
            f"root {report.root.hex()}"
        )

    def _replay(self, **_: Any) -> None:
        from ledger.replay import replay_compare

        differences = replay_compare()
        if differences:
            for line in differences:
                self.stderr.write(f"DIFF {line}")
            raise SystemExit(1)
        self.stdout.write("OK every balance equals the replay of the log")

    def _integrate(self, **_: Any) -> None:
        self.stdout.write(f"integrated {ledger_integrate()} statement(s)")
