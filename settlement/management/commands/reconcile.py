from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from institutions.models import Institution
from settlement.models import StatementFormat
from settlement.services.reconciliation import reconciliation_sweep
from settlement.services.statements import statement_import


class Command(BaseCommand):
    help = (
        "Reconciliation: `reconcile import --format payout-csv|camt053 [--institution CODE] FILE`"
        " or `reconcile sweep`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import")
        imp.add_argument("--format", required=True, choices=[f.value for f in StatementFormat])
        imp.add_argument("--institution", help="whose statement (receiving institution code)")
        imp.add_argument("--no-validate", action="store_true", help="skip the camt.053 XSD check")
        imp.add_argument("file", type=Path)
        sub.add_parser("sweep")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "sweep":
            self.stdout.write(str(reconciliation_sweep()))
            return
        institution = None
        if options.get("institution"):
            institution = Institution.objects.filter(code=options["institution"]).first()
            if institution is None:
                raise CommandError(f"no institution {options['institution']}")
        try:
            imported = statement_import(
                format=options["format"],
                path=options["file"],
                institution=institution,
                actor="command",
                validate=not options["no_validate"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(
            f"import {imported.pk}: {imported.line_count} line(s), "
            f"{imported.matched_count} matched, {imported.break_count} break(s)"
        )
