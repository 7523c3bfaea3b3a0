"""Retention of refused-access rows: the KYC access log stays append-only (UPDATE refused, and
DELETE of `decrypt`, `share` and `erase` rows refused: they are the record-keeping trail kept
at least five years), but a `denied` row may be deleted, so `kyc.retention` can drop those
older than KYC_DENIED_ACCESS_RETENTION_DAYS. The condition is in the trigger, so it holds for
raw SQL and a shell as well. The status-change history is unchanged."""

from django.db import migrations

from ledger import append_only

TABLES = ["kyc_kycaccesslog"]


def forwards(apps, schema_editor):
    append_only.install(schema_editor, TABLES, deletable_when="OLD.action = 'denied'")


def backwards(apps, schema_editor):
    append_only.install(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("kyc", "0003_compliance_group")]
    operations = [migrations.RunPython(forwards, backwards)]
