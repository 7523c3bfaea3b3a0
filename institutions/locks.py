"""Row locks for institutions: the only place this app takes them.

Global order (no cycle with the other apps, see ledger/locks.py): an institution row comes
before any other app's rows. Today only webhook endpoint registration takes it, on its own,
so that counting an institution's endpoints and adding one are a single step.

The lock is `FOR NO KEY UPDATE`: it serialises writers of the same institution row but does
not block the inserts of rows that reference it (orders, deliveries, log rows take `FOR KEY
SHARE` on it), so the hot paths never wait for it.
"""

from __future__ import annotations

from django.db import connection, transaction

from institutions.models import Institution


def institution_lock(*, institution_id: int) -> Institution:
    """Lock one institution row until the transaction ends and return it, freshly read."""
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("institution_lock needs an open transaction")
    return Institution.objects.select_for_update(no_key=True, of=("self",)).get(pk=institution_id)
