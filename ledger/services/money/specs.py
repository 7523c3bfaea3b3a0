"""What a client asks for (`TransferSpec`) and what it gets back (`TransferResult`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from core.errors import DomainError
from ledger.models import Transfer
from ledger.models.money import TransferKind

# --- transfers: specs and results -----------------------------------------------------------


class TransferResultCode(StrEnum):
    """Outcome of one transfer of a batch; stable, after TigerBeetle's CreateTransferResult."""

    CREATED = "created"
    EXISTS = "exists"
    # errors
    LINKED_EVENT_FAILED = "linked_event_failed"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    INVALID_KIND = "invalid_kind"
    CODE_TOO_LONG = "code_too_long"
    REFERENCE_TOO_LONG = "reference_too_long"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    AMOUNT_MUST_NOT_BE_NEGATIVE = "amount_must_not_be_negative"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_MUST_NOT_BE_NEGATIVE = "timeout_must_not_be_negative"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT = "pending_transfer_has_different_debit_account"
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT = "pending_transfer_has_different_credit_account"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"


R = TransferResultCode
_RESOLVES = (TransferKind.POST_PENDING, TransferKind.VOID_PENDING)


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """One transfer a client asks for. `id` is the client's idempotency key.

    - single / pending: both account ids and a positive `amount` (minor units); a pending
      transfer may carry `timeout_seconds` (0/None: it never expires).
    - post_pending: `pending_id`; `amount` 0 posts the whole pending amount, a smaller amount
      posts that much and releases the rest. Account ids 0 mean "those of the pending transfer"
      (non-zero ones must match it).
    - void_pending: `pending_id`; releases the whole pending amount (`amount` 0 or equal to it).
    """

    id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: TransferKind | str = TransferKind.SINGLE
    pending_id: uuid.UUID | None = None
    timeout_seconds: int | None = None
    code: str = ""
    reference: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.id, str):
            object.__setattr__(self, "id", uuid.UUID(self.id))
        if isinstance(self.pending_id, str):
            object.__setattr__(self, "pending_id", uuid.UUID(self.pending_id))
        if not isinstance(self.id, uuid.UUID):
            raise TypeError("a transfer id is a UUID")
        for name in ("debit_account_id", "credit_account_id", "amount"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int (amounts are minor units, never floats)")

    @classmethod
    def post(
        cls,
        *,
        id: uuid.UUID,
        pending_id: uuid.UUID,
        amount: int = 0,
        code: str = "",
        reference: str = "",
    ) -> TransferSpec:
        return cls(
            id=id,
            debit_account_id=0,
            credit_account_id=0,
            amount=amount,
            kind=TransferKind.POST_PENDING,
            pending_id=pending_id,
            code=code,
            reference=reference,
        )

    @classmethod
    def void(
        cls, *, id: uuid.UUID, pending_id: uuid.UUID, code: str = "", reference: str = ""
    ) -> TransferSpec:
        return cls(
            id=id,
            debit_account_id=0,
            credit_account_id=0,
            amount=0,
            kind=TransferKind.VOID_PENDING,
            pending_id=pending_id,
            code=code,
            reference=reference,
        )


@dataclass(frozen=True, slots=True)
class TransferResult:
    """`transfer` is the created or stored row for `created` / `exists`, else None."""

    id: uuid.UUID
    result: TransferResultCode
    transfer: Transfer | None = None

    @property
    def ok(self) -> bool:
        return self.result in (R.CREATED, R.EXISTS)


class TransferRefused(DomainError):
    """A transfer the ledger refused; `code` is the TigerBeetle-style result code (e.g.
    `exceeds_credits`). The order layer maps codes to its own (`insufficient_funds`)."""

    code, status, title = "transfer_refused", 422, "Transfer refused"

    def __init__(self, result: TransferResult) -> None:
        super().__init__(
            f"transfer {result.id} refused: {result.result}", transfer_id=str(result.id)
        )
        self.code = str(result.result)
        self.result = result
