"""The receiving institution's answers: accept and credit (batched, group commit) and reject
(one order at a time).

An accept or credit runs through the same batch driver as a submit (batch.py): the batch's
orders are locked in one query (pk order), each request is checked against the order as the
requests before it left it, and the writes — statements, status rows, order updates,
webhooks, settlement windows, and last all credits' money in one ledger call — are one query
each.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainError, InvalidSignature, NotFound
from core.money import Money
from institutions.idempotency import Claim, Replay
from institutions.models import Institution
from ledger.services.money import TransferRefused, transfers_create
from remittance.batching import GroupCommit
from remittance.errors import InvalidTransition, OrderNotFound, StatementMismatch, WrongParty
from remittance.locks import order_lock
from remittance.models import RemittanceOrder
from remittance.services.orders import funds
from remittance.services.orders.batch import (
    Answer,
    NothingChanged,
    Redo,
    batch_run,
    claims_finish,
    claims_first,
)
from remittance.services.orders.decisions import order_refund
from remittance.services.orders.notify import order_publish, webhook_data
from remittance.services.orders.signing import (
    SignedStatement,
    StepStatement,
    signatures_check,
    signed_check,
    statements_record,
    step_record,
)
from remittance.services.orders.states import (
    TRANSITIONS,
    S,
    changes_save,
    order_move,
    order_transition,
)
from settlement.services.windows import window_orders_record
from webhooks.services import webhook_events_publish


@dataclass(frozen=True)
class AnswerRequest:
    """A receiving institution's accept (`step="accept"`) or credit (`step="credit"`, with
    its payout reference and the receive amount it paid)."""

    step: str
    institution: Institution
    order_id: uuid.UUID
    signed: SignedStatement | None
    payout_reference: str = ""
    receive_amount: Money | None = None
    claim: Claim | None = None  # the API request's Idempotency-Key, claimed in the batch


def refuse_unless_party(order: RemittanceOrder, institution: Institution, *, receiving: bool):
    """Only the named side may take this step; a non-party is told there is no such order."""
    party = order.receiving_institution_id if receiving else order.sending_institution_id
    if party != institution.pk:
        if institution.pk in (order.receiving_institution_id, order.sending_institution_id):
            side = "receiving" if receiving else "sending"
            raise WrongParty(f"only the {side} institution may do this")
        raise NotFound(f"no order {order.pk}")


def order_answer(request: AnswerRequest) -> RemittanceOrder:
    """One accept or credit, alone (a batch of one: see `orders_answer`). Posting a credit
    moves the reservation to the sending institution's position, books the fee, and grows
    the receiving institution's position in the payout currency — all or nothing."""
    result = orders_answer([request])[0]
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, RemittanceOrder)  # no claim, so never a Replay
    return result


def order_answer_grouped(request: AnswerRequest) -> RemittanceOrder | Replay:
    """`order_answer` for request handlers: concurrent answers of this process share one
    `orders_answer` batch (group commit). Same answers, same errors; a request whose
    Idempotency-Key answered before gets that answer back (Replay)."""
    result = _answer_group.submit(request)
    if isinstance(result, DomainError):
        raise result
    return result


def orders_answer(requests: Sequence[AnswerRequest]) -> list[Answer]:
    """Accepts and credits of many orders in one transaction: one result per request, in
    order — the order, or the DomainError refusing that request alone. Each request sees the
    effect of the ones before it (a repeated accept in the same batch is a 409, as it would be
    one after the other). If the ledger refuses a credit's leg, the batch runs again without
    that request, which gets the ledger's refusal."""
    if not requests:
        return []
    return batch_run(list(requests), _attempt)


@dataclass
class _Answered:
    index: int
    request: AnswerRequest
    order: RemittanceOrder
    kind: str
    facts: dict[str, Any]
    change: Any  # the status-change row
    answer: RemittanceOrder | None = None  # the order as this request left it


@transaction.atomic(durable=True)
def _attempt(requests: list[AnswerRequest], refused: dict[int, DomainError]) -> list[Answer]:
    results, keyed = claims_first(requests, refused)
    live = [i for i in range(len(requests)) if results[i] is None]
    orders = {
        o.pk: o
        for o in RemittanceOrder.objects.select_for_update(of=("self",))
        .select_related("sending_institution", "receiving_institution", "quote")
        .filter(pk__in={requests[i].order_id for i in live})
        .order_by("pk")
    }
    signed = [i for i in live if requests[i].signed is not None]
    verdicts = dict(
        zip(signed, signatures_check([requests[i].signed for i in signed]), strict=True)  # type: ignore[misc]
    )
    answered: list[_Answered] = []
    now = timezone.now()  # one clock for the batch: what is stored is what each answer shows
    for i in live:
        order = orders.get(requests[i].order_id)
        try:
            if order is None:
                raise OrderNotFound(f"no order {requests[i].order_id}")
            answered.append(_check(i, requests[i], order, verdicts.get(i), now))
        except DomainError as exc:
            results[i] = exc
    if not answered:
        raise NothingChanged(results, keyed)
    _write(answered)
    for a in answered:
        results[a.index] = a.answer
    claims_finish(requests, keyed, results)
    return results  # type: ignore[return-value]


def _step(r: AnswerRequest, order: RemittanceOrder) -> tuple[str, str, dict[str, Any]]:
    """(statement kind, target status, signed facts) of an answer to the order as it is;
    raises, changing nothing, for an answer the order cannot take now."""
    if r.step == "accept":
        if order.status == S.ACCEPTED:
            raise InvalidTransition("order is already accepted; nothing changed")
        if S.ACCEPTED not in TRANSITIONS[order.status]:
            raise InvalidTransition(f"order is {order.status}; it can no longer be accepted")
        return "order.accepted", S.ACCEPTED, {"order_id": str(order.id)}
    if r.step != "credit":
        raise ValueError(f"unknown answer step {r.step}")
    if order.status in (S.CREDITED, S.SETTLED):
        raise InvalidTransition(f"order is already {order.status}; nothing changed")
    if order.status != S.ACCEPTED:
        raise InvalidTransition(f"order is {order.status}; only an accepted order is credited")
    expected = Money.from_minor(order.receive_minor, order.receive_currency)
    if r.receive_amount != expected:
        raise StatementMismatch(f"receive amount must be {expected}")
    if not r.payout_reference or len(r.payout_reference) > 64:
        raise DomainError("payout_reference is required (at most 64 characters)")
    facts = {
        "order_id": str(order.id),
        "payout_reference": r.payout_reference,
        "receive_amount": expected.to_wire(),
    }
    return "order.credited", S.CREDITED, facts


def _check(
    index: int,
    r: AnswerRequest,
    order: RemittanceOrder,
    verdict: DomainError | None,
    now: datetime,
) -> _Answered:
    """Every check of one answer against the order as the requests before it in the batch
    left it. Moves the order's status in memory (a later request sees it); raises
    DomainError, changing nothing, when refused."""
    refuse_unless_party(order, r.institution, receiving=True)
    kind, to, facts = _step(r, order)
    if r.signed is not None:
        # every fact of an answer is signed
        signed_check(
            r.signed, institution=r.institution, kind=kind, expected=facts, required=tuple(facts)
        )
        if verdict is not None:
            raise verdict
    elif not r.institution.hosted:
        raise InvalidSignature(f"send the {kind} statement you signed")
    change = order_transition(order, to, actor=f"institution:{r.institution.code}")
    if to == S.ACCEPTED:
        order.accepted_at = now
    else:
        order.payout_reference = r.payout_reference
        order.credited_at = now
    order.updated_at = now
    # a later request of the batch may move the same order on: this one answers with the
    # order as it left it
    return _Answered(
        index=index,
        request=r,
        order=order,
        kind=kind,
        facts=facts,
        change=change,
        answer=copy.copy(order),
    )


def _write(answered: list[_Answered]) -> None:
    """The batch's writes; the credits' money last (account locks held only to commit)."""
    refs = statements_record(
        [
            StepStatement(
                institution=a.request.institution,
                kind=a.kind,
                body=a.facts,
                subject=str(a.order.id),
                signed=a.request.signed,
            )
            for a in answered
        ]
    )
    for a, ref in zip(answered, refs, strict=True):
        a.change.statement_ref = ref
    changes_save([a.change for a in answered])
    _orders_update(answered)
    webhook_events_publish(
        [
            (a.order.sending_institution, a.kind, webhook_data(a.order, status=a.answer.status))  # type: ignore[union-attr]
            for a in answered
        ]
    )
    credits = [a for a in answered if a.kind == "order.credited"]
    if credits:
        # settlement: the batch's credited orders join their windows in one call (its
        # aggregate rows are upserted in key order: concurrent batches cannot deadlock)
        window_orders_record(orders=[a.order for a in credits])
        _credits_move(credits)


def _orders_update(answered: list[_Answered]) -> None:
    """The orders as the batch leaves them: one UPDATE for those accepted, then one for those
    credited (Django's bulk_update builds a CASE per field and order, which cost more than
    the rest of the batch). An order a batch accepts and credits takes both, in that order:
    the database's state machine sees every step."""
    final = {a.order.pk: a.order for a in answered}
    now = answered[0].order.updated_at
    accepted = list(dict.fromkeys(a.order.pk for a in answered if a.kind == "order.accepted"))
    credited = [o for o in final.values() if o.status == S.CREDITED]
    if accepted:
        RemittanceOrder.objects.filter(pk__in=accepted).update(
            status=S.ACCEPTED, accepted_at=now, updated_at=now
        )
    if credited:
        RemittanceOrder.objects.filter(pk__in=[o.pk for o in credited]).update(
            status=S.CREDITED,
            accepted_at=Coalesce(F("accepted_at"), Value(now)),
            credited_at=now,
            updated_at=now,
            payout_reference=Case(
                *[When(pk=o.pk, then=Value(o.payout_reference)) for o in credited],
                output_field=CharField(),
            ),
        )


def _credits_move(credits: list[_Answered]) -> None:
    """One ledger call for every credit of the batch (funds.credit_legs). Any refused leg:
    Redo without that credit."""
    by_order = {a.order.pk: a for a in credits}
    legs = funds.credit_legs([(a.order, a.request.institution) for a in credits])
    owner = {leg.id: by_order[order.pk] for order, order_legs in legs for leg in order_legs}
    refused: dict[int, DomainError] = {}
    for result in transfers_create(
        transfers=[leg for _, order_legs in legs for leg in order_legs],
        statement_per_reference=True,
    ):
        if not result.ok:
            refused.setdefault(owner[result.id].index, TransferRefused(result))
    if refused:
        raise Redo(refused)


@transaction.atomic(durable=True)
def order_reject(
    *,
    institution: Institution,
    order_id: uuid.UUID,
    reason_code: str,
    signed: SignedStatement | None,
) -> RemittanceOrder:
    """The receiving institution refuses: the reservation is voided, the sender refunded."""
    order = order_lock(order_id=order_id)
    refuse_unless_party(order, institution, receiving=True)
    if order.status in (S.REJECTED, S.REFUNDED):
        raise InvalidTransition(f"order is already {order.status}; nothing changed")
    if order.status not in (S.SUBMITTED, S.ACCEPTED):
        raise InvalidTransition(f"order is {order.status}; the receiving bank cannot reject it")
    ref = step_record(
        institution=institution,
        signed=signed,
        kind="order.rejected",
        facts={"order_id": str(order.id), "reason_code": reason_code},
        subject=str(order.id),
    )
    order_move(
        order,
        S.REJECTED,
        actor=f"institution:{institution.code}",
        reason=reason_code,
        statement_ref=ref,
    )
    order.reason_code = reason_code[:48]
    order.save(update_fields=["status", "reason_code", "updated_at"])
    if order.pending_transfer_id:
        order_refund(order, reason=reason_code)
    order_publish(order, "order.rejected", order.sending_institution)
    order_publish(order, "order.refunded", order.sending_institution)
    return order


_answer_group: GroupCommit[AnswerRequest, Answer] = GroupCommit(
    orders_answer, max_batch=64, parallel=settings.ORDER_BATCHES_IN_PARALLEL
)
