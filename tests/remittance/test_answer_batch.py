"""Batched answers of the receiving bank (`orders_answer`, `order_answer_grouped`).

What holds: every accept and credit in a batch gets exactly the answer it would get alone, after
the requests before it in the batch (a repeated accept is a 409, a credit needs the accept that
came before it); a refused answer leaves nothing behind, a refusal by the ledger included; the
money of all credits moves in one ledger call yet each order keeps its own `ledger.transfers`
statement on the log, so reconciliation matches every batch-credited order.
"""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from django.conf import settings
from django.db import connection

from core.money import Money
from institutions import services as inst
from ledger.models import Account, Entry, QueuedStatement, Transfer
from ledger.selectors.money import pending_transfer_state
from ledger.services import log as log_services
from ledger.services.log import ledger_integrate
from ledger.services.money import TransferRefused, TransferSpec, transfers_create
from remittance.models import OrderStatusChange, RemittanceOrder
from remittance.services.orders import (
    AnswerRequest,
    SignedStatement,
    order_answer_grouped,
    orders_answer,
    orders_submit,
)
from remittance.services.orders import answers as order_answers
from settlement.models import Break, ReconStatus, WindowOrder
from settlement.services import reconciliation as recon
from tests.conftest import Member, requires_postgres
from webhooks import services as hooks
from webhooks.models import WebhookDelivery

from .conftest import signed as signed_statement
from .test_submit_batch import PARTNER_POSITION, PREFUND, _race, codes, partner_quote
from .test_submit_batch import partner_request as submit_request

FEE_INCOME = "fee_income:PARTNER-MY:MYR"
TMB_POSITION = "position:TMB-PK:PKR"
FX_POSITION = "fx_position:PKR"
CREDIT_LEGS = ["order.post", "order.fee", "order.payout"]


# --- helpers ----------------------------------------------------------------------------------


def accept_request(order: RemittanceOrder, member: Member) -> AnswerRequest:
    """`member` accepts the order with the `order.accepted` statement it signed."""
    return AnswerRequest(
        step="accept",
        institution=member.institution,
        order_id=order.pk,
        signed=SignedStatement.from_request(
            **signed_statement(member, "order.accepted", {"order_id": str(order.pk)})
        ),
    )


def receive_amount(order: RemittanceOrder) -> Money:
    return Money.from_minor(order.receive_minor, order.receive_currency)


def credit_request(
    order: RemittanceOrder,
    member: Member,
    *,
    amount: Money | None = None,
    payout_reference: str | None = None,
) -> AnswerRequest:
    """`member` confirms the payout, signing every fact of it (as a receiving bank must)."""
    amount = amount or receive_amount(order)
    payout_reference = payout_reference or f"EP-{str(order.pk)[:8]}"
    facts = {
        "order_id": str(order.pk),
        "payout_reference": payout_reference,
        "receive_amount": amount.to_wire(),
    }
    return AnswerRequest(
        step="credit",
        institution=member.institution,
        order_id=order.pk,
        signed=SignedStatement.from_request(**signed_statement(member, "order.credited", facts)),
        payout_reference=payout_reference,
        receive_amount=amount,
    )


def forged(request: AnswerRequest) -> AnswerRequest:
    """The same request with one bit of its signature flipped."""
    assert request.signed is not None
    signature = bytearray(request.signed.signature)
    signature[0] ^= 1
    return dataclasses.replace(
        request, signed=SignedStatement(request.signed.statement, bytes(signature))
    )


def submitted_orders(corridor, *amounts: str) -> list[RemittanceOrder]:
    results = orders_submit([submit_request(corridor, partner_quote(corridor, a)) for a in amounts])
    assert codes(results) == ["submitted"] * len(amounts)
    return list(results)  # type: ignore[arg-type]


def accepted_orders(corridor, *amounts: str) -> list[RemittanceOrder]:
    orders = submitted_orders(corridor, *amounts)
    tmb = corridor.network.tmb
    assert codes(orders_answer([accept_request(o, tmb) for o in orders])) == ["accepted"] * len(
        orders
    )
    return [RemittanceOrder.objects.get(pk=o.pk) for o in orders]


def status_of(order: RemittanceOrder) -> str:
    return RemittanceOrder.objects.get(pk=order.pk).status


def moves(order: RemittanceOrder) -> list[tuple[str, str]]:
    """The order's status-change rows, oldest first."""
    return list(
        OrderStatusChange.objects.filter(order_id=order.pk)
        .order_by("pk")
        .values_list("from_status", "to_status")
    )


def statement_mark() -> int:
    return QueuedStatement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def queued_since(mark: int, kind: str, order: RemittanceOrder) -> list[QueuedStatement]:
    return list(
        QueuedStatement.objects.filter(pk__gt=mark, kind=kind, subject=str(order.pk)).order_by("pk")
    )


def statement_body(queued: QueuedStatement) -> dict:
    return json.loads(bytes(queued.statement))["body"]


def webhooks(order: RemittanceOrder, event_type: str | None = None) -> list[dict]:
    """The webhook deliveries naming this order, oldest first: who gets it, type and data."""
    found = []
    for delivery in WebhookDelivery.objects.order_by("pk"):
        payload = json.loads(delivery.payload)
        if payload["data"].get("order_id") != str(order.pk):
            continue
        if event_type is None or payload["type"] == event_type:
            found.append({"to": delivery.institution_id, **payload})
    return found


def balances(code: str) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted); zeros if not opened."""
    account = Account.objects.filter(code=code).first()
    if account is None:
        return 0, 0, 0, 0
    return (
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
    )


def grown(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(b - a for a, b in zip(before, after, strict=True))


def credit_legs(order: RemittanceOrder) -> list[str]:
    return sorted(
        Transfer.objects.filter(reference=str(order.pk), code__in=CREDIT_LEGS).values_list(
            "code", flat=True
        )
    )


@pytest.fixture
def partner_endpoint(corridor):
    """PARTNER-MY (the sending institution) listens for every order event."""
    endpoint, _ = hooks.webhook_endpoint_create(
        institution=corridor.network.partner.institution, url="https://partner.example/hooks"
    )
    return endpoint


@pytest.fixture
def stranger(corridor) -> Member:
    """Another receiving bank in Pakistan, party to none of these orders."""
    new = inst.institution_create(
        code="HBL-PK", name="HBL", country="PK", currency="PKR", is_receiving=True
    )
    return Member(new.signing_key.institution, new.private_key, new.signing_key.key_id)


# --- 1. a batch of accepts --------------------------------------------------------------------


def test_a_batch_accepting_several_orders_accepts_each_and_tells_the_sender(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    orders = submitted_orders(corridor, "100.00", "250.00", "999.99")
    mark = statement_mark()

    results = orders_answer([accept_request(o, tmb) for o in orders])

    assert codes(results) == ["accepted"] * 3
    assert [r.pk for r in results] == [o.pk for o in orders]
    for order in orders:
        assert status_of(order) == "accepted"
        assert moves(order) == [("", "submitted"), ("submitted", "accepted")]
        [statement] = queued_since(mark, "order.accepted", order)
        assert statement.signer == "TMB-PK"
        assert statement_body(statement) == {"order_id": str(order.pk)}
        [hook] = webhooks(order, "order.accepted")
        assert hook["to"] == corridor.network.partner.institution.pk
        assert hook["data"]["status"] == "accepted"
        assert not credit_legs(order)  # accepting moves no money
        assert pending_transfer_state(order.pending_transfer_id) == "pending"


# --- 2. a batch of credits --------------------------------------------------------------------


def test_a_batch_crediting_several_orders_moves_each_orders_money_once_with_its_own_statement(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    orders = accepted_orders(corridor, "100.00", "250.00", "999.99")
    sent = sum(o.send_minor + o.fee_minor for o in orders)
    fees = sum(o.fee_minor for o in orders)
    paid_out = sum(o.receive_minor for o in orders)
    before = {
        code: balances(code)
        for code in (PREFUND, PARTNER_POSITION, FEE_INCOME, FX_POSITION, TMB_POSITION)
    }
    mark = statement_mark()

    results = orders_answer([credit_request(o, tmb) for o in orders])

    assert codes(results) == ["credited"] * 3
    # (debits_pending, debits_posted, credits_pending, credits_posted)
    assert grown(before[PREFUND], balances(PREFUND)) == (-sent, sent, 0, 0)
    assert grown(before[PARTNER_POSITION], balances(PARTNER_POSITION)) == (0, fees, -sent, sent)
    assert grown(before[FEE_INCOME], balances(FEE_INCOME)) == (0, 0, 0, fees)
    assert grown(before[FX_POSITION], balances(FX_POSITION)) == (0, paid_out, 0, 0)
    assert grown(before[TMB_POSITION], balances(TMB_POSITION)) == (0, 0, 0, paid_out)
    operator = settings.LEDGER_OPERATOR_CODE
    for order in orders:
        stored = RemittanceOrder.objects.get(pk=order.pk)
        assert stored.status == "credited"
        assert stored.payout_reference == f"EP-{str(order.pk)[:8]}"
        assert moves(order)[-1] == ("accepted", "credited")
        assert pending_transfer_state(order.pending_transfer_id) == "posted"
        [money] = queued_since(mark, "ledger.transfers", order)
        assert money.signer == operator
        legs = statement_body(money)["transfers"]
        assert [leg["code"] for leg in legs] == CREDIT_LEGS
        assert {leg["reference"] for leg in legs} == {str(order.pk)}
        by_code = {leg["code"]: leg for leg in legs}
        assert (
            by_code["order.fee"]["amount"]
            == Money.from_minor(order.fee_minor, "MYR").to_wire()["amount"]
        )
        assert (by_code["order.payout"]["credit"], by_code["order.payout"]["amount"]) == (
            TMB_POSITION,
            receive_amount(order).to_wire()["amount"],
        )
        [confirmation] = queued_since(mark, "order.credited", order)
        assert confirmation.signer == "TMB-PK"
        [hook] = webhooks(order, "order.credited")
        assert hook["data"]["status"] == "credited"
        assert WindowOrder.objects.filter(order_id=order.pk).exists()


# --- 3. accept and credit of one order in one batch -------------------------------------------


def test_accept_then_credit_of_one_order_in_a_batch_credits_it_in_two_steps(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "300.00")
    mark = statement_mark()

    results = orders_answer([accept_request(order, tmb), credit_request(order, tmb)])

    assert all(isinstance(r, RemittanceOrder) and r.pk == order.pk for r in results)
    assert status_of(order) == "credited"
    assert pending_transfer_state(order.pending_transfer_id) == "posted"
    assert moves(order) == [("", "submitted"), ("submitted", "accepted"), ("accepted", "credited")]
    assert [(h["type"], h["data"]["status"]) for h in webhooks(order)] == [
        ("order.accepted", "accepted"),
        ("order.credited", "credited"),
    ]
    assert len(queued_since(mark, "order.accepted", order)) == 1
    assert len(queued_since(mark, "order.credited", order)) == 1
    assert len(queued_since(mark, "ledger.transfers", order)) == 1
    assert credit_legs(order) == sorted(CREDIT_LEGS)


def test_the_accepts_answer_shows_the_order_as_the_accept_left_it(corridor):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "300.00")

    results = orders_answer([accept_request(order, tmb), credit_request(order, tmb)])

    assert codes(results) == ["accepted", "credited"]
    assert results[0].credited_at is None and results[0].payout_reference == ""


# --- 4. the same answer twice in one batch ----------------------------------------------------


def test_the_same_accept_twice_in_a_batch_accepts_once_and_the_repeat_is_a_conflict(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "100.00")
    mark = statement_mark()

    results = orders_answer([accept_request(order, tmb), accept_request(order, tmb)])

    assert codes(results) == ["accepted", "invalid_transition"]
    assert results[1].status == 409 and "already accepted" in results[1].detail
    assert moves(order) == [("", "submitted"), ("submitted", "accepted")]
    assert len(queued_since(mark, "order.accepted", order)) == 1
    assert len(webhooks(order, "order.accepted")) == 1


def test_the_same_credit_twice_in_a_batch_moves_the_money_once(corridor, partner_endpoint):
    tmb = corridor.network.tmb
    [order] = accepted_orders(corridor, "100.00")
    before = balances(TMB_POSITION)
    mark = statement_mark()

    results = orders_answer([credit_request(order, tmb), credit_request(order, tmb)])

    assert codes(results) == ["credited", "invalid_transition"]
    assert results[1].status == 409 and "already credited" in results[1].detail
    assert grown(before, balances(TMB_POSITION)) == (0, 0, 0, order.receive_minor)
    assert credit_legs(order) == sorted(CREDIT_LEGS)
    assert moves(order)[1:] == [("submitted", "accepted"), ("accepted", "credited")]
    assert len(queued_since(mark, "order.credited", order)) == 1
    assert len(queued_since(mark, "ledger.transfers", order)) == 1
    assert len(webhooks(order, "order.credited")) == 1


# --- 5. a credit before its accept ------------------------------------------------------------


def test_a_credit_ahead_of_its_accept_in_a_batch_is_refused_and_the_accept_goes_through(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "100.00")
    before = balances(TMB_POSITION)

    results = orders_answer([credit_request(order, tmb), accept_request(order, tmb)])

    assert codes(results) == ["invalid_transition", "accepted"]
    assert results[0].status == 409
    assert "only an accepted order is credited" in results[0].detail
    assert status_of(order) == "accepted"
    assert moves(order) == [("", "submitted"), ("submitted", "accepted")]
    assert not credit_legs(order)
    assert balances(TMB_POSITION) == before
    assert pending_transfer_state(order.pending_transfer_id) == "pending"
    assert [h["type"] for h in webhooks(order)] == ["order.accepted"]


# --- 6. refusals refuse only their own request ------------------------------------------------


def test_refused_credits_in_a_batch_leave_the_others_credited(corridor, partner_endpoint):
    tmb = corridor.network.tmb
    short_paid, forged_credit, healthy = accepted_orders(corridor, "100.00", "200.00", "300.00")
    wrong_amount = Money.from_minor(short_paid.receive_minor - 1, "PKR")
    before = balances(TMB_POSITION)
    mark = statement_mark()

    results = orders_answer(
        [
            credit_request(short_paid, tmb, amount=wrong_amount),
            forged(credit_request(forged_credit, tmb)),
            credit_request(healthy, tmb),
        ]
    )

    assert codes(results) == ["statement_mismatch", "invalid_signature", "credited"]
    assert [r.status for r in results[:2]] == [400, 400]
    assert "receive amount" in results[0].detail
    assert grown(before, balances(TMB_POSITION)) == (0, 0, 0, healthy.receive_minor)
    for refused in (short_paid, forged_credit):
        assert status_of(refused) == "accepted"
        assert not credit_legs(refused)
        assert not queued_since(mark, "order.credited", refused)
        assert not queued_since(mark, "ledger.transfers", refused)
        assert not webhooks(refused, "order.credited")
    assert status_of(healthy) == "credited" and credit_legs(healthy) == sorted(CREDIT_LEGS)


def test_a_forged_accept_is_refused_and_the_others_are_accepted(corridor, partner_endpoint):
    tmb = corridor.network.tmb
    forged_order, healthy = submitted_orders(corridor, "100.00", "200.00")

    results = orders_answer(
        [forged(accept_request(forged_order, tmb)), accept_request(healthy, tmb)]
    )

    assert codes(results) == ["invalid_signature", "accepted"]
    assert status_of(forged_order) == "submitted" and moves(forged_order) == [("", "submitted")]
    assert not webhooks(forged_order, "order.accepted")


def test_only_the_receiving_bank_may_answer_and_a_stranger_learns_nothing(
    corridor, partner_endpoint, stranger
):
    network = corridor.network
    mine, theirs, healthy = submitted_orders(corridor, "100.00", "200.00", "300.00")
    mark = statement_mark()

    results = orders_answer(
        [
            accept_request(mine, network.partner),  # the sending bank
            accept_request(theirs, stranger),
            accept_request(healthy, network.tmb),
        ]
    )

    assert codes(results) == ["wrong_party", "not_found", "accepted"]
    assert [r.status for r in results[:2]] == [403, 404]
    assert "receiving institution" in results[0].detail
    for refused in (mine, theirs):
        assert status_of(refused) == "submitted"
        assert not queued_since(mark, "order.accepted", refused)
    assert status_of(healthy) == "accepted"


def test_a_credit_by_a_stranger_or_the_sender_moves_no_money(corridor, stranger):
    network = corridor.network
    mine, theirs = accepted_orders(corridor, "100.00", "200.00")
    before = balances(PARTNER_POSITION)

    results = orders_answer(
        [credit_request(mine, network.partner), credit_request(theirs, stranger)]
    )

    assert codes(results) == ["wrong_party", "not_found"]
    assert balances(PARTNER_POSITION) == before
    assert status_of(mine) == status_of(theirs) == "accepted"


def test_an_answer_for_an_order_that_does_not_exist_is_not_found(corridor):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "100.00")
    ghost = dataclasses.replace(accept_request(order, tmb), order_id=uuid.uuid4())

    results = orders_answer([ghost, accept_request(order, tmb)])

    assert codes(results) == ["not_found", "accepted"]


# --- 7. the ledger refuses one credit ---------------------------------------------------------


def void_reservation(order: RemittanceOrder) -> None:
    """Release the order's reservation behind its back (the order stays accepted)."""
    [result] = transfers_create(
        transfers=[
            TransferSpec.void(
                id=uuid.uuid4(),
                pending_id=order.pending_transfer_id,
                code="test.void",
                reference=str(order.pk),
            )
        ]
    )
    assert result.ok
    assert pending_transfer_state(order.pending_transfer_id) == "voided"


def test_a_credit_the_ledger_refuses_is_rolled_out_of_the_batch_and_the_rest_are_credited(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    first, unfunded, last = accepted_orders(corridor, "100.00", "200.00", "300.00")
    void_reservation(unfunded)
    before = {code: balances(code) for code in (PARTNER_POSITION, FEE_INCOME, TMB_POSITION)}
    mark = statement_mark()

    results = orders_answer([credit_request(o, tmb) for o in (first, unfunded, last)])

    assert codes(results) == ["credited", "pending_transfer_already_voided", "credited"]
    refusal = results[1]
    assert isinstance(refusal, TransferRefused) and 400 <= refusal.status < 500
    healthy = (first, last)
    sent = sum(o.send_minor + o.fee_minor for o in healthy)
    fees = sum(o.fee_minor for o in healthy)
    assert grown(before[PARTNER_POSITION], balances(PARTNER_POSITION)) == (0, fees, -sent, sent)
    assert grown(before[FEE_INCOME], balances(FEE_INCOME)) == (0, 0, 0, fees)
    assert grown(before[TMB_POSITION], balances(TMB_POSITION)) == (
        0,
        0,
        0,
        sum(o.receive_minor for o in healthy),
    )
    for order in healthy:
        assert status_of(order) == "credited"
        assert credit_legs(order) == sorted(CREDIT_LEGS)
        assert len(queued_since(mark, "ledger.transfers", order)) == 1
    # nothing of the refused credit was written
    assert status_of(unfunded) == "accepted"
    assert moves(unfunded) == [("", "submitted"), ("submitted", "accepted")]
    assert not credit_legs(unfunded)
    assert not QueuedStatement.objects.filter(pk__gt=mark, subject=str(unfunded.pk)).exists()
    assert not webhooks(unfunded, "order.credited")
    assert not WindowOrder.objects.filter(order_id=unfunded.pk).exists()


def test_an_accept_stands_when_the_ledger_refuses_the_credit_after_it_in_the_batch(
    corridor, partner_endpoint
):
    tmb = corridor.network.tmb
    [order] = submitted_orders(corridor, "100.00")
    void_reservation(order)
    mark = statement_mark()

    results = orders_answer(
        [accept_request(order, tmb), credit_request(order, tmb), credit_request(order, tmb)]
    )

    # alone, one after the other: accepted, then the ledger refuses each credit
    assert codes(results) == [
        "accepted",
        "pending_transfer_already_voided",
        "pending_transfer_already_voided",
    ]
    assert status_of(order) == "accepted"
    assert moves(order) == [("", "submitted"), ("submitted", "accepted")]
    assert [s.kind for s in QueuedStatement.objects.filter(pk__gt=mark)] == ["order.accepted"]
    assert [(h["type"], h["data"]["status"]) for h in webhooks(order)] == [
        ("order.accepted", "accepted")
    ]
    assert not credit_legs(order)


def test_two_credits_the_ledger_refuses_in_one_batch_each_get_the_refusal(corridor):
    tmb = corridor.network.tmb
    first, healthy, last = accepted_orders(corridor, "100.00", "200.00", "300.00")
    void_reservation(first)
    void_reservation(last)
    before = balances(TMB_POSITION)

    results = orders_answer([credit_request(o, tmb) for o in (first, healthy, last)])

    assert codes(results) == [
        "pending_transfer_already_voided",
        "credited",
        "pending_transfer_already_voided",
    ]
    assert grown(before, balances(TMB_POSITION)) == (0, 0, 0, healthy.receive_minor)
    assert not credit_legs(first) and not credit_legs(last)


# --- 8. a batch refused throughout ------------------------------------------------------------


def _footprint() -> dict[str, object]:
    return {
        "statuses": sorted(RemittanceOrder.objects.values_list("pk", "status")),
        "status_rows": OrderStatusChange.objects.count(),
        "statements": QueuedStatement.objects.count(),
        "transfers": Transfer.objects.count(),
        "webhooks": WebhookDelivery.objects.count(),
        "window_orders": WindowOrder.objects.count(),
        "balances": sorted(
            Account.objects.values_list(
                "code", "debits_pending", "debits_posted", "credits_pending", "credits_posted"
            )
        ),
    }


def test_a_batch_refused_throughout_writes_nothing(corridor, partner_endpoint, stranger):
    network = corridor.network
    tmb = network.tmb
    [submitted] = submitted_orders(corridor, "50.00")
    accepted, short_paid, forged_order, unfunded = accepted_orders(
        corridor, "100.00", "200.00", "300.00", "400.00"
    )
    void_reservation(unfunded)
    before = _footprint()

    results = orders_answer(
        [
            accept_request(accepted, tmb),  # already accepted
            credit_request(submitted, tmb),  # not accepted yet
            credit_request(
                short_paid, tmb, amount=Money.from_minor(short_paid.receive_minor + 100, "PKR")
            ),
            forged(credit_request(forged_order, tmb)),
            accept_request(submitted, network.partner),
            accept_request(submitted, stranger),
            credit_request(unfunded, tmb),  # refused by the ledger, after the writes
        ]
    )

    assert codes(results) == [
        "invalid_transition",
        "invalid_transition",
        "statement_mismatch",
        "invalid_signature",
        "wrong_party",
        "not_found",
        "pending_transfer_already_voided",
    ]
    assert _footprint() == before


# --- 9. reconciliation of batch-credited orders -----------------------------------------------


def test_orders_credited_in_one_batch_reconcile_without_a_break(corridor):
    tmb = corridor.network.tmb
    orders = accepted_orders(corridor, "100.00", "10.01", "999.99")
    [fresh] = submitted_orders(corridor, "42.00")
    requests = [credit_request(o, tmb) for o in orders]
    requests += [accept_request(fresh, tmb), credit_request(fresh, tmb)]
    assert codes(orders_answer(requests)) == ["credited"] * 3 + ["accepted", "credited"]
    credited = [*orders, fresh]

    ledger_integrate()
    head = Entry.objects.order_by("-seq").values_list("seq", flat=True).first()
    counts = recon.reconcile_entries(first_seq=0, last_seq=head)

    assert (counts["matched"], counts["broken"], counts["deferred"]) == (4, 0, 0)
    assert not Break.objects.exists()
    assert set(
        WindowOrder.objects.filter(order_id__in=[o.pk for o in credited]).values_list(
            "recon_status", flat=True
        )
    ) == {ReconStatus.MATCHED}
    for order in credited:
        # on the log: the credit's money statement names only its order (reconciliation needs
        # it); reservations are one statement per submit batch, whose subject names no order
        assert Entry.objects.filter(kind="ledger.transfers", subject=str(order.pk)).count() == 1
        reserve = f'"reference":"{order.pk}"'.encode()
        assert any(
            reserve in bytes(leaf)
            for leaf in Entry.objects.filter(
                kind="ledger.transfers", subject="order.reserve"
            ).values_list("leaf", flat=True)
        )


# --- 10. concurrent API credits share batches (PostgreSQL) ------------------------------------


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_grouped_credits_share_batches_and_credit_each_order_once(corridor, monkeypatch):
    # statements queue as usual; no integrator run from every thread's on_commit
    monkeypatch.setattr(log_services, "integration_request", lambda: None)
    count = 10
    tmb = corridor.network.tmb
    orders = accepted_orders(corridor, *(f"{100 + i}.00" for i in range(count)))
    requests = [credit_request(o, tmb) for o in orders]
    before = balances(TMB_POSITION)
    group = order_answers._answer_group
    batches_before, items_before = group.batches, group.items

    def credit(i: int) -> RemittanceOrder:
        try:
            return order_answer_grouped(requests[i])
        finally:
            connection.close()

    results = _race(count, credit)

    assert all(isinstance(r, RemittanceOrder) for r in results), results
    assert RemittanceOrder.objects.filter(status="credited").count() == count
    assert grown(before, balances(TMB_POSITION)) == (0, 0, 0, sum(o.receive_minor for o in orders))
    for order in orders:
        assert credit_legs(order) == sorted(CREDIT_LEGS)
        assert moves(order)[-1] == ("accepted", "credited")
    items = group.items - items_before
    batches = group.batches - batches_before
    assert items == count
    assert batches < items, f"{batches} batches for {items} credits: none was shared"
