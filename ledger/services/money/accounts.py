"""Opening accounts (each with its `ledger.account_opened` statement)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import Conflict, DomainError
from institutions.models import Currency, Institution
from ledger.models import Account
from ledger.models.money import AccountKind
from ledger.services.log import statement_issue
from ledger.services.money.common import (
    ACCOUNT_CODE,
    STATEMENT_ACCOUNT_OPENED,
    _operator_code,
)

# --- accounts -------------------------------------------------------------------------------


class InvalidAccount(DomainError):
    code, status, title = "invalid_account", 400, "Invalid account"


class AccountExists(Conflict):
    code, title = "account_exists", "An account with that code exists"


class AccountExistsWithDifferentFields(Conflict):
    code, title = (
        "account_exists_with_different_fields",
        "An account with that code exists with other fields",
    )


def _currency_row(currency: Currency | str) -> Currency:
    if isinstance(currency, Currency):
        return currency
    row = Currency.objects.filter(code=currency).first()
    if row is None:
        raise InvalidAccount(f"unknown currency {currency!r}")
    return row


def _account_flags(account: Account) -> list[str]:
    return [
        flag
        for flag in ("credits_must_not_exceed_debits", "debits_must_not_exceed_credits")
        if getattr(account, flag)
    ]


@transaction.atomic
def account_create(
    *,
    code: str,
    kind: AccountKind | str,
    currency: Currency | str,
    institution: Institution | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Open an account with zero balances and queue the operator's `ledger.account_opened`
    statement (code, kind, currency, flags) so a replay knows it.

    `code` is the account's name on the public log: opaque, stable, never PII
    (e.g. ``wallet:<uuid>:MYR``). Raises AccountExists if the code is taken."""
    if not isinstance(code, str) or not ACCOUNT_CODE.fullmatch(code):
        raise InvalidAccount("an account code is 1-96 of A-Z a-z 0-9 _ . : -")
    try:
        kind = AccountKind(kind)
    except ValueError:
        raise InvalidAccount(f"unknown account kind {kind!r}") from None
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise InvalidAccount("an account takes at most one of the balance flags")
    currency_row = _currency_row(currency)
    if Account.objects.filter(code=code).exists():
        raise AccountExists(f"account {code} exists")
    account = Account.objects.create(
        code=code,
        kind=kind,
        currency=currency_row,
        institution=institution,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
    )
    statement_issue(
        institution=_operator_code(),
        kind=STATEMENT_ACCOUNT_OPENED,
        body={
            "code": account.code,
            "kind": str(account.kind),
            "currency": currency_row.code,
            "flags": _account_flags(account),
        },
        subject=account.code,
    )
    return account


def account_get_or_create(
    *,
    code: str,
    kind: AccountKind | str,
    currency: Currency | str,
    institution: Institution | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """The account with this code, opened if missing (idempotent by code). An existing account
    with other kind, currency, institution or flags is refused
    (AccountExistsWithDifferentFields): a code names exactly one account forever."""
    wanted = {
        "kind": str(kind),
        "currency_id": currency.code if isinstance(currency, Currency) else currency,
        "institution_id": institution.pk if institution is not None else None,
        "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
        "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
    }
    account = Account.objects.filter(code=code).first()
    if account is None:
        try:
            with transaction.atomic():
                return account_create(
                    code=code,
                    kind=kind,
                    currency=currency,
                    institution=institution,
                    debits_must_not_exceed_credits=debits_must_not_exceed_credits,
                    credits_must_not_exceed_debits=credits_must_not_exceed_debits,
                )
        except (AccountExists, IntegrityError):  # opened concurrently: compare with that one
            account = Account.objects.get(code=code)
    different = [name for name, value in wanted.items() if getattr(account, name) != value]
    if different:
        raise AccountExistsWithDifferentFields(
            f"account {code} exists with other {', '.join(different)}"
        )
    return account
