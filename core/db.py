"""Bulk INSERT of model instances for the hot paths (an order batch writes ~10 tables).

Django's `bulk_create` prepares every field of every row through its generic compiler; in an
order batch that was more CPU than PostgreSQL spent inserting. `objs_insert` sends the same
rows as one `INSERT … SELECT … FROM UNNEST(typed arrays)` with the attribute values as they
are (psycopg adapts str, int, Decimal, UUID, datetime, bytes), so its cost per row is a
getattr per column. It is for plain rows: no signals, no multi-table inheritance; fields
with `auto_now`/`auto_now_add` are filled as Django would. Elsewhere (SQLite) it is
`bulk_create`, so both backends run the same callers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection, models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


class _Plan:
    """How one model's rows are inserted: columns, their encoders, the SQL."""

    def __init__(self, model: type[models.Model]) -> None:
        self.attnames: list[str] = []
        self.encoders: list[Any] = []
        self.stamped: list[models.DateTimeField] = []
        names, arrays, selects = [], [], []
        for field in model._meta.concrete_fields:
            if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
                continue
            if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
                self.stamped.append(field)
            array_type, encoder = _array_type(field)
            n = len(self.attnames)
            self.attnames.append(field.attname)
            self.encoders.append(encoder)
            names.append(f'"{field.column}"')
            arrays.append(f"%s::{array_type}[]")
            selects.append(f"c{n}::jsonb" if isinstance(field, models.JSONField) else f"c{n}")
        aliases = ", ".join(f"c{n}" for n in range(len(names)))
        self.sql = (
            f'INSERT INTO "{model._meta.db_table}" ({", ".join(names)}) '  # noqa: S608
            f"SELECT {', '.join(selects)} FROM UNNEST({', '.join(arrays)}) AS u({aliases})"
        )
        pk = model._meta.pk
        assert pk is not None
        self.returning = f' RETURNING "{pk.column}"'
        self.pk_attname = pk.attname


_plans: dict[type, _Plan] = {}


def objs_insert(
    objs: Sequence[M], *, ignore_conflicts: bool = False, returning_pk: bool = False
) -> list[M]:
    """Insert `objs` (all of one model) in one statement; returns them. `returning_pk`:
    database-assigned primary keys are set on the objects, in order. `ignore_conflicts`: rows
    that violate a unique constraint are skipped (ON CONFLICT DO NOTHING; with it, pks are not
    returned)."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(list(objs), ignore_conflicts=ignore_conflicts)
    plan = _plans.get(model)
    if plan is None:
        plan = _plans[model] = _Plan(model)
    now = timezone.now()
    for field in plan.stamped:
        for obj in objs:
            if field.auto_now or getattr(obj, field.attname) is None:
                setattr(obj, field.attname, now)
    arrays = []
    for attname, encode in zip(plan.attnames, plan.encoders, strict=True):
        values = [getattr(obj, attname) for obj in objs]
        arrays.append([encode(v) for v in values] if encode else values)
    sql = plan.sql
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif returning_pk:
        sql += plan.returning
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        if returning_pk and not ignore_conflicts:
            for obj, (value,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, plan.pk_attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


def _array_type(field: models.Field) -> tuple[str, Any]:
    """The element type of the column's array parameter, and an encoder for its values."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def encode(value: Any) -> str | None:
            return None if value is None else json.dumps(value, cls=encoder)

        return "text", encode  # cast to jsonb in the SELECT
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if isinstance(target, models.BigAutoField):
        return "bigint", None
    if isinstance(target, models.AutoField):
        return "integer", None
    if isinstance(field, models.BinaryField):
        return "bytea", lambda value: None if value is None else bytes(value)
    db_type = field.db_type(connection) or "text"
    return re.sub(r"\(.*\)", "", db_type).strip(), None


# --- COPY ------------------------------------------------------------------------------------

# PostgreSQL types for COPY … (FORMAT BINARY), by Django field type.
_COPY_TYPES = {
    "BigIntegerField": "int8",
    "IntegerField": "int4",
    "PositiveIntegerField": "int4",
    "PositiveSmallIntegerField": "int2",
    "SmallIntegerField": "int2",
    "BinaryField": "bytea",
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "timestamptz",
    "DateField": "date",
    "UUIDField": "uuid",
    "BooleanField": "bool",
    "DecimalField": "numeric",
    "ForeignKey": "int8",
}


def rows_copy(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Any,
    *,
    binary: bool = False,
    batch_size: int = 5000,
) -> int:
    """Append `rows` (tuples in `columns` order, values as the database takes them) to the
    model's table in one round trip: COPY on PostgreSQL — the cheapest way in, with no
    per-field preparation, for the integrator's entries and tree nodes, a ledger batch's
    transfers and an imported bank statement's lines — else `bulk_create` in batches.
    `binary` uses COPY's binary format (the column types from the model's fields). Returns
    how many rows were written. Plain rows only: no signals, no defaults filled in."""
    count = 0
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        sql = f"COPY {table} ({names}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(sql) as copy,
        ):
            if binary:
                copy.set_types(
                    [
                        _COPY_TYPES[
                            model._meta.get_field(_field_name(model, c)).get_internal_type()
                        ]
                        for c in columns
                    ]
                )
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch: list[models.Model] = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        count += 1
        if len(batch) >= batch_size:
            model._default_manager.bulk_create(batch)
            batch.clear()
    model._default_manager.bulk_create(batch)
    return count


def _field_name(model: type[models.Model], column: str) -> str:
    """The field a column belongs to (`window_id` → `window`)."""
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field.name
    return column
