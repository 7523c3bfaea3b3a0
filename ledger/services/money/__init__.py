"""Writes to the money ledger: accounts and transfers, after TigerBeetle.

What holds:
- Balances change only here, under row locks on the accounts (`ledger.locks`, pk order, once
  per call), and every change is a new, immutable `Transfer` row.
- Transfer ids are chosen by the client and are idempotency keys: the same id with the same
  fields answers `exists` and changes nothing; with other fields `exists_with_different_fields`.
- Every call that creates transfers queues ONE operator-signed `ledger.transfers` statement in
  the same transaction, and `account_create` a `ledger.account_opened` statement, so replaying
  the log from seq 0 rebuilds every balance (`ledger.replay`).
- Amounts are integers in the currency's minor units; statements carry decimal strings.

Who may call: services of this and higher apps, inside or outside their own transaction.
`transfers_create` is atomic but not durable, so `order_submit` can reserve funds in the same
transaction as the order. Call it at most once per transaction where possible: account locks
must be taken in one go to keep the global lock order (see `ledger/locks.py`).
"""

from ledger.services.money.accounts import (
    AccountExists,
    AccountExistsWithDifferentFields,
    InvalidAccount,
    account_create,
    account_get_or_create,
)
from ledger.services.money.common import (
    STATEMENT_ACCOUNT_OPENED,
    STATEMENT_TRANSFERS,
    VOID_EXPIRED_CODE,
)
from ledger.services.money.expiry import pending_transfers_void_expired
from ledger.services.money.specs import (
    TransferRefused,
    TransferResult,
    TransferResultCode,
    TransferSpec,
)
from ledger.services.money.transfers import (
    transfer_create,
    transfer_create_or_raise,
    transfers_create,
    transfers_create_or_raise,
)

__all__ = [
    "STATEMENT_ACCOUNT_OPENED",
    "STATEMENT_TRANSFERS",
    "VOID_EXPIRED_CODE",
    "AccountExists",
    "AccountExistsWithDifferentFields",
    "InvalidAccount",
    "TransferRefused",
    "TransferResult",
    "TransferResultCode",
    "TransferSpec",
    "account_create",
    "account_get_or_create",
    "pending_transfers_void_expired",
    "transfer_create",
    "transfer_create_or_raise",
    "transfers_create",
    "transfers_create_or_raise",
]
