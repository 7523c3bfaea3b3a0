"""Append-only at the database: the KYC access log and status-change history refuse UPDATE and
DELETE on PostgreSQL and SQLite, whoever runs them (the ORM, raw SQL, a shell, the admin).
Same triggers as the ledger's (ledger/append_only.py)."""

from django.db import migrations

from ledger import append_only

TABLES = ["kyc_kycaccesslog", "kyc_kycstatuschange"]


def forwards(apps, schema_editor):
    append_only.install(schema_editor, TABLES)


def backwards(apps, schema_editor):
    append_only.uninstall(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("kyc", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
