"""`manage.py audit [--full-log]`: check the hub's invariants now (remittance.audit) and print
each breach with its ids; exit 1 on any breach."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from remittance.audit.services import audit_run


class Command(BaseCommand):
    help = "Check every invariant of orders, money, settlement and the log in one snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full-log", action="store_true", help="verify the log from seq 0, not incrementally"
        )

    def handle(self, *args: Any, full_log: bool = False, **options: Any) -> None:
        run = audit_run(trigger="command", full_log=full_log)
        seconds = run.counts.get("seconds")
        log = f"log verified {run.log_checked_from}..{run.log_size}"
        if run.ok:
            self.stdout.write(f"OK every invariant holds ({log}; {seconds} s)")
            return
        for breach in run.breaches:
            self.stderr.write(
                f"BREACH {breach['invariant']}: {breach['detail']}; ids: {', '.join(breach['ids'])}"
            )
        self.stderr.write(f"{len(run.breaches)} breach(es) ({log}; {seconds} s)")
        raise SystemExit(1)
