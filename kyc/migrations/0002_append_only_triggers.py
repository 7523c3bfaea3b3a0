"""Append-only at the database: the KYC access log and status-change history refuse UPDATE and
DELETE on PostgreSQL and SQLite, whoever runs them (the ORM, raw SQL, a shell, the admin).
TRUNCATE needs a REVOKE for the application role, as for the ledger (docs/compliance.md)."""

from django.db import migrations

TABLES = ["kyc_kycaccesslog", "kyc_kycstatuschange"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kyc_reject_mutation() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kyc_reject_mutation();"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'append-only: {op} on {table} is not allowed'); END;"
                )
    else:
        raise NotImplementedError(f"append-only triggers for {vendor}")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS kyc_reject_mutation();")


class Migration(migrations.Migration):
    dependencies = [("kyc", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
