"""A submit batch's reads and checks: everything that decides whether each order may go,
in the order a client sees refusals, before anything is written (submit.py writes).

Each request is judged as if it ran alone after the ones before it in the batch: an accepted
order counts in the next one's limits, liquidity and quote use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from core.errors import DomainError, InvalidSignature, NotFound
from core.money import Money, money_wire, rate_str
from institutions.idempotency import Claim
from institutions.models import Institution
from kyc import selectors as kyc_selectors
from kyc import services as kyc
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
from remittance.services.orders.batch import Answer
from remittance.services.orders.signing import SignedStatement, signatures_check, signed_check
from remittance.services.orders.states import ACTIVE
from settlement.models import FxRate
from settlement.services.liquidity import LiquidityExceeded, LiquidityReads, liquidity_check

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


@dataclass
class BatchReads:
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
class Accepted:
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


def requests_fresh(
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


def batch_reads(
    requests: list[SubmitRequest],
    fresh: list[int],
    results: list[Answer | None],
    foreign_ids: set[uuid.UUID],
) -> BatchReads:
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
    return BatchReads(
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


def requests_check(
    requests: list[SubmitRequest], fresh: list[int], reads: BatchReads, results: list[Answer | None]
) -> list[Accepted]:
    """Each request's checks after the ones before it: an accepted order counts in the
    sender's limits, the institution's liquidity and its quote's use for the next."""
    now = timezone.now()
    claimed: set[str] = set()
    in_flight: dict[tuple[int, str], int] = {}
    accepted: list[Accepted] = []
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
    reads: BatchReads,
    *,
    quote_taken: bool,
    in_flight: dict[tuple[int, str], int],
    now: datetime,
) -> Accepted:
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
    return Accepted(
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
    r: SubmitRequest, reads: BatchReads, total: Money, in_flight: dict[tuple[int, str], int]
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
    the checks before screening that need no running totals (the same rules as `_check`)."""
    if quote is None or not _quote_is_theirs(quote, r):
        return False
    try:
        _parties(r, records)
    except DomainError:
        return False
    return True


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
