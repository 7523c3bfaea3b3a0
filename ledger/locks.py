"""Row locks for the money ledger: the only place the ledger takes them.

Global lock order (every app follows it, so two transactions never wait on each other in a
cycle):

1. rows of the higher apps, through their own `locks.py` (e.g. remittance orders, by pk);
2. ledger accounts, by pk, all of them in ONE call of `accounts_lock`.

An account lock is taken once per transaction, for every account the batch touches, so a
service must collect its account ids first and call `accounts_lock` once. Keep the locked
window short: no network calls, no signing of anything but the one ledger statement.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from ledger.models import Account


def accounts_lock(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts with these ids (``SELECT … FOR UPDATE OF`` in pk order, one query) and
    return them by id, freshly read. Ids with no account are simply absent from the result.

    Must run inside a transaction (the lock lasts until it ends)."""
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("accounts_lock needs an open transaction")
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    locked = Account.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {account.pk: account for account in locked}
