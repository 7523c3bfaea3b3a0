"""The money ledger's services (ledger/services/money.py) and selectors: two-phase transfers,
idempotency, linked batches, balance limits, expiry, immutability, and the statement each
call puts on the log."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import NotFound
from ledger.models import QueuedStatement, Transfer
from ledger.replay import replay_compare
from ledger.selectors.money import (
    account_balance,
    account_by_code,
    balances_snapshot,
    pending_transfer_state,
)
from ledger.services.log import ledger_integrate
from ledger.services.money import (
    AccountExists,
    AccountExistsWithDifferentFields,
    InvalidAccount,
    TransferRefused,
    TransferSpec,
    account_get_or_create,
    pending_transfers_void_expired,
    transfer_create,
    transfer_create_or_raise,
    transfers_create,
    transfers_create_or_raise,
)
from ledger.services.money import transfers as money_transfers
from tests.ledger.conftest_money import balances, fund, money_operator, open_account

__all__ = ["money_operator"]  # the fixture, imported for pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(money_operator):
    """A funding account, a no-overdraft wallet holding 50.00 MYR, and a position."""
    funding = open_account("funding:MYR", kind="funding")
    wallet = open_account("wallet:w1:MYR", debits_must_not_exceed_credits=True)
    position = open_account("position:VALYOU-MY:MYR", kind="position")
    fund(source=funding, target=wallet, amount=5000)
    return mock.Mock(funding=funding, wallet=wallet, position=position)


def pending(book, amount, *, timeout=None, id=None):
    return TransferSpec(
        id or uuid.uuid4(),
        book.wallet.pk,
        book.position.pk,
        amount,
        kind="pending",
        timeout_seconds=timeout,
        code="order.send",
        reference="ord_1",
    )


def ledger_statements(kind="ledger.transfers"):
    return [json.loads(bytes(q.statement)) for q in QueuedStatement.objects.filter(kind=kind)]


# --- accounts -------------------------------------------------------------------------------


def test_account_create_queues_an_operator_statement(money_operator):
    account = open_account("wallet:a1:MYR", debits_must_not_exceed_credits=True)
    [statement] = ledger_statements("ledger.account_opened")
    assert statement["signer"] == "HUB"
    assert statement["body"] == {
        "code": "wallet:a1:MYR",
        "kind": "wallet",
        "currency": "MYR",
        "flags": ["debits_must_not_exceed_credits"],
    }
    assert account_by_code(code="wallet:a1:MYR") == account
    assert account_by_code(code="wallet:nope:MYR") is None


def test_account_create_refuses_bad_input_and_duplicates(money_operator):
    open_account("wallet:a1:MYR")
    with pytest.raises(AccountExists):
        open_account("wallet:a1:MYR")
    with pytest.raises(InvalidAccount):
        open_account("wallet with spaces")
    with pytest.raises(InvalidAccount):
        open_account("wallet:a2:XXX", currency="XXX")
    with pytest.raises(InvalidAccount):
        open_account(
            "wallet:a3:MYR",
            debits_must_not_exceed_credits=True,
            credits_must_not_exceed_debits=True,
        )


def test_account_get_or_create_is_idempotent_by_code(money_operator):
    first = account_get_or_create(code="fees:MYR", kind="fee_income", currency="MYR")
    again = account_get_or_create(code="fees:MYR", kind="fee_income", currency="MYR")
    assert again == first
    assert len(ledger_statements("ledger.account_opened")) == 1
    with pytest.raises(AccountExistsWithDifferentFields) as refused:
        account_get_or_create(code="fees:MYR", kind="fee_income", currency="PKR")
    assert refused.value.code == "account_exists_with_different_fields"


# --- single and two-phase transfers ---------------------------------------------------------


def test_single_transfer_posts_at_once(book):
    assert balances(book.funding) == (0, 5000, 0, 0)
    assert balances(book.wallet) == (0, 0, 0, 5000)
    assert account_balance(account=book.wallet)["available"] == 5000


def test_pending_then_post_moves_the_reserved_amount(book):
    reserve = pending(book, 1200)
    assert transfer_create(transfer=reserve).result == "created"
    assert balances(book.wallet) == (1200, 0, 0, 5000)
    assert balances(book.position) == (0, 0, 1200, 0)
    assert account_balance(account=book.wallet)["available"] == 3800
    assert pending_transfer_state(reserve.id) == "pending"

    post = TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id)
    result = transfer_create(transfer=post)
    assert result.result == "created"
    assert result.transfer.amount == 1200
    assert balances(book.wallet) == (0, 1200, 0, 5000)
    assert balances(book.position) == (0, 0, 0, 1200)
    assert pending_transfer_state(reserve.id) == "posted"


def test_partial_post_releases_the_rest(book):
    reserve = pending(book, 1000)
    transfer_create(transfer=reserve)
    result = transfer_create(
        transfer=TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id, amount=400)
    )
    assert result.ok and result.transfer.amount == 400
    assert balances(book.wallet) == (0, 400, 0, 5000)
    assert balances(book.position) == (0, 0, 0, 400)


def test_void_releases_everything(book):
    reserve = pending(book, 1000)
    transfer_create(transfer=reserve)
    result = transfer_create(transfer=TransferSpec.void(id=uuid.uuid4(), pending_id=reserve.id))
    assert result.ok and result.transfer.amount == 1000
    assert balances(book.wallet) == (0, 0, 0, 5000)
    assert balances(book.position) == (0, 0, 0, 0)
    assert pending_transfer_state(reserve.id) == "voided"


def test_a_pending_transfer_resolves_once(book):
    posted, voided = pending(book, 100), pending(book, 200)
    transfers_create(transfers=[posted, voided])
    transfers_create(
        transfers=[
            TransferSpec.post(id=uuid.uuid4(), pending_id=posted.id),
            TransferSpec.void(id=uuid.uuid4(), pending_id=voided.id),
        ]
    )
    before = balances(book.wallet)
    results = transfers_create(
        transfers=[
            TransferSpec.void(id=uuid.uuid4(), pending_id=posted.id),
            TransferSpec.post(id=uuid.uuid4(), pending_id=posted.id),
            TransferSpec.post(id=uuid.uuid4(), pending_id=voided.id),
        ]
    )
    assert [r.result for r in results] == [
        "pending_transfer_already_posted",
        "pending_transfer_already_posted",
        "pending_transfer_already_voided",
    ]
    assert balances(book.wallet) == before


def test_post_refusals(book):
    single = TransferSpec(uuid.uuid4(), book.funding.pk, book.wallet.pk, 100)
    reserve = pending(book, 500)
    transfers_create(transfers=[single, reserve])
    other = open_account("wallet:w2:MYR")
    cases = {
        "pending_transfer_not_found": TransferSpec.post(id=uuid.uuid4(), pending_id=uuid.uuid4()),
        "pending_transfer_not_pending": TransferSpec.post(id=uuid.uuid4(), pending_id=single.id),
        "exceeds_pending_transfer_amount": TransferSpec.post(
            id=uuid.uuid4(), pending_id=reserve.id, amount=501
        ),
        "pending_id_required": TransferSpec(uuid.uuid4(), 0, 0, 0, kind="post_pending"),
        "pending_transfer_has_different_debit_account": TransferSpec(
            uuid.uuid4(), other.pk, 0, 0, kind="post_pending", pending_id=reserve.id
        ),
        "pending_transfer_has_different_amount": TransferSpec(
            uuid.uuid4(), 0, 0, 100, kind="void_pending", pending_id=reserve.id
        ),
        "timeout_reserved_for_pending_transfer": TransferSpec(
            uuid.uuid4(), book.funding.pk, book.wallet.pk, 1, timeout_seconds=5
        ),
    }
    results = transfers_create(transfers=list(cases.values()))
    assert [r.result for r in results] == list(cases)
    assert pending_transfer_state(reserve.id) == "pending"


def test_validation_codes(book):
    pkr = open_account("wallet:p1:PKR", currency="PKR")
    w, p = book.wallet.pk, book.position.pk
    cases = {
        "amount_must_be_positive": TransferSpec(uuid.uuid4(), w, p, 0),
        "accounts_must_be_different": TransferSpec(uuid.uuid4(), w, w, 1),
        "account_not_found": TransferSpec(uuid.uuid4(), w, 999_999, 1),
        "currency_mismatch": TransferSpec(uuid.uuid4(), book.funding.pk, pkr.pk, 1),
        "pending_id_must_be_zero": TransferSpec(uuid.uuid4(), w, p, 1, pending_id=uuid.uuid4()),
        "invalid_kind": TransferSpec(uuid.uuid4(), w, p, 1, kind="refund"),
        "id_must_not_be_zero": TransferSpec(uuid.UUID(int=0), w, p, 1),
        "code_too_long": TransferSpec(uuid.uuid4(), w, p, 1, code="x" * 33),
    }
    results = transfers_create(transfers=list(cases.values()))
    assert [r.result for r in results] == list(cases)
    assert not any(r.ok for r in results)
    assert Transfer.objects.count() == 1  # only the funding


def test_a_spec_refuses_floats():
    with pytest.raises(TypeError):
        TransferSpec(uuid.uuid4(), 1, 2, 10.5)


# --- idempotency ----------------------------------------------------------------------------


def test_same_id_same_fields_answers_exists_and_changes_nothing(book):
    reserve = pending(book, 700, timeout=600)
    first = transfer_create(transfer=reserve)
    before, statements = balances(book.wallet), len(ledger_statements())
    again = transfer_create(transfer=reserve)
    assert again.result == "exists"
    assert again.transfer.pk == first.transfer.pk and again.transfer.amount == 700
    assert balances(book.wallet) == before
    assert len(ledger_statements()) == statements  # nothing created, nothing stated

    post = TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id)
    assert transfer_create(transfer=post).result == "created"
    assert transfer_create(transfer=post).result == "exists"


def test_same_id_other_fields_is_refused(book):
    reserve = pending(book, 700)
    transfer_create(transfer=reserve)
    changed = TransferSpec(reserve.id, book.wallet.pk, book.position.pk, 701, kind="pending")
    assert transfer_create(transfer=changed).result == "exists_with_different_fields"
    other_timeout = pending(book, 700, timeout=60, id=reserve.id)
    assert transfer_create(transfer=other_timeout).result == "exists_with_different_fields"
    post = TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id, amount=300)
    transfer_create(transfer=post)
    full = TransferSpec.post(id=post.id, pending_id=reserve.id)  # "all of it" is not 300
    assert transfer_create(transfer=full).result == "exists_with_different_fields"


def test_a_duplicate_inside_one_batch_is_a_retry(book):
    reserve = pending(book, 100)
    results = transfers_create(transfers=[reserve, reserve])
    assert [r.result for r in results] == ["created", "exists"]
    assert balances(book.wallet)[0] == 100


def test_a_missed_concurrent_insert_is_caught_by_the_unique_key(book, monkeypatch):
    """The optimistic read can miss a transfer committed just before the lock; the primary
    key refuses the INSERT and the careful path answers as if it had been seen."""
    reserve = pending(book, 100)
    transfer_create(transfer=reserve)
    real_read = money_transfers._transfers_read
    calls = []

    def stale_then_real(batch_ids, pending_ids):
        calls.append(1)
        if len(calls) == 1:
            return {}, {}, []
        return real_read(batch_ids, pending_ids)

    monkeypatch.setattr(money_transfers, "_transfers_read", stale_then_real)
    assert transfer_create(transfer=reserve).result == "exists"
    assert balances(book.wallet)[0] == 100


# --- linked batches -------------------------------------------------------------------------


def test_linked_batch_is_all_or_nothing(book):
    fee = open_account("fees:MYR", kind="fee_income")
    statements = len(ledger_statements())
    batch = [
        TransferSpec(uuid.uuid4(), book.wallet.pk, book.position.pk, 3000, kind="pending"),
        TransferSpec(uuid.uuid4(), book.wallet.pk, fee.pk, 2500, kind="pending"),  # 5500 > 5000
        TransferSpec(uuid.uuid4(), book.funding.pk, fee.pk, 1),
    ]
    results = transfers_create(transfers=batch, linked=True)
    assert [r.result for r in results] == [
        "linked_event_failed",
        "exceeds_credits",
        "linked_event_failed",
    ]
    assert balances(book.wallet) == (0, 0, 0, 5000)
    assert balances(fee) == (0, 0, 0, 0)
    assert not Transfer.objects.filter(pk__in=[s.id for s in batch]).exists()
    assert len(ledger_statements()) == statements

    batch[1] = TransferSpec(uuid.uuid4(), book.wallet.pk, fee.pk, 2000, kind="pending")
    results = transfers_create(transfers=batch, linked=True)
    assert all(r.result == "created" for r in results)
    assert len({t.linked_group for t in Transfer.objects.filter(pk__in=[s.id for s in batch])}) == 1
    retry = transfers_create(transfers=batch, linked=True)
    assert [r.result for r in retry] == ["exists"] * 3


def test_unlinked_failures_stand_alone_and_later_transfers_see_earlier_ones(book):
    a, b, c = (pending(book, amount) for amount in (3000, 3000, 2000))
    results = transfers_create(transfers=[a, b, c])
    assert [r.result for r in results] == ["created", "exceeds_credits", "created"]
    assert balances(book.wallet) == (5000, 0, 0, 5000)
    assert len(ledger_statements()[-1]["body"]["transfers"]) == 2


def test_pending_and_post_in_one_batch(book):
    reserve = pending(book, 900)
    post = TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id, amount=500)
    results = transfers_create(transfers=[reserve, post], linked=True)
    assert [r.result for r in results] == ["created", "created"]
    assert balances(book.wallet) == (0, 500, 0, 5000)


def test_raise_style_wrappers(book):
    with pytest.raises(TransferRefused) as refused:
        transfer_create_or_raise(transfer=pending(book, 5001))
    assert refused.value.code == "exceeds_credits"
    assert refused.value.status == 422
    with pytest.raises(TransferRefused) as refused:
        transfers_create_or_raise(transfers=[pending(book, 10), pending(book, 6000)])
    assert refused.value.code == "exceeds_credits"
    assert balances(book.wallet) == (0, 0, 0, 5000)  # linked: the first was not kept
    created = transfers_create_or_raise(transfers=[pending(book, 10)])
    assert created[0].amount == 10


# --- balance limits -------------------------------------------------------------------------


def test_debits_must_not_exceed_credits_counts_reservations(book):
    assert transfer_create(transfer=pending(book, 4000)).ok
    assert transfer_create(transfer=pending(book, 1001)).result == "exceeds_credits"
    single = TransferSpec(uuid.uuid4(), book.wallet.pk, book.position.pk, 1001)
    assert transfer_create(transfer=single).result == "exceeds_credits"
    assert transfer_create(transfer=pending(book, 1000)).ok
    assert account_balance(account=book.wallet)["available"] == 0


def test_credits_must_not_exceed_debits(money_operator):
    liability = open_account("suspense:MYR", kind="suspense", credits_must_not_exceed_debits=True)
    other = open_account("funding:MYR", kind="funding")
    over = TransferSpec(uuid.uuid4(), other.pk, liability.pk, 1)
    assert transfer_create(transfer=over).result == "exceeds_debits"
    transfer_create(transfer=TransferSpec(uuid.uuid4(), liability.pk, other.pk, 300))
    assert transfer_create(transfer=TransferSpec(uuid.uuid4(), other.pk, liability.pk, 300)).ok
    assert transfer_create(
        transfer=TransferSpec(uuid.uuid4(), other.pk, liability.pk, 1)
    ).result == ("exceeds_debits")


def test_the_database_refuses_an_overdraft_the_services_would_never_write(book):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_account SET debits_posted = credits_posted + 1 WHERE id = %s",
            [book.wallet.pk],
        )


# --- expiry ---------------------------------------------------------------------------------


def test_an_expired_pending_transfer_cannot_be_posted_and_is_voided(book):
    reserve = pending(book, 1500, timeout=60)
    transfer_create(transfer=reserve)
    later = timezone.now() + timedelta(seconds=61)
    assert pending_transfer_state(reserve.id, now=later) == "expired"
    assert pending_transfers_void_expired(now=timezone.now()) == 0  # not yet
    with mock.patch("django.utils.timezone.now", return_value=later):
        post = TransferSpec.post(id=uuid.uuid4(), pending_id=reserve.id)
        assert transfer_create(transfer=post).result == "pending_transfer_expired"
        assert pending_transfers_void_expired() == 1
        assert pending_transfers_void_expired() == 0  # each is voided once
    assert pending_transfer_state(reserve.id) == "voided"
    assert balances(book.wallet) == (0, 0, 0, 5000)
    void = Transfer.objects.get(pending_id=reserve.id)
    assert (void.kind, void.code, void.reference) == ("void_pending", "pending.expired", "ord_1")


def test_pending_transfer_state_of_unknown_id(book):
    with pytest.raises(NotFound):
        pending_transfer_state(uuid.uuid4())


# --- immutability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", ["UPDATE ledger_transfer SET amount = amount + 1", "DELETE FROM ledger_transfer"]
)
def test_transfers_are_append_only_in_the_database(book, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert Transfer.objects.get().amount == 5000


# --- the statement --------------------------------------------------------------------------


def test_one_statement_per_call_lists_the_created_transfers(book):
    reserve = pending(book, 2345)
    refused = pending(book, 999_999)
    transfers_create(transfers=[reserve, refused], subject="ord_1")
    statement = ledger_statements()[-1]
    assert statement["signer"] == "HUB"
    assert statement["body"] == {
        "transfers": [
            {
                "id": str(reserve.id),
                "kind": "pending",
                "debit": "wallet:w1:MYR",
                "credit": "position:VALYOU-MY:MYR",
                "amount": "23.45",
                "currency": "MYR",
                "pending_id": None,
                "code": "order.send",
                "reference": "ord_1",
            }
        ]
    }
    assert QueuedStatement.objects.filter(kind="ledger.transfers").last().subject == "ord_1"


# --- properties -----------------------------------------------------------------------------

ACCOUNT_COUNT = 4
operations = st.lists(
    st.tuples(
        st.sampled_from(["single", "pending", "post", "void"]),
        st.integers(0, ACCOUNT_COUNT - 1),
        st.integers(0, ACCOUNT_COUNT - 1),
        st.integers(0, 3000),
        st.integers(0, 10),  # which earlier pending transfer a post/void names
        st.booleans(),  # send with the previous operation, in one call
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=operations)
def test_money_is_conserved_and_replay_reproduces_every_balance(money_operator, operations):
    with transaction.atomic():
        accounts = [
            open_account(f"acct:{i}", debits_must_not_exceed_credits=(i % 2 == 1))
            for i in range(ACCOUNT_COUNT)
        ]
        pendings: list[uuid.UUID] = []
        calls: list[list[TransferSpec]] = []
        for kind, debit, credit, amount, which, batched in operations:
            transfer_id = uuid.uuid4()
            if kind in ("single", "pending"):
                spec = TransferSpec(
                    transfer_id, accounts[debit].pk, accounts[credit].pk, amount, kind=kind
                )
                if kind == "pending":
                    pendings.append(transfer_id)
            elif pendings:
                target = pendings[which % len(pendings)]
                spec = (
                    TransferSpec.post(id=transfer_id, pending_id=target, amount=amount % 50)
                    if kind == "post"
                    else TransferSpec.void(id=transfer_id, pending_id=target)
                )
            else:
                continue
            if batched and calls:
                calls[-1].append(spec)
            else:
                calls.append([spec])
        for call in calls:
            transfers_create(transfers=call)

        snapshot = balances_snapshot()
        totals = [sum(balance[i] for balance in snapshot.values()) for i in range(4)]
        debits_pending, debits_posted, credits_pending, credits_posted = totals
        assert debits_pending == credits_pending
        assert debits_posted == credits_posted
        for index in (1, 3):  # no-overdraft accounts never go below zero
            dp, dpo, _, cpo = snapshot[f"acct:{index}"]
            assert dp + dpo <= cpo

        ledger_integrate()
        assert replay_compare() == []
        transaction.set_rollback(True)
