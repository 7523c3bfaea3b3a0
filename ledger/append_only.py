"""Database triggers that make tables append-only (UPDATE and DELETE refused), on PostgreSQL
and SQLite. Used by migrations of every app that keeps history: the ledger's log and
transfers, the KYC access log. Row triggers do not see TRUNCATE: revoke it from the
application role (docs/operations.md).

SQLite drops a table's triggers when a migration rebuilds the table, so a migration that
alters such a table calls `install` again (see ledger/migrations/0003)."""

from __future__ import annotations

from typing import Any

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_reject_mutation() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def install(schema_editor: Any, tables: list[str]) -> None:
    """(Re)create the triggers on `tables`; safe to run twice."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();"
            )
    elif vendor == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()};")
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'append-only: {op} on {table} is not allowed'); "
                    "END;"
                )
    else:
        raise NotImplementedError(f"append-only triggers for {vendor}")


def uninstall(schema_editor: Any, tables: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")
