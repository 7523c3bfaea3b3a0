"""`manage.py ledger export|verify|replay|integrate|status` — the operator's tools for the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.integrity import log_verify
from ledger.models import QueuedStatement
from ledger.selectors.log import (
    checkpoint_latest,
    checkpoint_note_with_cosignatures,
    entries_leaves,
    export_keys,
)
from ledger.selectors.witnesses import checkpoint_witnessed, witnesses_status
from ledger.services.log import ledger_integrate
from partner_sdk.verify import VerificationError


class Command(BaseCommand):
    help = "Export, verify, replay or integrate the signed ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write entries.jsonl, checkpoint.txt, keys.json")
        export.add_argument("--out", required=True, type=Path)
        export.add_argument(
            "--witnessed",
            type=int,
            default=0,
            help="export up to the latest checkpoint cosigned by at least this many witnesses",
        )
        status = sub.add_parser("status", help="the log's head and each witness's lag")
        status.add_argument(
            "--check", action="store_true", help="exit 2 if a witness lag alert stands"
        )
        sub.add_parser(
            "verify",
            help="recompute the tree and check every signature, up to the latest checkpoint "
            "when the check starts (entries integrated meanwhile are left for the next run)",
        )
        sub.add_parser("replay", help="rebuild every balance from the log and compare")
        audit = sub.add_parser(
            "audit", help="every invariant of orders, money, settlement and the log (`audit`)"
        )
        audit.add_argument("--full-log", action="store_true")
        sub.add_parser("integrate", help="sequence queued statements now")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _export(self, *, out: Path, witnessed: int = 0, **_: Any) -> None:
        checkpoint = checkpoint_witnessed(min_witnesses=witnessed)
        if checkpoint is None:
            raise CommandError(
                f"no checkpoint cosigned by {witnessed} witnesses yet"
                if witnessed
                else "the log has no checkpoint yet"
            )
        out.mkdir(parents=True, exist_ok=True)
        count = 0
        with (out / "entries.jsonl").open("wb") as fh:
            for leaf in entries_leaves(up_to=checkpoint.tree_size):
                fh.write(leaf + b"\n")
                count += 1
        note = checkpoint_note_with_cosignatures(checkpoint) if witnessed else checkpoint.note
        (out / "checkpoint.txt").write_text(note, encoding="utf-8")
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

    def _audit(self, *, full_log: bool = False, **_: Any) -> None:
        # The auditor reads orders and settlement too, so it lives above the ledger
        # (remittance/audit, `manage.py audit`); called by name, the ledger imports nothing of it.
        call_command("audit", full_log=full_log, stdout=self.stdout, stderr=self.stderr)

    def _integrate(self, **_: Any) -> None:
        self.stdout.write(f"integrated {ledger_integrate()} statement(s)")

    def _status(self, *, check: bool = False, **_: Any) -> None:
        latest = checkpoint_latest()
        if latest is None:
            self.stdout.write("log: empty")
        else:
            at = f"{latest.created_at:%Y-%m-%d %H:%M:%S}Z"
            queued = QueuedStatement.objects.count()
            self.stdout.write(
                f"log: size {latest.tree_size}, checkpoint at {at}, {queued} statement(s) queued"
            )
        for witnessed in (1, 2):
            found = checkpoint_witnessed(min_witnesses=witnessed)
            size = "none" if found is None else f"size {found.tree_size}"
            self.stdout.write(f"latest checkpoint cosigned by {witnessed}+ witnesses: {size}")
        threshold = settings.LEDGER_WITNESS_LAG_ALERT_SECONDS
        alerting = 0
        self.stdout.write(
            f"{'witness':<14} {'cosigned size':>13} {'lag entries':>11} {'lag s':>7}  "
            f"last cosigned (alert after {threshold} s)"
        )
        for w in witnesses_status():
            cosigned = "-" if w.last_cosigned_size is None else str(w.last_cosigned_size)
            at = "never" if w.last_cosigned_at is None else f"{w.last_cosigned_at:%H:%M:%S}Z"
            alert = ""
            if w.lag_alert_since is not None:
                alerting += 1
                alert = f"  ALERT since {w.lag_alert_since:%Y-%m-%d %H:%M:%S}Z"
            self.stdout.write(
                f"{w.institution:<14} {cosigned:>13} {w.lag_entries:>11} "
                f"{w.lag_seconds:>7.0f}  {at}{alert}"
            )
        if check and alerting:
            raise SystemExit(2)
