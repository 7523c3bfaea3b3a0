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


def install(schema_editor: Any, tables: list[str], *, deletable_when: str | None = None) -> None:
    """(Re)create the triggers on `tables`; safe to run twice. UPDATE is always refused;
    DELETE too, except of rows for which `deletable_when` holds: an SQL condition on `OLD`
    that reads the same on both backends (e.g. `OLD.action = 'denied'`), for retention of
    rows the log need not keep forever. A condition that is NULL refuses."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete ON {table};")
            if deletable_when is None:
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();"
                )
                continue
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table} "
                f"FOR EACH ROW WHEN (({deletable_when}) IS NOT TRUE) "
                "EXECUTE FUNCTION ledger_reject_mutation();"
            )
    elif vendor == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                when = ""
                if op == "DELETE" and deletable_when is not None:
                    when = f"WHEN NOT coalesce(({deletable_when}), 0) "
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()};")
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} {when}"
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
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete ON {table};")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")
