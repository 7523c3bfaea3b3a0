"""The one path that moves money: check, lock, apply, write, state — for a batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.db import rows_copy
from core.money import Money
from ledger.locks import accounts_lock
from ledger.models import Account, Transfer
from ledger.models.money import TransferKind
from ledger.services.log import statements_issue
from ledger.services.money.common import (
    AMOUNT_MAX,
    STATEMENT_TRANSFERS,
    TRANSFER_CODE_MAX,
    TRANSFER_REFERENCE_MAX,
    _operator_code,
)
from ledger.services.money.specs import (
    _RESOLVES,
    R,
    TransferRefused,
    TransferResult,
    TransferResultCode,
    TransferSpec,
)

# --- transfers: the one path ----------------------------------------------------------------


@transaction.atomic(savepoint=False)  # the optimistic attempt below has its own savepoint
def transfers_create(
    *,
    transfers: Sequence[TransferSpec],
    linked: bool = False,
    subject: str = "",
    statement_per_reference: bool = False,
) -> list[TransferResult]:
    """Apply a batch of transfers in order; one result per spec, in the same order.

    `linked=False`: each transfer stands alone (a failure refuses only that one; later
    transfers see the effect of earlier successful ones). `linked=True`: all or nothing; if
    one fails nothing is written, it carries its code and every other gets
    `linked_event_failed`. `exists` counts as success in a linked batch, so retrying a whole
    linked batch answers `exists` for each.

    All accounts of the batch (and of the pending transfers it resolves) are locked once, in
    pk order; balances are checked in Python before anything is written (the CHECK
    constraints are the backstop); then one bulk INSERT of transfers, one UPDATE of accounts
    and one `ledger.transfers` statement (subject: `subject`, else the first reference or
    id). `statement_per_reference`: one statement per distinct transfer reference instead,
    each with the reference as its subject (a batch of many orders' money keeps one statement
    per order on the log). Atomic, not durable: callers may run it inside their own
    transaction."""
    if not transfers:
        return []
    specs = list(transfers)
    try:
        with transaction.atomic():
            return _transfers_apply(
                specs, linked=linked, subject=subject, careful=False, split=statement_per_reference
            )
    except IntegrityError:
        # The optimistic read (before the lock) missed a transfer committed meanwhile: one of
        # these ids, or a resolution of one of these pending transfers. The unique keys
        # refused our INSERT and the savepoint undid everything; now read under the locks.
        with transaction.atomic():
            return _transfers_apply(
                specs, linked=linked, subject=subject, careful=True, split=statement_per_reference
            )


def transfer_create(*, transfer: TransferSpec, subject: str = "") -> TransferResult:
    """One transfer: a batch of one."""
    return transfers_create(transfers=[transfer], subject=subject)[0]


def transfers_create_or_raise(
    *, transfers: Sequence[TransferSpec], subject: str = ""
) -> list[Transfer]:
    """All or nothing (a linked batch), raising TransferRefused with the failing transfer's
    code. Returns the created or already stored transfers, in order."""
    results = transfers_create(transfers=transfers, linked=True, subject=subject)
    for result in results:
        if not result.ok and result.result != R.LINKED_EVENT_FAILED:
            raise TransferRefused(result)
    return [result.transfer for result in results if result.transfer is not None]


def transfer_create_or_raise(*, transfer: TransferSpec, subject: str = "") -> Transfer:
    return transfers_create_or_raise(transfers=[transfer], subject=subject)[0]


class _StoredTransfer(NamedTuple):
    """The columns of a stored transfer the batch needs (cheaper than a model instance)."""

    pk: uuid.UUID
    kind: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency_id: str
    pending_id: uuid.UUID | None
    expires_at: datetime | None


def _transfers_read(
    batch_ids: set[uuid.UUID], pending_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, _StoredTransfer], dict[uuid.UUID, str], list[uuid.UUID]]:
    """One query: the named pending transfers, the resolutions of those, and which batch ids
    exist already. Returns (pendings by id, resolution kind by pending id, existing ids)."""
    pendings: dict[uuid.UUID, _StoredTransfer] = {}
    resolved: dict[uuid.UUID, str] = {}
    existing: list[uuid.UUID] = []
    for row in map(_StoredTransfer._make, _transfer_rows(batch_ids | pending_ids, pending_ids)):
        if row.pk in pending_ids:
            pendings[row.pk] = row
        if row.pk in batch_ids:
            existing.append(row.pk)
        if row.pending_id in pending_ids:
            resolved[row.pending_id] = row.kind
    return pendings, resolved, existing


def _transfer_rows(ids: set[uuid.UUID], pending_ids: set[uuid.UUID]) -> Iterable[tuple[Any, ...]]:
    """`_StoredTransfer` columns of the transfers with these ids or resolving these pending
    ids. On PostgreSQL two array parameters (`= ANY`) rather than the ORM's hundreds of
    placeholders: half the cost of this read at batch size 100."""
    if connection.vendor != "postgresql":
        lookup = Q(pk__in=ids)
        if pending_ids:
            lookup |= Q(pending_id__in=pending_ids)
        return Transfer.objects.filter(lookup).order_by().values_list(*_StoredTransfer._fields)
    columns = ", ".join(
        "id" if field == "pk" else connection.ops.quote_name(field)
        for field in _StoredTransfer._fields
    )
    table = connection.ops.quote_name(Transfer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} "  # noqa: S608 - names from the model, not input
            "WHERE id = ANY(%s) OR pending_id = ANY(%s)",
            [list(ids), list(pending_ids)],
        )
        return cursor.fetchall()


def _transfers_apply(
    specs: list[TransferSpec], *, linked: bool, subject: str, careful: bool, split: bool = False
) -> list[TransferResult]:
    """Fast path (`careful=False`): read what the batch depends on, then lock. Transfers are
    immutable, so the read can only be stale by missing a row committed between read and
    lock, and any such row collides with our INSERT on a unique key (transfer id, or the
    pending transfer it resolves), which sends the caller to the careful path: lock, then
    read, so every row committed by a holder of these locks is seen."""
    now = timezone.now()
    batch_ids = {spec.id for spec in specs}
    pending_ids = {spec.pending_id for spec in specs if spec.pending_id is not None}
    pendings, resolved, existing = _transfers_read(batch_ids, pending_ids)
    account_ids: set[int] = set()
    for spec in specs:
        account_ids.update((spec.debit_account_id, spec.credit_account_id))
    for pending in pendings.values():
        account_ids.update((pending.debit_account_id, pending.credit_account_id))
    account_ids.discard(0)
    accounts = accounts_lock(account_ids)
    if careful:
        # Pending rows never change and the lock set depends only on them: re-read the rest.
        _, resolved, existing = _transfers_read(batch_ids, pending_ids)
    stored = Transfer.objects.in_bulk(existing) if existing else {}

    batch = _Batch(
        accounts=accounts,
        pendings=pendings,
        stored=stored,
        resolved=resolved,
        now=now,
        linked_group=uuid.uuid4() if linked else None,
    )
    results: list[TransferResult] = []
    for spec in specs:
        result = batch.apply(spec)
        results.append(result)
        if linked and not result.ok:
            return [
                r if r is result else TransferResult(r.id, R.LINKED_EVENT_FAILED) for r in results
            ] + [TransferResult(s.id, R.LINKED_EVENT_FAILED) for s in specs[len(results) :]]
    if batch.created:
        # INSERT first: a unique-key collision (see above) fails before any balance moves.
        _transfers_insert(batch.created)
        _accounts_write([accounts[pk] for pk in sorted(batch.touched)])
        if split:
            by_reference: dict[str, list[Transfer]] = {}
            for t in batch.created:
                by_reference.setdefault(t.reference or str(t.pk), []).append(t)
            groups = list(by_reference.items())
        else:
            first = batch.created[0]
            groups = [(subject or first.reference or str(first.pk), batch.created)]
        statements_issue(
            [
                (
                    _operator_code(),
                    STATEMENT_TRANSFERS,
                    {"transfers": [_transfer_wire(t, accounts) for t in group]},
                    group_subject,
                )
                for group_subject, group in groups
            ]
        )
    return results


class _Batch:
    """In-memory state of one call: the locked accounts (mutated as transfers apply) and what
    the batch has created so far, so later specs see earlier ones."""

    def __init__(
        self,
        *,
        accounts: dict[int, Account],
        pendings: dict[uuid.UUID, _StoredTransfer],
        stored: dict[uuid.UUID, Transfer],
        resolved: dict[uuid.UUID, str],
        now: datetime,
        linked_group: uuid.UUID | None,
    ) -> None:
        self.accounts = accounts
        self.pendings = pendings
        self.stored = stored
        self.resolved = resolved
        self.now = now
        self.linked_group = linked_group
        self.created: list[Transfer] = []
        self.created_by_id: dict[uuid.UUID, Transfer] = {}
        self.touched: set[int] = set()

    def apply(self, spec: TransferSpec) -> TransferResult:
        code, transfer = self._apply(spec)
        return TransferResult(spec.id, code, transfer)

    def _apply(self, spec: TransferSpec) -> tuple[TransferResultCode, Transfer | None]:
        if spec.id.int == 0:
            return R.ID_MUST_NOT_BE_ZERO, None
        prior = self.created_by_id.get(spec.id) or self.stored.get(spec.id)
        if prior is not None:
            if self._same_fields(spec, prior):
                return R.EXISTS, prior
            return R.EXISTS_WITH_DIFFERENT_FIELDS, None
        try:
            kind = TransferKind(spec.kind)
        except ValueError:
            return R.INVALID_KIND, None
        if len(spec.code) > TRANSFER_CODE_MAX:
            return R.CODE_TOO_LONG, None
        if len(spec.reference) > TRANSFER_REFERENCE_MAX:
            return R.REFERENCE_TOO_LONG, None
        if spec.timeout_seconds and kind != TransferKind.PENDING:
            return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, None
        if spec.timeout_seconds is not None and spec.timeout_seconds < 0:
            return R.TIMEOUT_MUST_NOT_BE_NEGATIVE, None
        if kind in _RESOLVES:
            return self._resolve(spec, kind)
        return self._open(spec, kind)

    def _open(
        self, spec: TransferSpec, kind: TransferKind
    ) -> tuple[TransferResultCode, Transfer | None]:
        """A single-phase or a pending transfer."""
        if spec.pending_id is not None:
            return R.PENDING_ID_MUST_BE_ZERO, None
        if spec.amount <= 0:
            return R.AMOUNT_MUST_BE_POSITIVE, None
        if spec.debit_account_id == spec.credit_account_id:
            return R.ACCOUNTS_MUST_BE_DIFFERENT, None
        debit = self.accounts.get(spec.debit_account_id)
        credit = self.accounts.get(spec.credit_account_id)
        if debit is None or credit is None:
            return R.ACCOUNT_NOT_FOUND, None
        if debit.currency_id != credit.currency_id:
            return R.CURRENCY_MISMATCH, None
        amount = spec.amount
        if kind == TransferKind.PENDING:
            refused = self._move(debit, credit, pending=amount, posted=0)
        else:
            refused = self._move(debit, credit, pending=0, posted=amount)
        if refused:
            return refused, None
        expires_at = None
        if kind == TransferKind.PENDING and spec.timeout_seconds:
            expires_at = self.now + timedelta(seconds=spec.timeout_seconds)
        return R.CREATED, self._record(
            spec, kind, debit=debit, credit=credit, amount=amount, expires_at=expires_at
        )

    def _resolve(
        self, spec: TransferSpec, kind: TransferKind
    ) -> tuple[TransferResultCode, Transfer | None]:
        """Post or void a pending transfer: its reservation is released, and for a post the
        posted amount (all of it, or less) moves to the posted balances."""
        if spec.pending_id is None:
            return R.PENDING_ID_REQUIRED, None
        if spec.pending_id == spec.id:
            return R.PENDING_ID_MUST_BE_DIFFERENT, None
        if spec.amount < 0:
            return R.AMOUNT_MUST_NOT_BE_NEGATIVE, None
        pending = self.created_by_id.get(spec.pending_id) or self.pendings.get(spec.pending_id)
        if pending is None:
            return R.PENDING_TRANSFER_NOT_FOUND, None
        if pending.kind != TransferKind.PENDING:
            return R.PENDING_TRANSFER_NOT_PENDING, None
        if spec.debit_account_id and spec.debit_account_id != pending.debit_account_id:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT, None
        if spec.credit_account_id and spec.credit_account_id != pending.credit_account_id:
            return R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT, None
        if spec.amount > pending.amount:
            return R.EXCEEDS_PENDING_TRANSFER_AMOUNT, None
        resolution = self.resolved.get(pending.pk)
        if resolution == TransferKind.POST_PENDING:
            return R.PENDING_TRANSFER_ALREADY_POSTED, None
        if resolution == TransferKind.VOID_PENDING:
            return R.PENDING_TRANSFER_ALREADY_VOIDED, None
        if kind == TransferKind.POST_PENDING:
            # Expiry forbids only posting: voiding an expired transfer is how it is released.
            if pending.expires_at is not None and self.now >= pending.expires_at:
                return R.PENDING_TRANSFER_EXPIRED, None
            amount = spec.amount or pending.amount
        else:
            if spec.amount not in (0, pending.amount):
                return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT, None
            amount = pending.amount
        debit = self.accounts.get(pending.debit_account_id)
        credit = self.accounts.get(pending.credit_account_id)
        if debit is None or credit is None:  # cannot happen: accounts are PROTECTed
            return R.ACCOUNT_NOT_FOUND, None
        posted = amount if kind == TransferKind.POST_PENDING else 0
        refused = self._move(debit, credit, pending=-pending.amount, posted=posted)
        if refused:
            return refused, None
        self.resolved[pending.pk] = kind
        return R.CREATED, self._record(
            spec, kind, debit=debit, credit=credit, amount=amount, pending_id=pending.pk
        )

    def _move(
        self, debit: Account, credit: Account, *, pending: int, posted: int
    ) -> TransferResultCode | None:
        """Apply the change to both accounts' balances if every limit holds; else change
        nothing and say which limit refused it."""
        debits_pending = debit.debits_pending + pending
        debits_posted = debit.debits_posted + posted
        credits_pending = credit.credits_pending + pending
        credits_posted = credit.credits_posted + posted
        if max(debits_pending, debits_posted, debits_pending + debits_posted) > AMOUNT_MAX:
            return R.OVERFLOWS_DEBITS
        if max(credits_pending, credits_posted, credits_pending + credits_posted) > AMOUNT_MAX:
            return R.OVERFLOWS_CREDITS
        if (
            debit.debits_must_not_exceed_credits
            and debits_pending + debits_posted > debit.credits_posted
        ):
            return R.EXCEEDS_CREDITS
        if (
            credit.credits_must_not_exceed_debits
            and credits_pending + credits_posted > credit.debits_posted
        ):
            return R.EXCEEDS_DEBITS
        debit.debits_pending, debit.debits_posted = debits_pending, debits_posted
        credit.credits_pending, credit.credits_posted = credits_pending, credits_posted
        self.touched.update((debit.pk, credit.pk))
        return None

    def _record(
        self,
        spec: TransferSpec,
        kind: TransferKind,
        *,
        debit: Account,
        credit: Account,
        amount: int,
        pending_id: uuid.UUID | None = None,
        expires_at: datetime | None = None,
    ) -> Transfer:
        transfer = Transfer(
            id=spec.id,
            kind=kind,
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount=amount,
            currency_id=debit.currency_id,
            pending_id=pending_id,
            expires_at=expires_at,
            code=spec.code,
            reference=spec.reference,
            linked_group=self.linked_group,
        )
        self.created.append(transfer)
        self.created_by_id[transfer.pk] = transfer
        return transfer

    def _same_fields(self, spec: TransferSpec, prior: Transfer) -> bool:
        """Is `spec` a retry of `prior`? Zero/omitted fields of a post or void mean "as the
        pending transfer", so they match what was derived from it."""
        if (
            str(spec.kind) != prior.kind
            or spec.pending_id != prior.pending_id
            or spec.code != prior.code
            or spec.reference != prior.reference
        ):
            return False
        if prior.kind in _RESOLVES:
            if spec.timeout_seconds:
                return False
            if spec.debit_account_id and spec.debit_account_id != prior.debit_account_id:
                return False
            if spec.credit_account_id and spec.credit_account_id != prior.credit_account_id:
                return False
            if spec.amount == 0:  # "all of the pending amount"
                # spec.pending_id == prior.pending_id (checked above), so it was read.
                pending_id = prior.pending_id
                assert pending_id is not None  # a post or void always names one
                pending = self.created_by_id.get(pending_id) or self.pendings.get(pending_id)
                return pending is not None and prior.amount == pending.amount
            return spec.amount == prior.amount
        return (
            spec.debit_account_id == prior.debit_account_id
            and spec.credit_account_id == prior.credit_account_id
            and spec.amount == prior.amount
            and (spec.timeout_seconds or 0) == self._timeout_of(prior)
        )

    def _timeout_of(self, transfer: Transfer) -> int:
        if transfer.expires_at is None:
            return 0
        opened = transfer.created_at or self.now  # created in this batch: not saved yet
        return round((transfer.expires_at - opened).total_seconds())


_COPY_COLUMNS = (
    "id",
    "kind",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency_id",
    "pending_id",
    "expires_at",
    "code",
    "reference",
    "linked_group",
    "created_at",
)


def _transfers_insert(transfers: list[Transfer]) -> None:
    """Insert the batch's transfers: COPY on PostgreSQL (several times cheaper than a
    100-row INSERT through the ORM), `bulk_create` elsewhere. Same rows, same constraints."""
    now = timezone.now()
    for transfer in transfers:
        transfer.created_at = now
    if connection.vendor != "postgresql":
        Transfer.objects.bulk_create(transfers)
        return
    rows_copy(
        Transfer,
        _COPY_COLUMNS,
        ([getattr(transfer, column) for column in _COPY_COLUMNS] for transfer in transfers),
    )
    for transfer in transfers:
        transfer._state.adding = False
        transfer._state.db = connection.alias


def _accounts_write(accounts: list[Account]) -> None:
    """One UPDATE for all the batch's accounts (a VALUES join: much cheaper than
    `bulk_update`'s CASE per field, which matters at thousands of transfers a second)."""
    if not accounts:
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(accounts))
    params: list[int] = []
    for account in accounts:
        params += [
            account.pk,
            account.debits_pending,
            account.debits_posted,
            account.credits_pending,
            account.credits_posted,
        ]
    # VALUES columns are column1..column5 on both PostgreSQL and SQLite (>= 3.33: UPDATE FROM).
    sql = (
        f"UPDATE {table} SET debits_pending = new_balance.column2, "  # noqa: S608 - no input
        "debits_posted = new_balance.column3, credits_pending = new_balance.column4, "
        "credits_posted = new_balance.column5 "
        f"FROM (VALUES {rows}) AS new_balance WHERE {table}.id = new_balance.column1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != len(accounts):
            raise RuntimeError(f"updated {cursor.rowcount} of {len(accounts)} locked accounts")


def _decimal_amount(minor: int, currency: str) -> str:
    return format(Money.from_minor(minor, currency).amount, "f")


def _transfer_wire(transfer: Transfer, accounts: dict[int, Account]) -> dict[str, Any]:
    """A transfer as the `ledger.transfers` statement lists it (public contract; replayed by
    `ledger.replay`). Account codes are opaque; amounts are decimal strings."""
    return {
        "id": str(transfer.pk),
        "kind": str(transfer.kind),
        "debit": accounts[transfer.debit_account_id].code,
        "credit": accounts[transfer.credit_account_id].code,
        "amount": _decimal_amount(transfer.amount, transfer.currency_id),
        "currency": transfer.currency_id,
        "pending_id": str(transfer.pending_id) if transfer.pending_id else None,
        "code": transfer.code,
        "reference": transfer.reference,
    }
