"""Submitting orders: a sending institution's order from a live quote, checked and written
in batches (group commit), each request answered exactly as if it had run alone.

The path of one order: `orders_submit` (split a batch at a repeated order id) → `batch_run`
(batch.py: retries, redo, stored refusals) → `_attempt` (one durable transaction): keys
first, then `_reads` (everything the checks need, in lock order: quotes → senders' KYC
records → liquidity → accounts), `_check` per request (the refusals a client sees, in
order), `_write` (statements, orders, status rows, KYC links, webhooks in one INSERT each)
and `_reserve` (one ledger call for the batch's reservations, last: the hot account rows
are locked only from there to commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from core.db import objs_insert
from core.errors import DomainError, InvalidSignature, NotFound
from core.money import Money, money_wire, rate_str
from institutions.idempotency import Claim, Replay
from institutions.models import Institution
from kyc import selectors as kyc_selectors
from kyc import services as kyc
from ledger.services import accounts
from ledger.services.money import transfers_create
from remittance.batching import GroupCommit
from remittance.errors import (
    InsufficientFunds,
    KycNotVerified,
    LimitExceeded,
    OrderIdUnavailable,
    QuoteExpired,
    QuoteUsed,
    TravelRuleIncomplete,
)
from remittance.models import Customer, Quote, Recipient, RemittanceOrder
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
    signatures_check,
    signed_check,
    statements_record,
)
from remittance.services.orders.states import ACTIVE, S, changes_save, order_transition
from settlement.models import FxRate
from settlement.services.liquidity import (
    LiquidityExceeded,
    LiquidityReads,
    liquidity_check,
    liquidity_recheck,
)
from webhooks.services import webhook_events_publish

_OTHER_ORDER = "this order id already names a different order"


@dataclass(frozen=True)
class SubmitRequest:
    """One order to submit (see `order_submit`)."""

    sending_institution: Institution
    order_id: uuid.UUID
    quote_id: str
    sender_kyc_ref: str
    beneficiary_kyc_ref: str
    signed: SignedStatement | None = None
    customer: Customer | None = None
    recipient: Recipient | None = None
    claim: Claim | None = None  # the API request's Idempotency-Key, claimed in the batch


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


@dataclass
class _Reads:
    """What the checks of a batch need, read once for all its requests."""

    quotes: dict[str, Quote]
    used_quotes: set[str]
    records: dict[str, Any]
    usage: dict[str, tuple[int, int]]
    usd_rates: dict[str, Decimal | None]
    screened: dict[str, Any]
    newly_held: set[str]
    verdicts: dict[int, DomainError | None]
    foreign_ids: set[uuid.UUID]
    liquidity: LiquidityReads


@dataclass
class _Accepted:
    """A request that passed every check, with what the writes need."""

    index: int
    request: SubmitRequest
    quote: Quote
    receiving: Institution
    sender: Any
    beneficiary: Any
    total: Money
    hold_reasons: list[str]
    facts: dict[str, Any]


@transaction.atomic(durable=True)
def _attempt(requests: list[SubmitRequest], refused: dict[int, DomainError]) -> list[Answer]:
    results, keyed = claims_first(requests, refused)
    fresh, foreign_ids = _fresh(requests, results)
    reads = _reads(requests, fresh, results, foreign_ids)
    fresh = [i for i in fresh if results[i] is None]
    accepted = _check_all(requests, fresh, reads, results)
    if not accepted:
        raise NothingChanged(results, keyed)
    _monitor(accepted)
    orders = _write(accepted)  # raises Redo / IntegrityError: see batch.py
    for ok, order in zip(accepted, orders, strict=True):
        results[ok.index] = order
    claims_finish(requests, keyed, results)
    return results  # type: ignore[return-value]


def _monitor(accepted: list[_Accepted]) -> None:
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
            )
            for ok in accepted
        ]
    )
    for ok in accepted:
        if ok.index in held:
            ok.hold_reasons.append("monitoring")


def _fresh(
    requests: list[SubmitRequest], results: list[Answer | None]
) -> tuple[list[int], set[uuid.UUID]]:
    """The requests still to judge. An unsigned partner request is refused; a retried order
    id answers the stored order (another facts: 409). Another institution's order id is
    judged as if it were fresh (a non-party learns nothing of that order), then refused as
    unavailable if everything else passed."""
    todo: list[int] = []
    for i, r in enumerate(requests):
        if results[i] is not None:
            continue
        if r.signed is None and not r.sending_institution.hosted:
            results[i] = InvalidSignature("send the order.submitted statement you signed")
        else:
            todo.append(i)
    existing = RemittanceOrder.objects.in_bulk([requests[i].order_id for i in todo])
    fresh: list[int] = []
    foreign_ids: set[uuid.UUID] = set()
    for i in todo:
        r = requests[i]
        stored = existing.get(r.order_id)
        if stored is None:
            fresh.append(i)
        elif stored.sending_institution_id != r.sending_institution.pk:
            foreign_ids.add(r.order_id)
            fresh.append(i)
        else:
            results[i] = stored if _same_order(stored, r) else QuoteUsed(_OTHER_ORDER)
    return fresh, foreign_ids


def _reads(
    requests: list[SubmitRequest],
    fresh: list[int],
    results: list[Answer | None],
    foreign_ids: set[uuid.UUID],
) -> _Reads:
    """Reads, in lock order: quotes → senders' KYC records (one sender's submits run one at
    a time from there, so two cannot both pass the limits) → screening."""
    quote_ids = {requests[i].quote_id for i in fresh}
    quotes = {
        q.pk: q
        for q in Quote.objects.select_for_update(of=("self",))
        .select_related("corridor__pricing__receiving_institution")
        .filter(pk__in=quote_ids)
        .order_by("pk")
    }
    holders = dict(
        RemittanceOrder.objects.filter(quote_id__in=quote_ids).values_list("quote_id", "id")
    )
    # an order committed between the read of retried ids and the quote lock: a retry racing
    # its own first attempt (another batch, another process) answers that order
    raced = [
        i
        for i in fresh
        if holders.get(requests[i].quote_id) == requests[i].order_id
        and requests[i].order_id not in foreign_ids
    ]
    committed = RemittanceOrder.objects.in_bulk([requests[i].order_id for i in raced])
    for i in raced:
        stored = committed[requests[i].order_id]
        results[i] = stored if _same_order(stored, requests[i]) else QuoteUsed(_OTHER_ORDER)
    fresh = [i for i in fresh if i not in raced]
    senders = kyc_selectors.kyc_records_get(
        kyc_refs={requests[i].sender_kyc_ref for i in fresh}, lock=True
    )
    records = {
        **kyc_selectors.kyc_records_get(kyc_refs={requests[i].beneficiary_kyc_ref for i in fresh}),
        **senders,
    }
    # screen every party of the requests that may use their quote and records (never decrypt
    # or hold another institution's customer because a request named it); limits are judged
    # on the records as they were before: a new hit holds the order for compliance, it does
    # not turn the sender's limits to zero
    holds_before = {ref: record.screening_hold for ref, record in records.items()}
    screened = kyc.screening_check_records(
        records=[
            records[ref]
            for i in fresh
            if _may_screen(requests[i], quotes.get(requests[i].quote_id), records)
            for ref in (requests[i].sender_kyc_ref, requests[i].beneficiary_kyc_ref)
        ]
    )
    newly_held = {
        ref for ref, record in records.items() if record.screening_hold and not holds_before[ref]
    }
    for ref, record in records.items():
        record.screening_hold = holds_before[ref]
    signed = [i for i in fresh if requests[i].signed is not None]
    verdicts = signatures_check([requests[i].signed for i in signed])  # type: ignore[misc]
    return _Reads(
        quotes=quotes,
        used_quotes=set(holders),
        records=records,
        usage=_limits_usage(set(senders)),
        usd_rates=_usd_rates({q.send_currency for q in quotes.values()}),
        screened=screened,
        newly_held=newly_held,
        verdicts=dict(zip(signed, verdicts, strict=True)),
        foreign_ids=foreign_ids,
        liquidity=LiquidityReads(),
    )


def _check_all(
    requests: list[SubmitRequest], fresh: list[int], reads: _Reads, results: list[Answer | None]
) -> list[_Accepted]:
    """Each request's checks after the ones before it: an accepted order counts in the
    sender's limits, the institution's liquidity and its quote's use for the next."""
    now = timezone.now()
    claimed: set[str] = set()
    in_flight: dict[tuple[int, str], int] = {}
    accepted: list[_Accepted] = []
    for i in fresh:
        r = requests[i]
        try:
            ok = _check(
                i,
                r,
                reads,
                quote_taken=r.quote_id in reads.used_quotes | claimed,
                in_flight=in_flight,
                now=now,
            )
        except DomainError as exc:
            results[i] = exc
            continue
        if r.order_id in reads.foreign_ids:
            results[i] = OrderIdUnavailable("choose a new random order_id (a UUID)")
            continue
        accepted.append(ok)
        if r.sender_kyc_ref in reads.newly_held:
            # its first order is held for compliance; its later ones see the hold
            reads.records[r.sender_kyc_ref].screening_hold = True
        claimed.add(ok.quote.pk)
        used = reads.usage.get(r.sender_kyc_ref, (0, 0))
        reads.usage[r.sender_kyc_ref] = (
            used[0] + ok.quote.send_minor,
            used[1] + ok.quote.send_minor,
        )
        key = (r.sending_institution.pk, ok.total.currency)
        if "liquidity" not in ok.hold_reasons:
            in_flight[key] = in_flight.get(key, 0) + ok.total.minor
    return accepted


def _check(
    index: int,
    r: SubmitRequest,
    reads: _Reads,
    *,
    quote_taken: bool,
    in_flight: dict[tuple[int, str], int],
    now: datetime,
) -> _Accepted:
    """Every check of one submit, in the order a client sees refusals; raises DomainError."""
    institution = r.sending_institution
    quote = reads.quotes.get(r.quote_id)
    if quote is None or not _quote_is_theirs(quote, r):
        raise NotFound(f"no quote {r.quote_id}")
    if quote_taken:
        raise QuoteUsed("this quote was already used by another order")
    if quote.expires_at <= now:
        raise QuoteExpired(f"quote {r.quote_id} expired at {quote.expires_at.isoformat()}")
    sender, beneficiary = _parties(r, reads.records)
    if r.customer is not None and r.customer.wallet_id is None:
        raise InsufficientFunds("this customer has no wallet to send from yet")
    _limits_check(sender_record=sender, quote=quote, used=reads.usage.get(r.sender_kyc_ref, (0, 0)))
    send = Money.from_minor(quote.send_minor, quote.send_currency)
    missing = kyc.travel_rule_missing(
        originator_ref=r.sender_kyc_ref,
        beneficiary_ref=r.beneficiary_kyc_ref,
        amount=send,
        usd_rate=reads.usd_rates.get(send.currency),
        records=reads.records,
    )
    if missing:
        raise TravelRuleIncomplete(
            "travel-rule fields missing: " + ", ".join(missing), missing=missing
        )
    total = Money.from_minor(quote.send_minor + quote.fee_minor, send.currency)
    hold_reasons = _holds(r, reads, total, in_flight)
    facts = {
        "order_id": str(r.order_id),
        "quote_id": quote.id,
        "sender_kyc_ref": r.sender_kyc_ref,
        "beneficiary_kyc_ref": r.beneficiary_kyc_ref,
        "send_amount": send.to_wire(),
        "fee": money_wire(quote.fee_minor, quote.send_currency),
        "receive_amount": money_wire(quote.receive_minor, quote.receive_currency),
        "rate": rate_str(quote.rate),
    }
    if r.signed is not None:
        signed_check(
            r.signed,
            institution=institution,
            kind="order.submitted",
            expected=facts,
            required=("order_id", "quote_id", "sender_kyc_ref", "beneficiary_kyc_ref"),
        )
        verdict = reads.verdicts.get(index)
        if verdict is not None:
            raise verdict
    return _Accepted(
        index=index,
        request=r,
        quote=quote,
        receiving=quote.corridor.pricing.receiving_institution,
        sender=sender,
        beneficiary=beneficiary,
        total=total,
        hold_reasons=hold_reasons,
        facts=facts,
    )


def _parties(r: SubmitRequest, records: dict[str, Any]) -> tuple[Any, Any]:
    """Both parties' records must be the sending institution's own: naming another
    institution's record would link it to this order and open it to this order's parties."""
    institution = r.sending_institution
    sender = records.get(r.sender_kyc_ref)
    beneficiary = records.get(r.beneficiary_kyc_ref)
    if sender is None or sender.owner_id != institution.pk or sender.role != "sender":
        raise NotFound(f"no sender KYC record {r.sender_kyc_ref}")
    if (
        beneficiary is None
        or beneficiary.owner_id != institution.pk
        or beneficiary.role != "beneficiary"
    ):
        raise NotFound(f"no beneficiary KYC record {r.beneficiary_kyc_ref}")
    if sender.status != "verified":
        raise KycNotVerified(f"sender KYC status is {sender.status}")
    return sender, beneficiary


def _holds(
    r: SubmitRequest, reads: _Reads, total: Money, in_flight: dict[tuple[int, str], int]
) -> list[str]:
    """Why the order is held rather than sent on (screening, liquidity); refuses an order
    over a hard liquidity limit."""
    institution = r.sending_institution
    liquidity = liquidity_check(
        sending_institution=institution,
        amount=total,
        in_flight_minor=in_flight.get((institution.pk, total.currency), 0),
        reads=reads.liquidity,
    )
    if not liquidity.allowed and not liquidity.hold:
        raise LiquidityExceeded(
            f"{institution.code} has {liquidity.used} outstanding of a {liquidity.cap} "
            "limit; settle or prefund first"
        )
    hold_reasons = []
    if reads.screened[r.sender_kyc_ref].hold or reads.screened[r.beneficiary_kyc_ref].hold:
        hold_reasons.append("screening")
    if not liquidity.allowed:
        hold_reasons.append("liquidity")  # held before funds move: nothing reserved yet
    return hold_reasons


def _quote_is_theirs(quote: Quote, r: SubmitRequest) -> bool:
    """The institution's own quote; a quote priced for a hosted customer belongs to that
    customer alone (and an institution-level quote to no customer)."""
    customer_id = r.customer.pk if r.customer is not None else None
    return quote.institution_id == r.sending_institution.pk and quote.customer_id == customer_id


def _may_screen(r: SubmitRequest, quote: Quote | None, records: dict[str, Any]) -> bool:
    """The request names its own live quote, its own verified sender and its own beneficiary:
    the checks before screening that need no running totals."""
    sender = records.get(r.sender_kyc_ref)
    beneficiary = records.get(r.beneficiary_kyc_ref)
    return (
        quote is not None
        and _quote_is_theirs(quote, r)
        and sender is not None
        and sender.owner_id == r.sending_institution.pk
        and sender.role == "sender"
        and sender.status == "verified"
        and beneficiary is not None
        and beneficiary.owner_id == r.sending_institution.pk
        and beneficiary.role == "beneficiary"
    )


def _same_order(order: RemittanceOrder, r: SubmitRequest) -> bool:
    return (
        order.sending_institution_id == r.sending_institution.pk
        and order.quote_id == r.quote_id
        and order.sender_kyc_ref == r.sender_kyc_ref
        and order.beneficiary_kyc_ref == r.beneficiary_kyc_ref
    )


def _limits_usage(sender_refs: set[str]) -> dict[str, tuple[int, int]]:
    """(daily, monthly) minor units sent by each sender in active orders, in one query."""
    if not sender_refs:
        return {}
    now = timezone.now()
    rows = (
        RemittanceOrder.objects.filter(
            sender_kyc_ref__in=sender_refs,
            status__in=ACTIVE,
            created_at__gte=now - timedelta(days=30),
        )
        .values("sender_kyc_ref")
        .annotate(
            daily=Sum("send_minor", filter=Q(created_at__gte=now - timedelta(days=1))),
            monthly=Sum("send_minor"),
        )
        .order_by()
    )
    return {row["sender_kyc_ref"]: (row["daily"] or 0, row["monthly"] or 0) for row in rows}


def _limits_check(*, sender_record: Any, quote: Quote, used: tuple[int, int]) -> None:
    """The sender's tier limits against `used` (daily, monthly) plus this order."""
    limits = kyc.tier_limits(record=sender_record, corridor_code=quote.corridor.code)
    total = Money.from_minor(quote.send_minor, quote.send_currency)
    if total.currency != limits.per_transaction.currency:
        raise DomainError("limits are configured in another currency")
    if limits.per_transaction < total:
        raise LimitExceeded(f"per-transaction limit is {limits.per_transaction}")
    for label, limit, minor in (
        ("daily", limits.daily, used[0]),
        ("monthly", limits.monthly, used[1]),
    ):
        if limit < Money.from_minor(minor, total.currency) + total:
            raise LimitExceeded(f"{label} limit is {limit}")


def _usd_rates(currencies: set[str]) -> dict[str, Decimal | None]:
    """USD per unit of each currency (latest rate), one query per non-USD currency."""
    rates: dict[str, Decimal | None] = {}
    for currency in currencies:
        if currency == "USD":
            rates[currency] = Decimal(1)
            continue
        latest = FxRate.objects.filter(base_id=currency, quote_id="USD").order_by("-as_of").first()
        rates[currency] = latest.rate if latest else None
    return rates


# --- writes ---------------------------------------------------------------------------------


def _write(accepted: list[_Accepted]) -> list[RemittanceOrder]:
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


def _statement(ok: _Accepted) -> StepStatement:
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


def _order(ok: _Accepted, *, source_id: int, statement_ref: int) -> RemittanceOrder:
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


def _reserve(accepted: list[_Accepted], reservations: list[Any]) -> None:
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
