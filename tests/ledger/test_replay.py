"""Replaying the signed log rebuilds every money-ledger balance (ledger/replay.py)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from institutions.models import Currency
from ledger.models import Account
from ledger.replay import ReplayError, replay_balances, replay_compare
from ledger.services.log import ledger_integrate
from ledger.services.money import TransferSpec, transfers_create
from tests.ledger.conftest_money import fund, money_operator, open_account

__all__ = ["money_operator"]  # the fixture, imported for pytest


def opened(code, currency="MYR", flags=(), signer="HUB"):
    body = {"code": code, "kind": "wallet", "currency": currency, "flags": list(flags)}
    return {"kind": "ledger.account_opened", "signer": signer, "body": body}


def moved(*transfers, signer="HUB"):
    return {"kind": "ledger.transfers", "signer": signer, "body": {"transfers": list(transfers)}}


def transfer(kind, debit, credit, amount, *, id=None, pending_id=None, currency="MYR"):
    return {
        "id": id or str(uuid.uuid4()),
        "kind": kind,
        "debit": debit,
        "credit": credit,
        "amount": amount,
        "currency": currency,
        "pending_id": pending_id,
        "code": "",
        "reference": "",
    }


# --- the pure function ----------------------------------------------------------------------


def test_replay_of_single_pending_partial_post_and_void():
    p1, p2 = str(uuid.uuid4()), str(uuid.uuid4())
    log = [
        opened("a"),
        opened("b", flags=["debits_must_not_exceed_credits"]),
        {"kind": "order.submitted", "signer": "VALYOU-MY", "body": {}},  # not money: skipped
        moved(transfer("single", "a", "b", "100.00")),
        moved(
            transfer("pending", "b", "a", "30.00", id=p1),
            transfer("pending", "b", "a", "20.00", id=p2),
        ),
        moved(
            transfer("post_pending", "b", "a", "10.50", pending_id=p1),
            transfer("void_pending", "b", "a", "20.00", pending_id=p2),
        ),
    ]
    assert replay_balances(log) == {"a": (0, 10000, 0, 1050), "b": (0, 1050, 0, 10000)}


def test_replay_uses_each_currency_minor_units():
    log = [
        opened("y1", "JPY"),
        opened("y2", "JPY"),
        moved(transfer("single", "y1", "y2", "1500", currency="JPY")),
    ]
    assert replay_balances(log)["y2"] == (0, 0, 0, 1500)


def test_only_the_named_signer_moves_the_ledger():
    log = [opened("a"), opened("b"), moved(transfer("single", "a", "b", "5.00"), signer="EVIL")]
    assert replay_balances(log, signer="HUB")["b"] == (0, 0, 0, 0)
    assert replay_balances(log)["b"] == (0, 0, 0, 500)


@pytest.mark.parametrize(
    ("log", "complaint"),
    [
        ([opened("a"), moved(transfer("single", "a", "zz", "1.00"))], "never opened"),
        ([opened("a"), opened("a")], "opened twice"),
        (
            [opened("a"), opened("b"), moved(transfer("post_pending", "a", "b", "1.00"))],
            "unknown or resolved pending",
        ),
        (
            [
                opened("a", flags=["debits_must_not_exceed_credits"]),
                opened("b"),
                moved(transfer("single", "a", "b", "0.01")),
            ],
            "overdraws",
        ),
        (
            [opened("a"), opened("b", "PKR"), moved(transfer("single", "a", "b", "1.00"))],
            "other currencies",
        ),
        ([opened("a"), opened("b"), moved(transfer("single", "a", "b", "1.001"))], "malformed"),
    ],
)
def test_an_inconsistent_log_is_named(log, complaint):
    with pytest.raises(ReplayError, match=complaint) as error:
        replay_balances(log)
    assert "statement #" in str(error.value)


# --- against the database -------------------------------------------------------------------


@pytest.fixture
def busy_book(money_operator):
    funding = open_account("funding:MYR", kind="funding")
    wallet = open_account("wallet:w1:MYR", debits_must_not_exceed_credits=True)
    position = open_account("position:TMB-PK:MYR", kind="position")
    fund(source=funding, target=wallet, amount=10_000)
    reserve = TransferSpec(uuid.uuid4(), wallet.pk, position.pk, 4000, kind="pending")
    transfers_create(transfers=[reserve])
    transfers_create(
        transfers=[TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id, amount=2500)]
    )
    return wallet


@pytest.mark.django_db
def test_replay_of_the_log_reproduces_the_database(busy_book):
    ledger_integrate()
    assert replay_compare() == []


@pytest.mark.django_db
def test_statements_not_yet_integrated_show_and_can_be_counted(busy_book):
    differences = replay_compare()
    assert differences and "queued, not yet integrated" in differences[-1]
    assert replay_compare(include_queued=True) == []


@pytest.mark.django_db
def test_a_balance_changed_behind_the_ledger_is_found(busy_book):
    ledger_integrate()
    with connection.cursor() as cursor:  # accounts are not append-only: only the log says so
        cursor.execute(
            "UPDATE ledger_account SET credits_posted = credits_posted + 100 WHERE id = %s",
            [busy_book.pk],
        )
    assert replay_compare() == ["account wallet:w1:MYR: credits_posted 10100 (log 10000)"]


@pytest.mark.django_db
def test_an_account_never_stated_is_found(busy_book):
    Account.objects.create(
        code="wallet:ghost:MYR", kind="wallet", currency=Currency.objects.get(code="MYR")
    )
    ledger_integrate()
    assert replay_compare() == [
        "account wallet:ghost:MYR: in the database, never opened on the log"
    ]
