"""Statement import: a receiving bank's payout statement (CSV) or the settlement bank's camt.053
(ISO 20022 XML), matched against credited orders — set-based in SQL.

The file is parsed once into the `StatementLine` staging table (COPY on PostgreSQL, bulk INSERT
elsewhere); then three INSERT … SELECT statements open the breaks: every line that repeats an
earlier one (`line_duplicate`), that names no credited order nor settlement instruction
(`line_unmatched`), or whose amount, currency, payout reference or receiving institution differ
(`line_mismatch`). Break keys are `line:<import>:<line>`, so a line gets at most one break.

Payout CSV (header required, extra columns ignored):
    order_id,payout_reference,amount,currency[,paid_at]
    8b0c…-…,EP-123,62865.00,PKR,2026-11-22T10:00:00Z
camt.053.001.08: each `Ntry/NtryDtls/TxDtls` is a line: `Refs/EndToEndId` is the order id (with
or without dashes) or a settlement instruction's EndToEndId (`W<window>P<n>`), the amount is
`TxDtls/Amt` (else the entry's `Amt`), the reference `Refs/AcctSvcrRef` (else the entry's).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, NamedTuple
from xml.etree import ElementTree

from django.db import connection, transaction
from django.utils import timezone

from core.db import rows_copy
from core.errors import Conflict, DomainError
from core.money import MoneyError, minor_units
from institutions.models import Institution
from settlement.models import (
    Break,
    NetPosition,
    StatementFormat,
    StatementImport,
    StatementLine,
    WindowOrder,
)

CAMT053_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


class InvalidStatementFile(DomainError):
    code, status, title = "invalid_statement_file", 400, "The statement file cannot be read"


class StatementAlreadyImported(Conflict):
    code, title = "statement_already_imported", "This statement file was imported before"


class Line(NamedTuple):
    line_no: int
    order_id: uuid.UUID | None
    end_to_end_id: str
    reference: str
    amount_minor: int
    currency: str


def _minor(amount: str, currency: str, where: str) -> int:
    try:
        units = minor_units(currency)
        value = Decimal(amount.strip()).scaleb(units)
    except (InvalidOperation, MoneyError, AttributeError):
        raise InvalidStatementFile(f"{where}: bad amount {amount!r} {currency!r}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise InvalidStatementFile(f"{where}: {amount} has more than {units} decimal places")
    return int(value)


def _order_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


def payout_csv_lines(stream: IO[str]) -> Iterator[Line]:
    reader = csv.reader(stream)
    header = [h.strip().lower() for h in next(reader, [])]
    try:
        at = {name: header.index(name) for name in ("order_id", "amount", "currency")}
    except ValueError:
        raise InvalidStatementFile(
            "a payout statement needs the columns order_id, payout_reference, amount, currency"
        ) from None
    ref_at = header.index("payout_reference") if "payout_reference" in header else None
    for line_no, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            order_text, amount, currency = (row[at[n]] for n in ("order_id", "amount", "currency"))
            reference = row[ref_at].strip() if ref_at is not None else ""
        except IndexError:
            raise InvalidStatementFile(f"line {line_no}: too few columns") from None
        currency = currency.strip().upper()
        yield Line(
            line_no,
            _order_id(order_text),
            order_text.strip()[:64],
            reference[:64],
            _minor(amount, currency, f"line {line_no}"),
            currency,
        )


def camt053_validate(data: bytes) -> None:
    """Validate against the vendored official camt.053.001.08 XSD (settlement/xsd/)."""
    import xmlschema

    from settlement.services.instructions import schema

    resource = xmlschema.XMLResource(io.BytesIO(data), defuse="always")
    errors = list(schema("camt.053.001.08").iter_errors(resource))
    if errors:
        raise InvalidStatementFile(f"not a valid camt.053.001.08: {errors[0].reason}")


def camt053_lines(stream: IO[bytes]) -> Iterator[Line]:
    ns = {"c": CAMT053_NS}
    line_no = 0
    # The file passed the XSD check with xmlschema's defused parser first; the stdlib expat
    # refuses external entities and limits entity amplification (libexpat >= 2.4).
    for _, element in ElementTree.iterparse(stream, events=("end",)):  # noqa: S314
        if element.tag != f"{{{CAMT053_NS}}}Ntry":
            continue
        entry_amount = element.find("c:Amt", ns)
        entry_ref = (element.findtext("c:AcctSvcrRef", "", ns) or "").strip()
        details = element.findall("c:NtryDtls/c:TxDtls", ns) or [None]
        for tx in details:
            line_no += 1
            amount = tx.find("c:Amt", ns) if tx is not None else None
            amount = amount if amount is not None else entry_amount
            if amount is None:
                raise InvalidStatementFile(f"entry {line_no}: no amount")
            currency = (amount.get("Ccy") or "").upper()
            e2e = (tx.findtext("c:Refs/c:EndToEndId", "", ns) if tx is not None else "") or ""
            reference = (
                tx.findtext("c:Refs/c:AcctSvcrRef", "", ns) if tx is not None else ""
            ) or entry_ref
            yield Line(
                line_no,
                _order_id(e2e),
                e2e.strip()[:64],
                reference.strip()[:64],
                _minor(amount.text or "", currency, f"entry {line_no}"),
                currency,
            )
        element.clear()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def statement_import(
    *,
    format: str,
    path: Path,
    institution: Institution | None = None,
    actor: str = "",
    filename: str | None = None,
    validate: bool = True,
) -> StatementImport:
    """Import one statement file and open its breaks; all or nothing. The same file (same
    format and SHA-256) is imported once: again → StatementAlreadyImported."""
    fmt = StatementFormat(format)
    sha = _sha256(path)
    if StatementImport.objects.filter(format=fmt, sha256=sha).exists():
        raise StatementAlreadyImported(f"{path.name} was imported before")
    if fmt == StatementFormat.CAMT053 and validate:
        camt053_validate(path.read_bytes())
    return _import(fmt, path, sha, institution, actor, filename or path.name)


@transaction.atomic(durable=True)
def _import(
    fmt: StatementFormat,
    path: Path,
    sha: str,
    institution: Institution | None,
    actor: str,
    filename: str,
) -> StatementImport:
    imported = StatementImport.objects.create(
        format=fmt, institution=institution, filename=filename[:200], sha256=sha, imported_by=actor
    )
    if fmt == StatementFormat.PAYOUT_CSV:
        with path.open(newline="", encoding="utf-8-sig") as text:
            count = _lines_load(imported.pk, payout_csv_lines(text))
    else:
        with path.open("rb") as raw:
            try:
                count = _lines_load(imported.pk, camt053_lines(raw))
            except ElementTree.ParseError as exc:
                raise InvalidStatementFile(f"not XML: {exc}") from None
    _breaks_match(imported, fmt)
    imported.line_count = count
    imported.break_count = Break.objects.filter(statement_import=imported).count()
    imported.matched_count = count - imported.break_count
    imported.save(update_fields=["line_count", "break_count", "matched_count"])
    return imported


_LINE_COLUMNS = (
    "statement_import_id",
    "line_no",
    "order_id",
    "end_to_end_id",
    "reference",
    "amount_minor",
    "currency",
)


def _lines_load(import_id: int, lines: Iterator[Line]) -> int:
    return rows_copy(StatementLine, _LINE_COLUMNS, ((import_id, *line) for line in lines))


def _breaks_match(imported: StatementImport, fmt: StatementFormat) -> None:
    """The three set-based passes; ON CONFLICT keeps one break per line (duplicates first)."""
    line = StatementLine._meta.db_table
    brk = Break._meta.db_table
    order = WindowOrder._meta.db_table
    position = NetPosition._meta.db_table
    pg = connection.vendor == "postgresql"
    obj = "json_build_object" if pg else "json_object"
    cast = "::jsonb" if pg else ""
    now = timezone.now()
    key = "'line:' || l.statement_import_id || ':' || l.line_no"
    columns = (
        f"INSERT INTO {brk} (kind, status, key, order_id, subject, detail, expected, actual, "
        "statement_import_id, line_no, opened_at, resolution_reason) "
    )
    line_json = (
        f"{obj}('line_no', l.line_no, 'id', l.end_to_end_id, 'reference', l.reference, "
        f"'amount_minor', l.amount_minor, 'currency', l.currency){cast}"
    )
    order_json = (
        f"{obj}('order_id', o.order_id, 'receiving_institution_id', o.receiving_institution_id, "
        "'payout_reference', o.payout_reference, 'amount_minor', o.receive_minor, "
        f"'currency', o.receive_currency, 'send_amount_minor', o.send_minor, "
        f"'send_currency', o.send_currency){cast}"
    )
    institution_id = imported.institution_id
    if fmt == StatementFormat.PAYOUT_CSV:
        amount_ok = "(o.receive_minor = l.amount_minor AND o.receive_currency = l.currency)"
        reference_ok = "(l.reference = '' OR l.reference = o.payout_reference)"
    else:
        amount_ok = (
            "((o.receive_minor = l.amount_minor AND o.receive_currency = l.currency) OR "
            "(o.send_minor = l.amount_minor AND o.send_currency = l.currency))"
        )
        reference_ok = "1 = 1"
    party_ok = "o.receiving_institution_id = COALESCE(%s, o.receiving_institution_id)"
    statements: list[tuple[str, list[Any]]] = [
        (
            columns + f"SELECT 'line_duplicate', 'open', {key}, l.order_id, l.end_to_end_id, "  # noqa: S608
            f"'the line repeats an earlier line of this statement', NULL, {line_json}, "
            f"l.statement_import_id, l.line_no, %s, '' FROM {line} l "
            "WHERE l.statement_import_id = %s AND l.order_id IS NOT NULL AND EXISTS ("
            f"SELECT 1 FROM {line} d WHERE d.statement_import_id = l.statement_import_id "
            "AND d.order_id = l.order_id AND d.line_no < l.line_no) ON CONFLICT DO NOTHING",
            [now, imported.pk],
        ),
        (
            columns + f"SELECT 'line_mismatch', 'open', {key}, l.order_id, l.end_to_end_id, "  # noqa: S608
            f"'the line differs from the order', {order_json}, {line_json}, "
            f"l.statement_import_id, l.line_no, %s, '' FROM {line} l "
            f"JOIN {order} o ON o.order_id = l.order_id WHERE l.statement_import_id = %s "
            f"AND NOT ({amount_ok} AND {reference_ok} AND {party_ok}) ON CONFLICT DO NOTHING",
            [now, imported.pk, institution_id],
        ),
        (
            columns + f"SELECT 'line_mismatch', 'open', {key}, NULL, l.end_to_end_id, "  # noqa: S608
            f"'the line differs from the settlement instruction', "
            f"{obj}('end_to_end_id', p.end_to_end_id, 'amount_minor', ABS(p.net_minor), "
            f"'currency', p.currency){cast}, {line_json}, l.statement_import_id, l.line_no, %s, "
            f"'' FROM {line} l JOIN {position} p ON p.end_to_end_id = l.end_to_end_id "
            "WHERE l.statement_import_id = %s AND l.order_id IS NULL "
            "AND NOT (ABS(p.net_minor) = l.amount_minor AND p.currency = l.currency) "
            "ON CONFLICT DO NOTHING",
            [now, imported.pk],
        ),
        (
            columns + f"SELECT 'line_unmatched', 'open', {key}, l.order_id, l.end_to_end_id, "  # noqa: S608
            f"'no credited order or settlement instruction has this id', NULL, {line_json}, "
            f"l.statement_import_id, l.line_no, %s, '' FROM {line} l "
            "WHERE l.statement_import_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {order} o WHERE o.order_id = l.order_id) "
            f"AND NOT EXISTS (SELECT 1 FROM {position} p "
            "WHERE l.order_id IS NULL AND p.end_to_end_id = l.end_to_end_id) "
            "ON CONFLICT DO NOTHING",
            [now, imported.pk],
        ),
    ]
    if fmt == StatementFormat.PAYOUT_CSV:
        statements.pop(2)  # a payout statement lists orders, not settlement instructions
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
