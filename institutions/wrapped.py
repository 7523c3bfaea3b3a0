"""Every column the hub keeps wrapped by the key-encryption key (KEK), in one registry, so a
KEK rotation re-wraps all of them and the next wrapped column cannot be forgotten.

Each app registers its columns in its `AppConfig.ready` with `wrapped_column_register` (the
queryset and how a row's associated data is derived); `manage.py keys rewrap` (institutions)
re-wraps every registered column under the current KEK, batch by batch, each batch its own
transaction, so an interrupted run resumes (docs/operations.md, Rotating keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from institutions.crypto import keyring


@dataclass(frozen=True)
class WrappedColumn:
    label: str
    queryset: Callable[[], models.QuerySet[Any]]  # the rows that hold a wrapped value
    field: str
    aad: Callable[[Any], bytes]  # the row's associated data, as it was wrapped with


_columns: dict[str, WrappedColumn] = {}


def wrapped_column_register(
    *,
    label: str,
    queryset: Callable[[], models.QuerySet[Any]],
    field: str,
    aad: Callable[[Any], bytes],
) -> None:
    _columns[label] = WrappedColumn(label=label, queryset=queryset, field=field, aad=aad)


def wrapped_columns() -> list[WrappedColumn]:
    return sorted(_columns.values(), key=lambda c: c.label)


def wrapped_column_rewrap(column: WrappedColumn, *, batch_size: int = 500) -> int:
    """Re-wrap one column's values that are not under the current KEK; returns how many."""
    ring = keyring()
    done, last_pk = 0, None
    while True:
        with transaction.atomic():
            rows = column.queryset().select_for_update().order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows[:batch_size])
            if not batch:
                return done
            for row in batch:
                blob = ring.rewrap(bytes(getattr(row, column.field)), aad=column.aad(row))
                if blob is not None:
                    type(row)._default_manager.filter(pk=row.pk).update(**{column.field: blob})
                    done += 1
            last_pk = batch[-1].pk


def wrapped_columns_rewrap() -> dict[str, int]:
    """Every registered column re-wrapped under the current KEK: label → how many changed."""
    return {column.label: wrapped_column_rewrap(column) for column in wrapped_columns()}
