"""Fixtures and helpers for the money-ledger tests (imported by tests/ledger/test_money*.py and
test_replay.py; kept apart from tests/conftest.py, which builds the whole network)."""

from __future__ import annotations

import uuid

import pytest

from core.money import ISO4217
from institutions.models import Currency, Institution
from institutions.services import institution_create
from ledger.models import Account
from ledger.models.money import AccountKind
from ledger.services.money import TransferSpec, account_create, transfer_create


@pytest.fixture
def money_operator(db) -> Institution:
    """The operator: it signs every money-ledger statement. Re-seeds the currencies first: a
    `transaction=True` test before this one flushed what migration 0002 put there."""
    Currency.objects.bulk_create(
        [
            Currency(code=code, name=name, minor_units=units)
            for code, (units, name) in ISO4217.items()
        ],
        ignore_conflicts=True,
    )
    new = institution_create(code="HUB", name="Hub", country="MY", currency="MYR", is_operator=True)
    return new.signing_key.institution


def open_account(
    code: str, *, currency: str = "MYR", kind: str = AccountKind.WALLET, **flags: bool
) -> Account:
    return account_create(code=code, kind=kind, currency=currency, **flags)


def fund(*, source: Account, target: Account, amount: int) -> None:
    result = transfer_create(
        transfer=TransferSpec(uuid.uuid4(), source.pk, target.pk, amount, code="test.funding")
    )
    assert result.ok, result.result


def balances(account: Account) -> tuple[int, int, int, int]:
    account.refresh_from_db()
    return (
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
    )
