"""Rebuild every money-ledger balance from the signed log and compare with the database.

DESIGN.md §4: replaying the log from seq 0 must reproduce every balance. Only two statement
kinds move the money ledger, both signed by the operator: `ledger.account_opened` (an account
with zero balances) and `ledger.transfers` (a batch of transfers, as
`ledger.services.money.transfers._transfer_wire` writes them). Statements of other kinds are skipped, and
so are `ledger.*` statements from any other signer when `signer` is given: a partner's word
cannot move the operator's ledger.

`replay_balances` is a pure function of the statements (it reads no database and no settings),
so it runs as well over an export as over the live log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from core.money import Money, MoneyError
from ledger.models import Entry, QueuedStatement

Balances = tuple[
    int, int, int, int
]  # debits_pending, debits_posted, credits_pending, credits_posted
BALANCE_NAMES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
ACCOUNT_OPENED = "ledger.account_opened"
TRANSFERS = "ledger.transfers"
DP, DPO, CP, CPO = range(4)


class ReplayError(ValueError):
    """The log contradicts itself (a transfer on an unknown account, a post of an unknown
    pending transfer, an overdraft on a no-overdraft account, …)."""


class _Account:
    __slots__ = (
        "balances",
        "credits_must_not_exceed_debits",
        "currency",
        "debits_must_not_exceed_credits",
    )

    def __init__(self, currency: str, flags: Iterable[str]) -> None:
        self.currency = currency
        self.balances = [0, 0, 0, 0]
        flags = set(flags)
        self.debits_must_not_exceed_credits = "debits_must_not_exceed_credits" in flags
        self.credits_must_not_exceed_debits = "credits_must_not_exceed_debits" in flags


def replay_balances(
    statements: Iterable[dict[str, Any]], *, signer: str | None = None
) -> dict[str, Balances]:
    """Balances by account code after applying `statements` (statement dicts, in log order).

    Raises ReplayError, naming the statement's position, where the log is inconsistent."""
    accounts: dict[str, _Account] = {}
    # open pending transfers: id -> (debit code, credit code, amount)
    pendings: dict[str, tuple[str, str, int]] = {}
    for position, statement in enumerate(statements):
        kind = statement.get("kind")
        if kind not in (ACCOUNT_OPENED, TRANSFERS):
            continue
        if signer is not None and statement.get("signer") != signer:
            continue
        body = statement["body"]
        try:
            if kind == ACCOUNT_OPENED:
                if body["code"] in accounts:
                    raise ReplayError(f"account {body['code']} opened twice")
                accounts[body["code"]] = _Account(body["currency"], body.get("flags", ()))
            else:
                for transfer in body["transfers"]:
                    _apply(transfer, accounts, pendings)
        except ReplayError as exc:
            raise ReplayError(f"statement #{position}: {exc}") from None
        except (KeyError, TypeError, MoneyError) as exc:
            raise ReplayError(f"statement #{position}: malformed {kind} body ({exc!r})") from None
    return {code: tuple(account.balances) for code, account in accounts.items()}  # type: ignore[misc]


def _apply(
    transfer: dict[str, Any],
    accounts: dict[str, _Account],
    pendings: dict[str, tuple[str, str, int]],
) -> None:
    transfer_id, kind = transfer["id"], transfer["kind"]
    debit, credit = accounts.get(transfer["debit"]), accounts.get(transfer["credit"])
    if debit is None or credit is None:
        raise ReplayError(f"transfer {transfer_id} names an account never opened")
    currency = transfer["currency"]
    if debit.currency != currency or credit.currency != currency:
        raise ReplayError(f"transfer {transfer_id} in {currency} between other currencies")
    amount = Money.parse(transfer["amount"], currency).minor
    if amount <= 0:
        raise ReplayError(f"transfer {transfer_id} has a non-positive amount")
    if kind == "single":
        debit.balances[DPO] += amount
        credit.balances[CPO] += amount
    elif kind == "pending":
        if transfer_id in pendings:
            raise ReplayError(f"pending transfer {transfer_id} appears twice")
        debit.balances[DP] += amount
        credit.balances[CP] += amount
        pendings[transfer_id] = (transfer["debit"], transfer["credit"], amount)
    elif kind in ("post_pending", "void_pending"):
        opened = pendings.pop(transfer.get("pending_id") or "", None)
        if opened is None:
            raise ReplayError(f"{transfer_id} resolves an unknown or resolved pending transfer")
        if opened[:2] != (transfer["debit"], transfer["credit"]):
            raise ReplayError(f"{transfer_id} names other accounts than its pending transfer")
        reserved = opened[2]
        if amount > reserved or (kind == "void_pending" and amount != reserved):
            raise ReplayError(f"{transfer_id} moves {amount}, the pending transfer {reserved}")
        debit.balances[DP] -= reserved
        credit.balances[CP] -= reserved
        if kind == "post_pending":
            debit.balances[DPO] += amount
            credit.balances[CPO] += amount
    else:
        raise ReplayError(f"transfer {transfer_id} has unknown kind {kind!r}")
    _check_limits(debit, transfer_id)
    _check_limits(credit, transfer_id)


def _check_limits(account: _Account, transfer_id: str) -> None:
    dp, dpo, cp, cpo = account.balances
    if min(account.balances) < 0:
        raise ReplayError(f"transfer {transfer_id} drives a balance negative")
    if account.debits_must_not_exceed_credits and dp + dpo > cpo:
        raise ReplayError(f"transfer {transfer_id} overdraws a no-overdraft account")
    if account.credits_must_not_exceed_debits and cp + cpo > dpo:
        raise ReplayError(f"transfer {transfer_id} over-credits a credit-limited account")


# --- against the database -------------------------------------------------------------------


def _logged_statements(*, include_queued: bool) -> Iterator[dict[str, Any]]:
    leaves = Entry.objects.order_by("seq").values_list("leaf", flat=True)
    for leaf in leaves.iterator(chunk_size=2000):
        yield json.loads(bytes(leaf))["statement"]
    if include_queued:
        queued = QueuedStatement.objects.order_by("pk").values_list("statement", flat=True)
        for statement in queued.iterator(chunk_size=2000):
            yield json.loads(bytes(statement))


def replay_compare(*, include_queued: bool = False) -> list[str]:
    """Replay the integrated log from seq 0 and compare with the accounts table; returns the
    differences in words (empty: every balance is reproduced).

    Reads log and balances in one snapshot (REPEATABLE READ on PostgreSQL when called outside
    a transaction). Statements still queued are not on the log yet; pass `include_queued` to
    count them too (committed, signed, awaiting a seq)."""
    from ledger.selectors.money import balances_snapshot

    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            replayed = replay_balances(
                _logged_statements(include_queued=include_queued),
                signer=settings.LEDGER_OPERATOR_CODE,
            )
        except ReplayError as exc:
            return [f"replay failed: {exc}"]
        stored = balances_snapshot()
        queued = 0
        if not include_queued:
            queued = QueuedStatement.objects.filter(kind__in=(ACCOUNT_OPENED, TRANSFERS)).count()
    differences: list[str] = []
    for code in sorted(stored.keys() | replayed.keys()):
        if code not in replayed:
            differences.append(f"account {code}: in the database, never opened on the log")
        elif code not in stored:
            differences.append(f"account {code}: opened on the log, missing from the database")
        elif stored[code] != replayed[code]:
            fields = ", ".join(
                f"{name} {db} (log {log})"
                for name, db, log in zip(BALANCE_NAMES, stored[code], replayed[code], strict=True)
                if db != log
            )
            differences.append(f"account {code}: {fields}")
    if differences and queued:
        differences.append(f"note: {queued} ledger statements are queued, not yet integrated")
    return differences
