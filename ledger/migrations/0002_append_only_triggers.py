"""Append-only at the database: UPDATE and DELETE on the log's tables and on transfers are
refused by triggers, on PostgreSQL and SQLite, whoever runs them (the ORM, raw SQL, a shell).
See ledger/append_only.py. The real guarantee against a rewriting operator is cryptographic:
signed checkpoints that partners cosign and verify (docs/ledger.md)."""

from django.db import migrations

from ledger import append_only

TABLES = [
    "ledger_entry",
    "ledger_treenode",
    "ledger_checkpoint",
    "ledger_cosignature",
    "ledger_transfer",
]


def forwards(apps, schema_editor):
    append_only.install(schema_editor, TABLES)


def backwards(apps, schema_editor):
    append_only.uninstall(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
