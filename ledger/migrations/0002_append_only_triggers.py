"""Append-only at the database: UPDATE and DELETE on the log's tables and on transfers are
refused by triggers, on PostgreSQL and SQLite, whoever runs them (the ORM, raw SQL, a shell).

TRUNCATE is not covered by row triggers; production must REVOKE TRUNCATE from the application
role (docs/operations.md). The real guarantee against a rewriting operator is cryptographic:
signed checkpoints that partners cosign and verify (docs/ledger.md)."""

from django.db import migrations

TABLES = [
    "ledger_entry",
    "ledger_treenode",
    "ledger_checkpoint",
    "ledger_cosignature",
    "ledger_transfer",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_reject_mutation() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def install(schema_editor, tables):
    """(Re)create the append-only triggers on `tables`. SQLite drops a table's triggers when
    a migration rebuilds the table, so a migration that alters one calls this again."""
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
                    f"BEGIN SELECT RAISE(ABORT, 'append-only: {op} on {table} is not allowed'); END;"
                )
    else:
        raise NotImplementedError(f"append-only triggers for {vendor}")


def forwards(apps, schema_editor):
    install(schema_editor, TABLES)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_reject_mutation();")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
