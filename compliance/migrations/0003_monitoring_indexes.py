"""Indexes monitoring reads inside the submit transaction: each batch asks the orders of its
senders and of its beneficiaries over the last 30 days (compliance/services/monitoring.py).
Without them each read scans 30 days of orders. They sit on remittance's table; remittance
owns it, so they belong in RemittanceOrder.Meta — until they move there, IF NOT EXISTS keeps
a later remittance migration of the same name harmless."""

from django.db import migrations

INDEXES = {
    "order_sender_ref_created": ("sender_kyc_ref", "created_at"),
    "order_benef_ref_created": ("beneficiary_kyc_ref", "created_at"),
}


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_roles_triggers_rules"), ("remittance", "0005_order_transition_guard")]
    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "remittance_remittanceorder" '
            f'("{columns[0]}", "{columns[1]}")',
            reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
        )
        for name, columns in INDEXES.items()
    ]
