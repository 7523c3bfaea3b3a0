"""Submitting orders: a sending institution's order from a live quote, checked and written
in batches (group commit), each request answered exactly as if it had run alone.

The path of one order: `orders_submit` (split a batch at a repeated order id) → `batch_run`
(batch.py: retries, redo, stored refusals) → `_attempt` (one durable transaction): keys
first, then submit_checks.py — `batch_reads` (everything the checks need, in lock order:
quotes → senders' KYC records → liquidity → accounts) and `requests_check` (the refusals a
client sees, in order) — then transaction monitoring's interdict decision for the batch,
`_write` (statements, orders, status rows, KYC links, webhooks in one INSERT each)
and `_reserve` (one ledger call for the batch's reservations, last: the hot account rows
are locked only from there to commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import objs_insert
from core.errors import DomainError
from institutions.idempotency import Replay
from institutions.models import Institution
from kyc import services as kyc
from ledger.services import accounts
from ledger.services.money import transfers_create
from remittance.batching import GroupCommit
from remittance.models import Customer, Recipient, RemittanceOrder
from remittance.monitoring import Candidate, batch_judge
from remittance.services.orders import funds
from remittance.services.orders.batch import (
    Answer,
    NothingChanged,
    Redo,
    batch_run,
    claims_finish,
    claims_first,
)
from remittance.services.orders.notify import webhook_data
from remittance.services.orders.signing import (
    SignedStatement,
    StepStatement,
    statements_record,
)
from remittance.services.orders.states import S, changes_save, order_transition
from remittance.services.orders.submit_checks import (
    Accepted,
    SubmitRequest,
    batch_reads,
    requests_check,
    requests_fresh,
)
from settlement.services.liquidity import (
    LiquidityExceeded,
    liquidity_recheck,
)
from webhooks.services import webhook_events_publish


def order_submit(
    *,
    sending_institution: Institution,
    order_id: uuid.UUID,
    quote_id: str,
    sender_kyc_ref: str,
    beneficiary_kyc_ref: str,
    signed: SignedStatement | None = None,
    customer: Customer | None = None,
    recipient: Recipient | None = None,
) -> RemittanceOrder:
    """Create an order from a live quote, reserving send amount + fee (pending transfer).

    Same order id with the same facts → the existing order (no second reservation); with
    other facts → 409. Partners must sign `order.submitted`; hosted institutions are signed
    for by the hub. A screening hit holds the order (funds reserved) for compliance.
    A batch of one: see `orders_submit`."""
    result = orders_submit(
        [
            SubmitRequest(
                sending_institution=sending_institution,
                order_id=order_id,
                quote_id=quote_id,
                sender_kyc_ref=sender_kyc_ref,
                beneficiary_kyc_ref=beneficiary_kyc_ref,
                signed=signed,
                customer=customer,
                recipient=recipient,
            )
        ]
    )[0]
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, RemittanceOrder)  # no claim, so never a Replay
    return result


def order_submit_grouped(request: SubmitRequest) -> RemittanceOrder | Replay:
    """`order_submit` for request handlers: concurrent submits of this process share one
    `orders_submit` batch (group commit, remittance/batching.py). Same answers, same errors;
    a request whose Idempotency-Key answered before gets that answer back (Replay)."""
    result = _submit_group.submit(request)
    if isinstance(result, DomainError):
        raise result
    return result


def orders_submit(requests: Sequence[SubmitRequest]) -> list[Answer]:
    """Submit many orders in one transaction: one result per request, in order — the order
    (created, or the stored one for a retried order id) or the DomainError refusing it.
    Each request is checked exactly as if it were alone, after the requests before it in the
    batch (limits and liquidity count them); a refusal refuses only its own request.
    Durable: nobody can wrap it and roll it back."""
    if not requests:
        return []
    # An order id twice in one batch (a client's retry racing itself) splits the batch there:
    # the repeat then runs after the first has committed or been refused, as it would alone.
    seen: set[uuid.UUID] = set()
    for n, request in enumerate(requests):
        if request.order_id in seen:
            return batch_run(list(requests[:n]), _attempt) + orders_submit(requests[n:])
        seen.add(request.order_id)
    return batch_run(list(requests), _attempt)


@transaction.atomic(durable=True)
def _attempt(requests: list[SubmitRequest], refused: dict[int, DomainError]) -> list[Answer]:
    results, keyed = claims_first(requests, refused)
    fresh, foreign_ids = requests_fresh(requests, results)
    reads = batch_reads(requests, fresh, results, foreign_ids)
    fresh = [i for i in fresh if results[i] is None]
    accepted = requests_check(requests, fresh, reads, results)
    if not accepted:
        raise NothingChanged(results, keyed)
    _monitor(accepted)
    orders = _write(accepted)  # raises Redo / IntegrityError: see batch.py
    for ok, order in zip(accepted, orders, strict=True):
        results[ok.index] = order
    claims_finish(requests, keyed, results)
    return results  # type: ignore[return-value]


def _monitor(accepted: list[Accepted]) -> None:
    """Transaction monitoring's interdict decision for the whole batch at once
    (remittance/monitoring.py): an order it holds waits for compliance, funds reserved."""
    now = timezone.now()
    held = batch_judge(
        [
            Candidate(
                index=ok.index,
                order_id=ok.request.order_id,
                sender_kyc_ref=ok.request.sender_kyc_ref,
                beneficiary_kyc_ref=ok.request.beneficiary_kyc_ref,
                amount_minor=ok.quote.send_minor,
                currency=ok.quote.send_currency,
                sending_institution_id=ok.request.sending_institution.pk,
                at=now,
                holds=tuple(ok.hold_reasons),
            )
            for ok in accepted
        ]
    )
    for ok in accepted:
        if ok.index in held:
            ok.hold_reasons.append("monitoring")


# --- writes ---------------------------------------------------------------------------------


def _write(accepted: list[Accepted]) -> list[RemittanceOrder]:
    """The batch's writes, reservations last. Raises Redo, after the caller's transaction
    undoes everything, for requests the ledger or the liquidity re-check refused."""
    refs = statements_record([_statement(ok) for ok in accepted])
    named = accounts.accounts_open(
        name for ok in accepted for name in _accounts_named(ok.request, ok.total.currency)
    )
    orders, changes, links, events, reservations = [], [], [], [], []
    now = timezone.now()
    for ok, ref in zip(accepted, refs, strict=True):
        r, inst, currency = ok.request, ok.request.sending_institution, ok.total.currency
        # a customer's wallet (checked in _check: it has one), else the institution's prefund
        wallet_id = r.customer.wallet_id if r.customer is not None else None
        source_id = wallet_id or named[accounts.prefund(inst, currency).code].pk
        order = _order(ok, source_id=source_id, statement_ref=ref)
        target = S.HELD if ok.hold_reasons else S.SUBMITTED
        if target == S.SUBMITTED:
            order.submitted_at = now
        changes.append(
            order_transition(
                order,
                target,
                actor=f"institution:{inst.code}",
                reason=order.hold_reason,
                statement_ref=ref,
            )
        )
        orders.append(order)
        links.append((ok.sender, str(r.order_id), [inst, ok.receiving]))
        links.append((ok.beneficiary, str(r.order_id), [inst, ok.receiving]))
        if target == S.SUBMITTED:
            events.append((ok.receiving, "order.submitted", webhook_data(order)))
        if order.pending_transfer_id is not None:
            position = named[accounts.position(inst, currency).code]
            reservations.append(
                funds.reservation(
                    r.order_id, source_id=source_id, position_id=position.pk, amount=ok.total
                )
            )
    objs_insert(orders)  # a concurrent same id: IntegrityError
    changes_save(changes)
    kyc.kyc_links_create(links=links)
    webhook_events_publish(events)
    _reserve(accepted, reservations)
    return orders


def _statement(ok: Accepted) -> StepStatement:
    """`order.submitted`: the partner's verbatim, else signed by the hub for the hosted
    institution with the order's full terms."""
    r = ok.request
    return StepStatement(
        institution=r.sending_institution,
        kind="order.submitted",
        body={
            **ok.facts,
            "corridor": ok.quote.corridor.code,
            "sending_institution": r.sending_institution.code,
            "receiving_institution": ok.receiving.code,
            "payout_method": ok.quote.payout_method,
            "sender_commitment": ok.sender.commitment,
            "beneficiary_commitment": ok.beneficiary.commitment,
        },
        subject=str(r.order_id),
        signed=r.signed,
    )


def _accounts_named(r: SubmitRequest, currency: str) -> list[accounts.AccountName]:
    """The sending institution's position, and its prefund when no customer wallet pays."""
    names = [accounts.position(r.sending_institution, currency)]
    if r.customer is None:
        names.append(accounts.prefund(r.sending_institution, currency))
    return names


def _order(ok: Accepted, *, source_id: int, statement_ref: int) -> RemittanceOrder:
    r, quote = ok.request, ok.quote
    reserve = "liquidity" not in ok.hold_reasons
    return RemittanceOrder(
        id=r.order_id,
        quote=quote,
        sending_institution=r.sending_institution,
        receiving_institution=ok.receiving,
        customer=r.customer,
        recipient=r.recipient,
        sender_kyc_ref=r.sender_kyc_ref,
        beneficiary_kyc_ref=r.beneficiary_kyc_ref,
        payout_method=quote.payout_method,
        send_currency=quote.send_currency,
        send_minor=quote.send_minor,
        fee_minor=quote.fee_minor,
        receive_currency=quote.receive_currency,
        receive_minor=quote.receive_minor,
        rate=quote.rate,
        status="",
        source_account_id=source_id,
        pending_transfer_id=funds.transfer_id(r.order_id, "reserve") if reserve else None,
        submitted_statement_ref=statement_ref,
        hold_reason=",".join(ok.hold_reasons),
    )


def _reserve(accepted: list[Accepted], reservations: list[Any]) -> None:
    """One ledger call and one statement for the batch's reservations (each stands alone: a
    refusal refuses only its order), then the liquidity re-check under the position locks
    that call took: what it reads includes every concurrent order that got there first, so
    two orders that each fit alone cannot together break a cap."""
    if not reservations:
        return
    by_transfer = {funds.transfer_id(ok.request.order_id, "reserve"): ok for ok in accepted}
    refused: dict[int, DomainError] = {}
    # one `ledger.transfers` statement for the batch's reservations (pending transfers, each
    # naming its order as reference); its subject names no order, so reconciliation still
    # needs each credited order's own statement (the credit's legs, one per order)
    for result in transfers_create(transfers=reservations, subject="order.reserve"):
        if not result.ok:
            ok = by_transfer[result.id]
            refused[ok.index] = funds.refusal(result, ok.total)
    if refused:
        raise Redo(refused)
    checked: set[tuple[int, str]] = set()
    for ok in accepted:
        key = (ok.request.sending_institution.pk, ok.total.currency)
        if key in checked or "liquidity" in ok.hold_reasons:
            continue
        checked.add(key)
        try:
            liquidity_recheck(
                sending_institution=ok.request.sending_institution, currency=ok.total.currency
            )
        except LiquidityExceeded as exc:
            # the batch's last order of this institution goes; the rest are tried again
            last = [
                a
                for a in accepted
                if (a.request.sending_institution.pk, a.total.currency) == key
                and "liquidity" not in a.hold_reasons
            ]
            raise Redo({last[-1].index: exc}) from None


_submit_group: GroupCommit[SubmitRequest, Answer] = GroupCommit(
    orders_submit, max_batch=64, parallel=settings.ORDER_BATCHES_IN_PARALLEL
)
