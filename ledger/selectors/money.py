"""Reads of the money ledger: balances and the state of two-phase transfers.

Amounts are integers in the account currency's minor units. These reads take no locks: a
balance read here may be stale by the time it is used; decisions that move money are taken
by `ledger.services.money` under the account locks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from django.utils import timezone

from core.errors import NotFound
from ledger.models import Account, Transfer
from ledger.models.money import TransferKind

Balances = tuple[
    int, int, int, int
]  # debits_pending, debits_posted, credits_pending, credits_posted
PendingState = Literal["pending", "posted", "voided", "expired"]


def account_by_code(*, code: str) -> Account | None:
    return Account.objects.filter(code=code).first()


def account_balance(*, account: Account) -> dict[str, Any]:
    """The account's balances as stored now (re-read, not the instance's possibly stale
    fields), plus the two derived figures a wallet shows: `balance` (credits − debits,
    posted) and `available` (balance less pending debits)."""
    row = Account.objects.values(
        "code",
        "currency_id",
        "debits_pending",
        "debits_posted",
        "credits_pending",
        "credits_posted",
    ).get(pk=account.pk)
    return {
        "code": row["code"],
        "currency": row["currency_id"],
        "debits_pending": row["debits_pending"],
        "debits_posted": row["debits_posted"],
        "credits_pending": row["credits_pending"],
        "credits_posted": row["credits_posted"],
        "balance": row["credits_posted"] - row["debits_posted"],
        "available": row["credits_posted"] - row["debits_posted"] - row["debits_pending"],
    }


def pending_transfer_state(
    transfer_id: uuid.UUID | str, *, now: datetime | None = None
) -> PendingState:
    """Where a pending transfer stands: `posted` or `voided` once resolved (a void of an
    expired transfer reads `voided`), `expired` if its timeout passed and nothing resolved it
    yet (it can no longer be posted), else `pending`. NotFound if no pending transfer has
    that id."""
    try:
        transfer_id = uuid.UUID(str(transfer_id))
    except ValueError:
        raise NotFound(f"no pending transfer {transfer_id}") from None
    pending = (
        Transfer.objects.filter(pk=transfer_id, kind=TransferKind.PENDING)
        .values("expires_at")
        .first()
    )
    if pending is None:
        raise NotFound(f"no pending transfer {transfer_id}")
    resolution = (
        Transfer.objects.filter(pending_id=transfer_id).values_list("kind", flat=True).first()
    )
    if resolution == TransferKind.POST_PENDING:
        return "posted"
    if resolution == TransferKind.VOID_PENDING:
        return "voided"
    expires_at = pending["expires_at"]
    if expires_at is not None and (now or timezone.now()) >= expires_at:
        return "expired"
    return "pending"


def balances_snapshot() -> dict[str, Balances]:
    """Every account's four balances by account code: what `ledger.replay` must rebuild."""
    return {
        code: (dp, dpo, cp, cpo)
        for code, dp, dpo, cp, cpo in Account.objects.order_by("pk").values_list(
            "code", "debits_pending", "debits_posted", "credits_pending", "credits_posted"
        )
    }
