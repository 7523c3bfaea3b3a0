"""Orders and their state machine (DESIGN.md §3).

Every transition goes through `_move` (allowed map, status-change row, same transaction).
Every transition another party relies on is a signed statement on the log: the partner's own
statement verbatim when it signed one, else the hosted institution's or the operator's.
Money moves only through ledger.services.money, with transfer ids derived from the order id
(uuid5), so a retried call can never move money twice. Top-level services are
`atomic(durable=True)`: nobody can wrap and roll them back half-way.
"""

from __future__ import annotations

import base64
import copy
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.db import objs_insert
from config.errors import DomainError, InvalidSignature, NotFound
from institutions.idempotency import Claim, Replay, claims_resolve, claims_store
from institutions.models import Institution
from institutions.money import Money, rate_str
from institutions.services_webhooks import webhook_events_publish
from kyc import selectors as kyc_selectors
from kyc import services as kyc
from ledger.models import Account, AccountKind
from ledger.services.log import (
    statement_append,
    statement_issue,
    statements_check,
    statements_issue,
    statements_queue,
)
from ledger.services.money import (
    TransferRefused,
    TransferSpec,
    account_get_or_create,
    transfers_create,
    transfers_create_or_raise,
)
from remittance.batching import GroupCommit
from remittance.errors import (
    InsufficientFunds,
    InvalidTransition,
    KycNotVerified,
    LimitExceeded,
    OrderIdUnavailable,
    OrderNotFound,
    QuoteExpired,
    QuoteUsed,
    StatementMismatch,
    TravelRuleIncomplete,
    WrongParty,
)
from remittance.locks import order_lock
from remittance.models import (
    Customer,
    OrderStatus,
    OrderStatusChange,
    Quote,
    Recipient,
    RemittanceOrder,
)
from settlement.models import FxRate
from settlement.services.liquidity import (
    LiquidityExceeded,
    LiquidityNotConfigured,
    LiquidityReads,
    liquidity_check,
    liquidity_recheck,
)

logger = logging.getLogger(__name__)
S = OrderStatus
TRANSITIONS: dict[str, set[str]] = {
    "": {S.SUBMITTED, S.HELD},
    S.HELD: {S.SUBMITTED, S.REJECTED},
    S.SUBMITTED: {S.ACCEPTED, S.REJECTED, S.EXPIRED, S.FAILED},
    S.ACCEPTED: {S.CREDITED, S.REJECTED, S.EXPIRED},
    S.CREDITED: {S.SETTLED},
    S.REJECTED: {S.REFUNDED},
    S.EXPIRED: {S.REFUNDED},
    S.REFUNDED: set(),
    S.SETTLED: set(),
    S.FAILED: set(),
}
ACTIVE = (S.SUBMITTED, S.HELD, S.ACCEPTED, S.CREDITED, S.SETTLED)
OPERATOR = "operator"


@dataclass(frozen=True)
class SignedStatement:
    """What a partner sends with a request that moves an order."""

    statement: dict[str, Any]
    signature: bytes

    @classmethod
    def from_request(cls, statement: Any, signature: Any) -> SignedStatement:
        if not isinstance(statement, dict) or not isinstance(signature, str):
            raise InvalidSignature("send `statement` (object) and `signature` (base64)")
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            raise InvalidSignature("signature is not base64") from None
        return cls(statement=statement, signature=raw)


# --- helpers --------------------------------------------------------------------------------


def _tid(order_id: uuid.UUID, leg: str) -> uuid.UUID:
    return uuid.uuid5(order_id, leg)


def _money(minor: int, currency: str) -> dict[str, str]:
    return Money.from_minor(minor, currency).to_wire()


def _move(
    order: RemittanceOrder,
    to: str,
    *,
    actor: str,
    reason: str = "",
    statement_ref: int | None = None,
) -> None:
    """The one function that changes an order's state (a batch saves `_transition`'s rows
    itself)."""
    _transition(order, to, actor=actor, reason=reason, statement_ref=statement_ref).save()


def _transition(
    order: RemittanceOrder,
    to: str,
    *,
    actor: str,
    reason: str = "",
    statement_ref: int | None = None,
) -> OrderStatusChange:
    """Check the move against the map, change the order's status, and return the (unsaved)
    status-change row."""
    if to not in TRANSITIONS[order.status]:
        raise InvalidTransition(f"order is {order.status}; it cannot become {to}")
    change = OrderStatusChange(
        order=order,
        from_status=order.status,
        to_status=to,
        actor=actor,
        reason=reason[:200],
        statement_ref=statement_ref,
    )
    order.status = to
    return change


def _account(
    code: str, kind: str, currency: str, institution: Institution | None = None, **flags: bool
) -> Account:
    """The named account, opened on first use. An existing account is used as it is: its
    flags (e.g. a prefund limit set by the operator) are the operator's, not this call's."""
    existing = Account.objects.filter(code=code).first()
    if existing is not None:
        return existing
    return account_get_or_create(
        code=code, kind=kind, currency=currency, institution=institution, **flags
    )


def position_account(institution: Institution, currency: str) -> Account:
    return _account(
        f"position:{institution.code}:{currency}", AccountKind.POSITION, currency, institution
    )


def prefund_account(institution: Institution, currency: str) -> Account:
    """What an external sending institution has funded (or may owe) the network."""
    return _account(
        f"prefund:{institution.code}:{currency}", AccountKind.FUNDING, currency, institution
    )


def webhook_data(order: RemittanceOrder) -> dict[str, Any]:
    """Ids, state and amounts — never PII (the beneficiary is a KYC reference)."""
    return {
        "order_id": str(order.id),
        "status": order.status,
        "sending_institution": order.sending_institution.code,
        "receiving_institution": order.receiving_institution.code,
        "send_amount": _money(order.send_minor, order.send_currency),
        "receive_amount": _money(order.receive_minor, order.receive_currency),
        "beneficiary_kyc_ref": order.beneficiary_kyc_ref,
        "payout_method": order.payout_method,
    }


def _publish(order: RemittanceOrder, event: str, *to: Institution) -> None:
    from institutions.services_webhooks import webhook_event_publish

    data = webhook_data(order)
    for institution in dict.fromkeys(to):
        webhook_event_publish(institution=institution, event_type=event, data=data)


def _signed_append(
    signed: SignedStatement,
    *,
    institution: Institution,
    kind: str,
    expected: dict[str, Any],
    subject: str,
    required: tuple[str, ...] = (),
) -> int:
    """Verify the partner's statement is the step it claims and carries the request's facts,
    then queue it verbatim. Returns the queued statement's ref."""
    _signed_check(signed, institution=institution, kind=kind, expected=expected, required=required)
    return statement_append(
        statement=signed.statement, signature=signed.signature, subject=subject
    ).pk


def _signed_check(
    signed: SignedStatement,
    *,
    institution: Institution,
    kind: str,
    expected: dict[str, Any],
    required: tuple[str, ...] = (),
) -> None:
    """The partner's statement is the step it claims and carries the request's facts."""
    statement = signed.statement
    if statement.get("kind") != kind:
        raise StatementMismatch(f"statement kind must be {kind}")
    if statement.get("signer") != institution.code:
        raise StatementMismatch("statement must be signed by the calling institution")
    raw = statement.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for name, value in expected.items():
        # required facts must be signed; optional ones (the quote's amounts on a submit) are
        # checked when the partner chose to sign them
        if (name in body or name in required) and body.get(name) != value:
            raise StatementMismatch(f"signed body field {name} does not match the request")


def _issue(institution: Institution | str, kind: str, body: dict[str, Any], subject: str) -> int:
    return statement_issue(institution=institution, kind=kind, body=body, subject=subject).pk


def _refuse_unless_party(order: RemittanceOrder, institution: Institution, *, receiving: bool):
    party = order.receiving_institution_id if receiving else order.sending_institution_id
    if party != institution.pk:
        if institution.pk in (order.receiving_institution_id, order.sending_institution_id):
            side = "receiving" if receiving else "sending"
            raise WrongParty(f"only the {side} institution may do this")
        raise NotFound(f"no order {order.pk}")


# --- submit ---------------------------------------------------------------------------------


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


SubmitResult = RemittanceOrder | DomainError
SubmitAnswer = RemittanceOrder | DomainError | Replay  # Replay: for a claim seen before


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


def _accounts_by_code(wanted: dict[str, tuple[str, str, Institution | None]]) -> dict[str, Account]:
    """The named accounts (code → kind, currency, institution), one query; opened if missing."""
    found = {a.code: a for a in Account.objects.filter(code__in=list(wanted))}
    for code, (kind, currency, institution) in wanted.items():
        if code not in found:
            found[code] = account_get_or_create(
                code=code, kind=kind, currency=currency, institution=institution
            )
    return found


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


class _NothingSubmitted(Exception):
    """Rolls the batch's transaction back when no order in it was created (so a refused
    submit writes nothing, not even its screening's access-log rows)."""

    def __init__(self, results: Sequence[SubmitAnswer | None], keyed: Sequence[int] = ()) -> None:
        self.results = list(results)
        self.keyed = list(keyed)  # requests whose Idempotency-Keys are still to be stored


def _claims_first(
    requests: Sequence[SubmitRequest | AnswerRequest], refused: dict[int, DomainError]
) -> tuple[list[SubmitAnswer | None], list[int]]:
    """A batch's first step: its Idempotency-Keys, all of them (a refused request's too: its
    key may have been stored by another request since, and it still decides for a later one
    with the same key). Returns the results known already — the earlier answer of a key seen
    before, else the refusal from an earlier run — and the requests whose keys this batch
    must store with its answers."""
    earlier = claims_resolve([r.claim for r in requests])
    keyed = [i for i, r in enumerate(requests) if r.claim is not None and earlier[i] is None]
    return [earlier[i] or refused.get(i) for i in range(len(requests))], keyed


def _refusals_store(
    requests: Sequence[SubmitRequest | AnswerRequest], nothing: _NothingSubmitted
) -> list[SubmitAnswer | None]:
    """A batch that changed nothing was rolled back whole; its answers are stored with their
    keys on their own. The keys are read again first, in this transaction: a request with the
    same key that committed while this batch waited on its locks (a concurrent retry of the
    same request) answers for it — the caller gets that first answer, not its own late
    refusal ("already accepted", "quote used")."""
    results = list(nothing.results)
    with transaction.atomic():
        known = claims_resolve([requests[i].claim for i in nothing.keyed])
        for i, answer in zip(nothing.keyed, known, strict=True):
            if answer is not None:
                results[i] = answer
        claims_store(
            [
                (requests[i].claim, results[i])  # type: ignore[misc]
                for i, answer in zip(nothing.keyed, known, strict=True)
                if answer is None
            ],
            skip_conflicts=True,
        )
    return results


class _Redo(Exception):
    """Roll the batch's transaction back and run it again without these requests (index →
    the error that refuses each)."""

    def __init__(self, refused: dict[int, DomainError]) -> None:
        self.refused = refused


def orders_submit(requests: Sequence[SubmitRequest]) -> list[SubmitAnswer]:
    """Submit many orders in one transaction: one result per request, in order — the order
    (created, or the stored one for a retried order id) or the DomainError refusing it.
    Each request is checked exactly as if it were alone, after the requests before it in the
    batch (limits and liquidity count them); a refusal refuses only its own request.

    The batch reads what all its requests need in a few queries (quotes locked in pk order,
    then the senders' KYC records, then accounts), writes statements, orders, status rows,
    KYC links and webhooks in one INSERT each, and reserves all funds in one ledger call —
    so the per-order cost of a submit falls with the batch size (the API batches concurrent
    submits, remittance/batching.py). Durable: nobody can wrap it and roll it back."""
    if not requests:
        return []
    # An order id twice in one batch (a client's retry racing itself) splits the batch there:
    # the repeat then runs after the first has committed or been refused, as it would alone.
    seen: set[uuid.UUID] = set()
    for n, request in enumerate(requests):
        if request.order_id in seen:
            return _orders_submit_retrying(list(requests[:n])) + orders_submit(requests[n:])
        seen.add(request.order_id)
    return _orders_submit_retrying(list(requests))


def _orders_submit_retrying(requests: list[SubmitRequest]) -> list[SubmitAnswer]:
    refused: dict[int, DomainError] = {}
    collisions = 0
    results: list[SubmitAnswer | None]
    while True:
        try:
            results = _orders_submit(requests, refused)
        except _NothingSubmitted as nothing:
            results = _refusals_store(requests, nothing)
        except _Redo as redo:
            # raised out of the transaction: everything was rolled back; run the batch again
            # from the start without these requests, so the others are checked as if the
            # refused ones had never been in it (limits, liquidity, quotes)
            refused.update(redo.refused)
            continue
        except IntegrityError:
            # another request committed one of these order ids after we looked: run again,
            # and the stored order answers for it
            collisions += 1
            if collisions > 3:
                raise
            continue
        break
    return results  # type: ignore[return-value]


@transaction.atomic(durable=True)
def _orders_submit(
    requests: list[SubmitRequest], refused: dict[int, DomainError]
) -> list[SubmitAnswer | None]:
    results, keyed = _claims_first(requests, refused)
    todo: list[int] = []
    for i, r in enumerate(requests):
        if results[i] is not None:
            continue
        if r.signed is None and not r.sending_institution.hosted:
            results[i] = InvalidSignature("send the order.submitted statement you signed")
        else:
            todo.append(i)

    # A retried order id answers the stored order (ids are unique within a batch).
    # Another institution's order id is judged as if it were fresh (a non-party learns
    # nothing of that order), then refused as unavailable if everything else passed.
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

    # Reads, in lock order: quotes → senders' KYC records → (liquidity limit) → accounts.
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
    # an order committed between the read of retried ids above and the quote lock: a retry
    # racing its own first attempt (another batch, another process) answers that order
    raced = [
        i
        for i in fresh
        if holders.get(requests[i].quote_id) == requests[i].order_id
        and requests[i].order_id not in foreign_ids
    ]
    if raced:
        committed = RemittanceOrder.objects.in_bulk([requests[i].order_id for i in raced])
        for i in raced:
            stored = committed[requests[i].order_id]
            results[i] = stored if _same_order(stored, requests[i]) else QuoteUsed(_OTHER_ORDER)
        fresh = [i for i in fresh if i not in raced]
    used_quotes = set(holders)
    # One sender's submits run one at a time from here, so two cannot both pass the limits.
    senders = kyc_selectors.kyc_records_get(
        kyc_refs={requests[i].sender_kyc_ref for i in fresh}, lock=True
    )
    records = {
        **kyc_selectors.kyc_records_get(kyc_refs={requests[i].beneficiary_kyc_ref for i in fresh}),
        **senders,
    }
    usage = _limits_usage(set(senders))
    usd_rates = _usd_rates({q.send_currency for q in quotes.values()})
    # screen every party of the requests that name a live quote and known records; limits
    # are judged on the records as they were before (as a lone submit does: a new hit holds
    # the order for compliance, it does not turn the sender's limits to zero)
    # — only requests whose quote and records the caller may use (never decrypt or hold
    # another institution's customer because a request named it)
    holds_before = {ref: record.screening_hold for ref, record in records.items()}
    screened = kyc.screening_check_records(
        records=[
            records[ref]
            for i in fresh
            if _may_screen(requests[i], quotes.get(requests[i].quote_id), records)
            for ref in (requests[i].sender_kyc_ref, requests[i].beneficiary_kyc_ref)
        ]
    )
    # a sender this screening has just held: its first order is held for compliance, and its
    # later orders in the batch see the hold (zero limits), as they would one after the other
    newly_held = {
        ref for ref, record in records.items() if record.screening_hold and not holds_before[ref]
    }
    for ref, record in records.items():
        record.screening_hold = holds_before[ref]
    verdicts = _statement_verdicts(requests, fresh)

    now = timezone.now()
    claimed: set[str] = set()
    in_flight: dict[tuple[int, str], int] = {}
    liquidity_reads = LiquidityReads()
    accepted: list[_Accepted] = []
    for i in fresh:
        try:
            accepted.append(
                _submit_check(
                    requests[i],
                    quote=quotes.get(requests[i].quote_id),
                    quote_taken=requests[i].quote_id in used_quotes | claimed,
                    records=records,
                    usage=usage,
                    usd_rates=usd_rates,
                    screened=screened,
                    verdict=verdicts.get(i),
                    in_flight=in_flight,
                    liquidity_reads=liquidity_reads,
                    now=now,
                    index=i,
                )
            )
        except DomainError as exc:
            results[i] = exc
            continue
        if requests[i].order_id in foreign_ids:
            accepted.pop()
            results[i] = OrderIdUnavailable("choose a new random order_id (a UUID)")
            continue
        ok = accepted[-1]
        if ok.request.sender_kyc_ref in newly_held:
            records[ok.request.sender_kyc_ref].screening_hold = True
        claimed.add(ok.quote.pk)
        used = usage.get(ok.request.sender_kyc_ref, (0, 0))
        usage[ok.request.sender_kyc_ref] = (
            used[0] + ok.quote.send_minor,
            used[1] + ok.quote.send_minor,
        )
        key = (ok.request.sending_institution.pk, ok.total.currency)
        if "liquidity" not in ok.hold_reasons:
            in_flight[key] = in_flight.get(key, 0) + ok.total.minor

    if accepted:
        orders = _submit_write(accepted)  # raises _Redo / IntegrityError: see orders_submit
        for ok, order in zip(accepted, orders, strict=True):
            results[ok.index] = order
    if not accepted:
        raise _NothingSubmitted(results, keyed)
    # each answer commits with its Idempotency-Key, or neither does; a key another request
    # stored meanwhile raises IntegrityError and the batch runs again (it then replays)
    claims_store([(requests[i].claim, results[i]) for i in keyed])  # type: ignore[misc]
    return results


_OTHER_ORDER = "this order id already names a different order"
_submit_group: GroupCommit[SubmitRequest, SubmitAnswer] = GroupCommit(
    orders_submit, max_batch=64, parallel=settings.ORDER_BATCHES_IN_PARALLEL
)


def _may_screen(r: SubmitRequest, quote: Quote | None, records: dict[str, Any]) -> bool:
    """The request names its own live quote, its own verified sender and a beneficiary: the
    checks before screening that need no running totals."""
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


def _quote_is_theirs(quote: Quote, r: SubmitRequest) -> bool:
    """The institution's own quote; a quote priced for a hosted customer belongs to that
    customer alone (and an institution-level quote to no customer)."""
    customer_id = r.customer.pk if r.customer is not None else None
    return quote.institution_id == r.sending_institution.pk and quote.customer_id == customer_id


def _same_order(order: RemittanceOrder, r: SubmitRequest) -> bool:
    return (
        order.sending_institution_id == r.sending_institution.pk
        and order.quote_id == r.quote_id
        and order.sender_kyc_ref == r.sender_kyc_ref
        and order.beneficiary_kyc_ref == r.beneficiary_kyc_ref
    )


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


def _statement_verdicts(
    requests: list[SubmitRequest], indexes: list[int]
) -> dict[int, DomainError | None]:
    """Signature checks of the partner statements (one key query for the batch)."""
    signed = [i for i in indexes if requests[i].signed is not None]
    checks = statements_check(
        [(requests[i].signed.statement, requests[i].signed.signature) for i in signed]  # type: ignore[union-attr]
    )
    return dict(zip(signed, checks, strict=True))


def _submit_check(
    r: SubmitRequest,
    *,
    quote: Quote | None,
    quote_taken: bool,
    records: dict[str, Any],
    usage: dict[str, tuple[int, int]],
    usd_rates: dict[str, Decimal | None],
    screened: dict[str, Any],
    verdict: DomainError | None,
    in_flight: dict[tuple[int, str], int],
    liquidity_reads: LiquidityReads,
    now: Any,
    index: int,
) -> _Accepted:
    """Every check of one submit, in the order a client sees refusals; raises DomainError."""
    institution = r.sending_institution
    if quote is None or not _quote_is_theirs(quote, r):
        raise NotFound(f"no quote {r.quote_id}")
    if quote_taken:
        raise QuoteUsed("this quote was already used by another order")
    if quote.expires_at <= now:
        raise QuoteExpired(f"quote {r.quote_id} expired at {quote.expires_at.isoformat()}")
    sender = records.get(r.sender_kyc_ref)
    beneficiary = records.get(r.beneficiary_kyc_ref)
    if sender is None or sender.owner_id != institution.pk or sender.role != "sender":
        raise NotFound(f"no sender KYC record {r.sender_kyc_ref}")
    # both parties' records must be the sending institution's own: naming another
    # institution's record would link it to this order and open it to this order's parties
    if (
        beneficiary is None
        or beneficiary.owner_id != institution.pk
        or beneficiary.role != "beneficiary"
    ):
        raise NotFound(f"no beneficiary KYC record {r.beneficiary_kyc_ref}")
    if sender.status != "verified":
        raise KycNotVerified(f"sender KYC status is {sender.status}")
    _limits_check(sender_record=sender, quote=quote, used=usage.get(r.sender_kyc_ref, (0, 0)))
    send = Money.from_minor(quote.send_minor, quote.send_currency)
    missing = kyc.travel_rule_missing(
        originator_ref=r.sender_kyc_ref,
        beneficiary_ref=r.beneficiary_kyc_ref,
        amount=send,
        usd_rate=usd_rates.get(send.currency),
        records=records,
    )
    if missing:
        raise TravelRuleIncomplete(
            "travel-rule fields missing: " + ", ".join(missing), missing=missing
        )
    screening_hold = screened[r.sender_kyc_ref].hold or screened[r.beneficiary_kyc_ref].hold
    total = Money.from_minor(quote.send_minor + quote.fee_minor, send.currency)
    liquidity = liquidity_check(
        sending_institution=institution,
        amount=total,
        in_flight_minor=in_flight.get((institution.pk, total.currency), 0),
        reads=liquidity_reads,
    )
    if not liquidity.allowed and not liquidity.hold:
        raise LiquidityExceeded(
            f"{institution.code} has {liquidity.used} outstanding of a {liquidity.cap} "
            "limit; settle or prefund first"
        )
    hold_reasons = []
    if screening_hold:
        hold_reasons.append("screening")
    if not liquidity.allowed:
        hold_reasons.append("liquidity")  # held before funds move: nothing reserved yet
    facts = {
        "order_id": str(r.order_id),
        "quote_id": quote.id,
        "sender_kyc_ref": r.sender_kyc_ref,
        "beneficiary_kyc_ref": r.beneficiary_kyc_ref,
        "send_amount": send.to_wire(),
        "fee": _money(quote.fee_minor, quote.send_currency),
        "receive_amount": _money(quote.receive_minor, quote.receive_currency),
        "rate": rate_str(quote.rate),
    }
    if r.signed is not None:
        _signed_check(
            r.signed,
            institution=institution,
            kind="order.submitted",
            expected=facts,
            required=("order_id", "quote_id", "sender_kyc_ref", "beneficiary_kyc_ref"),
        )
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


def _submit_write(accepted: list[_Accepted]) -> list[RemittanceOrder]:
    """The batch's writes, reservations last (the source and position accounts are the
    hottest rows in the system: their locks are held only from there to commit). Raises
    _Redo, after the caller's savepoint undoes everything, for requests the ledger or the
    liquidity re-check refused."""
    refs = _submit_statements(accepted)
    wanted: dict[str, tuple[str, str, Institution | None]] = {}
    for ok in accepted:
        inst, cur = ok.request.sending_institution, ok.total.currency
        wanted[f"position:{inst.code}:{cur}"] = (AccountKind.POSITION, cur, inst)
        if ok.request.customer is None:
            wanted[f"prefund:{inst.code}:{cur}"] = (AccountKind.FUNDING, cur, inst)
    accounts = _accounts_by_code(wanted)
    orders, changes, links, events, reservations = [], [], [], [], []
    now = timezone.now()
    for ok, ref in zip(accepted, refs, strict=True):
        r, quote = ok.request, ok.quote
        inst = r.sending_institution
        source_id: int
        if r.customer is not None:
            source_id = r.customer.wallet_id
        else:
            source_id = accounts[f"prefund:{inst.code}:{ok.total.currency}"].pk
        reserve = "liquidity" not in ok.hold_reasons
        order = RemittanceOrder(
            id=r.order_id,
            quote=quote,
            sending_institution=inst,
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
            pending_transfer_id=_tid(r.order_id, "reserve") if reserve else None,
            submitted_statement_ref=ref,
            hold_reason=",".join(ok.hold_reasons),
        )
        target = S.HELD if ok.hold_reasons else S.SUBMITTED
        if target == S.SUBMITTED:
            order.submitted_at = now
        changes.append(
            _transition(
                order,
                target,
                actor=f"institution:{inst.code}",
                reason=order.hold_reason,
                statement_ref=ref,
            )
        )
        orders.append(order)
        order_ref = str(r.order_id)
        links.append((ok.sender, order_ref, [inst, ok.receiving]))
        links.append((ok.beneficiary, order_ref, [inst, ok.receiving]))
        if target == S.SUBMITTED:
            events.append((ok.receiving, "order.submitted", webhook_data(order)))
        if reserve:
            reservations.append(
                _reservation(
                    r.order_id,
                    source_id=source_id,
                    position_id=accounts[f"position:{inst.code}:{ok.total.currency}"].pk,
                    amount=ok.total,
                )
            )
    objs_insert(orders)  # a concurrent same id: IntegrityError
    objs_insert(changes)
    kyc.kyc_links_create(links=links)
    webhook_events_publish(events)
    _submit_reserve(accepted, reservations)
    return orders


def _submit_statements(accepted: list[_Accepted]) -> list[int]:
    """The `order.submitted` statements: the partner's verbatim, else signed by the hub for
    the hosted institution. Refs in the order of `accepted`."""
    partner = [ok for ok in accepted if ok.request.signed is not None]
    hosted = [ok for ok in accepted if ok.request.signed is None]
    queued = statements_queue(
        [
            (ok.request.signed.statement, ok.request.signed.signature, str(ok.request.order_id))  # type: ignore[union-attr]
            for ok in partner
        ]
    )
    issued = statements_issue(
        [
            (
                ok.request.sending_institution,
                "order.submitted",
                {
                    **ok.facts,
                    "corridor": ok.quote.corridor.code,
                    "sending_institution": ok.request.sending_institution.code,
                    "receiving_institution": ok.receiving.code,
                    "payout_method": ok.quote.payout_method,
                    "sender_commitment": ok.sender.commitment,
                    "beneficiary_commitment": ok.beneficiary.commitment,
                },
                str(ok.request.order_id),
            )
            for ok in hosted
        ]
    )
    ref_of = {id(ok): q.pk for ok, q in zip(partner, queued, strict=True)}
    ref_of.update({id(ok): q.pk for ok, q in zip(hosted, issued, strict=True)})
    return [ref_of[id(ok)] for ok in accepted]


def _submit_reserve(accepted: list[_Accepted], reservations: list[TransferSpec]) -> None:
    """One ledger call and one statement for the batch's reservations (each stands alone: a
    refusal refuses only its order), then the liquidity re-check under the position locks
    that call took: what it reads includes every concurrent order that got there first, so
    two orders that each fit alone cannot together break a cap."""
    if not reservations:
        return
    by_transfer = {_tid(ok.request.order_id, "reserve"): ok for ok in accepted}
    refused: dict[int, DomainError] = {}
    # one `ledger.transfers` statement for the batch's reservations (pending transfers, each
    # naming its order as reference); its subject names no order, so reconciliation still
    # needs each credited order's own statement (the credit's legs, one per order)
    for result in transfers_create(transfers=reservations, subject="order.reserve"):
        if result.ok:
            continue
        ok = by_transfer[result.id]
        if result.result == "exceeds_credits":
            refused[ok.index] = InsufficientFunds(f"{ok.total} is more than the available balance")
        else:
            refused[ok.index] = TransferRefused(result)
    if refused:
        raise _Redo(refused)
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
            raise _Redo({last[-1].index: exc}) from None


# --- the receiving institution's answers ----------------------------------------------------


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


def order_accept(
    *, institution: Institution, order_id: uuid.UUID, signed: SignedStatement | None
) -> RemittanceOrder:
    """The receiving institution takes the order on (a batch of one: see `orders_answer`)."""
    return _one_answer(
        AnswerRequest(step="accept", institution=institution, order_id=order_id, signed=signed)
    )


def order_credit(
    *,
    institution: Institution,
    order_id: uuid.UUID,
    payout_reference: str,
    receive_amount: Money,
    signed: SignedStatement | None,
) -> RemittanceOrder:
    """The receiving institution has paid the beneficiary. Posts the reservation (wallet →
    sending institution's position), books the fee, and grows the receiving institution's
    position in the payout currency — all or nothing (a batch of one: see `orders_answer`)."""
    return _one_answer(
        AnswerRequest(
            step="credit",
            institution=institution,
            order_id=order_id,
            signed=signed,
            payout_reference=payout_reference,
            receive_amount=receive_amount,
        )
    )


def _one_answer(request: AnswerRequest) -> RemittanceOrder:
    result = orders_answer([request])[0]
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, RemittanceOrder)  # no claim, so never a Replay
    return result


def order_answer_grouped(request: AnswerRequest) -> RemittanceOrder | Replay:
    """`order_accept` / `order_credit` for request handlers: concurrent answers of this process
    share one `orders_answer` batch (group commit). Same answers, same errors; a request whose
    Idempotency-Key answered before gets that answer back (Replay)."""
    result = _answer_group.submit(request)
    if isinstance(result, DomainError):
        raise result
    return result


def orders_answer(requests: Sequence[AnswerRequest]) -> list[SubmitAnswer]:
    """Accepts and credits of many orders in one transaction: one result per request, in
    order — the order, or the DomainError refusing that request alone. Each request sees the
    effect of the ones before it (a repeated accept in the same batch is a 409, as it would be
    one after the other).

    The orders are locked in one query (pk order); statements, status rows, order updates
    and webhooks are written in one query each; all credits' money moves in one ledger call
    (post the reservation, book the fee, pay out), last. If the ledger refuses a credit's
    leg, the whole transaction rolls back and the batch runs again without that request,
    which gets the ledger's refusal. Idempotency-Keys (`claim`) are read first and stored
    with the answers, as in `orders_submit`."""
    if not requests:
        return []
    refused: dict[int, DomainError] = {}
    collisions = 0
    while True:
        try:
            return _orders_answer(list(requests), refused)
        except _NothingSubmitted as nothing:
            return _refusals_store(requests, nothing)  # type: ignore[return-value]
        except _Redo as redo:  # raised out of the transaction: everything was rolled back
            refused.update(redo.refused)
        except IntegrityError:
            # another request stored one of these Idempotency-Keys after we looked: run
            # again, and its answer is replayed
            collisions += 1
            if collisions > 3:
                raise


@dataclass
class _Answered:
    index: int
    request: AnswerRequest
    order: RemittanceOrder
    kind: str
    facts: dict[str, Any]
    from_status: str
    answer: RemittanceOrder | None = None  # the order as this request left it


@transaction.atomic(durable=True)
def _orders_answer(
    requests: list[AnswerRequest], refused: dict[int, DomainError]
) -> list[SubmitAnswer]:
    results, keyed = _claims_first(requests, refused)
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
        zip(
            signed,
            statements_check(
                [(requests[i].signed.statement, requests[i].signed.signature) for i in signed]  # type: ignore[union-attr]
            ),
            strict=True,
        )
    )
    answered: list[_Answered] = []
    now = timezone.now()  # one clock for the batch: what is stored is what each answer shows
    for i in live:
        r = requests[i]
        order = orders.get(r.order_id)
        try:
            if order is None:
                raise OrderNotFound(f"no order {r.order_id}")
            answered.append(_answer_check(i, r, order, verdicts.get(i), now))
        except DomainError as exc:
            results[i] = exc
    if answered:
        _answers_write(answered)
    for a in answered:
        results[a.index] = a.answer
    final = [r for r in results if r is not None]
    if not answered:
        raise _NothingSubmitted(final, keyed)
    claims_store([(requests[i].claim, results[i]) for i in keyed])  # type: ignore[misc]
    return final


def _answer_check(
    index: int,
    r: AnswerRequest,
    order: RemittanceOrder,
    verdict: DomainError | None,
    now: datetime,
) -> _Answered:
    """Every check of one answer against the order as the requests before it in the batch
    left it. Moves the order's status in memory (a later request sees it); raises
    DomainError, changing nothing, when refused."""
    institution = r.institution
    _refuse_unless_party(order, institution, receiving=True)
    if r.step == "accept":
        if order.status == S.ACCEPTED:
            raise InvalidTransition("order is already accepted; nothing changed")
        if S.ACCEPTED not in TRANSITIONS[order.status]:
            raise InvalidTransition(f"order is {order.status}; it can no longer be accepted")
        kind, facts, to = "order.accepted", {"order_id": str(order.id)}, S.ACCEPTED
    elif r.step == "credit":
        if order.status in (S.CREDITED, S.SETTLED):
            raise InvalidTransition(f"order is already {order.status}; nothing changed")
        if order.status != S.ACCEPTED:
            raise InvalidTransition(f"order is {order.status}; only an accepted order is credited")
        expected = Money.from_minor(order.receive_minor, order.receive_currency)
        if r.receive_amount != expected:
            raise StatementMismatch(f"receive amount must be {expected}")
        if not r.payout_reference or len(r.payout_reference) > 64:
            raise DomainError("payout_reference is required (at most 64 characters)")
        kind, to = "order.credited", S.CREDITED
        facts = {
            "order_id": str(order.id),
            "payout_reference": r.payout_reference,
            "receive_amount": expected.to_wire(),
        }
    else:
        raise ValueError(f"unknown answer step {r.step}")
    if r.signed is not None:
        # every fact of an answer is signed
        _signed_check(
            r.signed, institution=institution, kind=kind, expected=facts, required=tuple(facts)
        )
        if verdict is not None:
            raise verdict
    elif not institution.hosted:
        raise InvalidSignature(f"send the {kind} statement you signed")
    answered = _Answered(
        index=index, request=r, order=order, kind=kind, facts=facts, from_status=order.status
    )
    order.status = to
    if to == S.ACCEPTED:
        order.accepted_at = now
    else:
        order.payout_reference = r.payout_reference
        order.credited_at = now
    order.updated_at = now
    # a later request of the batch may move the same order on: this one answers with the
    # order as it left it
    answered.answer = copy.copy(order)
    return answered


def _answers_write(answered: list[_Answered]) -> None:
    """The batch's writes; the credits' money last (account locks held only to commit)."""
    partner = [a for a in answered if a.request.signed is not None]
    hosted = [a for a in answered if a.request.signed is None]
    queued = statements_queue(
        [
            (a.request.signed.statement, a.request.signed.signature, str(a.order.id))  # type: ignore[union-attr]
            for a in partner
        ]
    )
    issued = statements_issue(
        [(a.request.institution, a.kind, a.facts, str(a.order.id)) for a in hosted]
    )
    ref_of = {id(a): q.pk for a, q in zip(partner, queued, strict=True)}
    ref_of.update({id(a): q.pk for a, q in zip(hosted, issued, strict=True)})
    OrderStatusChange.objects.bulk_create(
        [
            OrderStatusChange(
                order=a.order,
                from_status=a.from_status,
                to_status=S.ACCEPTED if a.kind == "order.accepted" else S.CREDITED,
                actor=f"institution:{a.request.institution.code}",
                statement_ref=ref_of[id(a)],
            )
            for a in answered
        ]
    )
    # the orders as the batch leaves them (a batch may accept and credit the same one): one
    # UPDATE for those now accepted, one for those now credited (Django's bulk_update builds
    # a CASE per field and order, which cost more than the rest of the batch)
    final = {a.order.pk: a.order for a in answered}
    now = answered[0].order.updated_at
    accepted = [pk for pk, o in final.items() if o.status == S.ACCEPTED]
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
    webhook_events_publish(
        [
            (
                a.order.sending_institution,
                a.kind,
                {**webhook_data(a.order), "status": _status_after(a)},
            )
            for a in answered
        ]
    )
    credits = [a for a in answered if a.kind == "order.credited"]
    if credits:
        # settlement: the batch's credited orders join their windows in one call (its
        # aggregate rows are upserted in key order: concurrent batches cannot deadlock)
        _on_credited([a.order for a in credits])
    if credits:
        _credits_move(credits)


def _status_after(a: _Answered) -> str:
    return S.ACCEPTED if a.kind == "order.accepted" else S.CREDITED


def _credits_move(credits: list[_Answered]) -> None:
    """One ledger call for every credit of the batch: post the reservation (wallet → the
    sending institution's position), book the fee, pay out (FX position → the receiving
    institution's position). Any refused leg: _Redo without that credit."""
    wanted: dict[str, tuple[str, str, Institution | None]] = {}
    for a in credits:
        order, sending = a.order, a.order.sending_institution
        send_cur, receive_cur = order.send_currency, order.receive_currency
        wanted[f"position:{sending.code}:{send_cur}"] = (AccountKind.POSITION, send_cur, sending)
        wanted[f"fee_income:{sending.code}:{send_cur}"] = (
            AccountKind.FEE_INCOME,
            send_cur,
            sending,
        )
        wanted[f"fx_position:{receive_cur}"] = (AccountKind.FX_POSITION, receive_cur, None)
        wanted[f"position:{a.request.institution.code}:{receive_cur}"] = (
            AccountKind.POSITION,
            receive_cur,
            a.request.institution,
        )
    accounts = _accounts_by_code(wanted)
    legs: list[TransferSpec] = []
    owner: dict[uuid.UUID, _Answered] = {}
    for a in credits:
        order, sending = a.order, a.order.sending_institution
        ref = str(order.id)
        order_legs = [
            TransferSpec.post(
                id=_tid(order.id, "post"),
                pending_id=order.pending_transfer_id,
                code="order.post",
                reference=ref,
            )
        ]
        if order.fee_minor:
            order_legs.append(
                TransferSpec(
                    id=_tid(order.id, "fee"),
                    debit_account_id=accounts[f"position:{sending.code}:{order.send_currency}"].pk,
                    credit_account_id=accounts[
                        f"fee_income:{sending.code}:{order.send_currency}"
                    ].pk,
                    amount=order.fee_minor,
                    code="order.fee",
                    reference=ref,
                )
            )
        order_legs.append(
            TransferSpec(
                id=_tid(order.id, "payout"),
                debit_account_id=accounts[f"fx_position:{order.receive_currency}"].pk,
                credit_account_id=accounts[
                    f"position:{a.request.institution.code}:{order.receive_currency}"
                ].pk,
                amount=order.receive_minor,
                code="order.payout",
                reference=ref,
            )
        )
        for leg in order_legs:
            owner[leg.id] = a
        legs.extend(order_legs)
    refused: dict[int, DomainError] = {}
    for result in transfers_create(transfers=legs, statement_per_reference=True):
        if not result.ok:
            refused.setdefault(owner[result.id].index, TransferRefused(result))
    if refused:
        raise _Redo(refused)


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
    _refuse_unless_party(order, institution, receiving=True)
    if order.status in (S.REJECTED, S.REFUNDED):
        raise InvalidTransition(f"order is already {order.status}; nothing changed")
    if order.status not in (S.SUBMITTED, S.ACCEPTED):
        raise InvalidTransition(f"order is {order.status}; the receiving bank cannot reject it")
    ref = _answer(
        order,
        institution,
        signed,
        "order.rejected",
        {"order_id": str(order.id), "reason_code": reason_code},
    )
    _move(
        order,
        S.REJECTED,
        actor=f"institution:{institution.code}",
        reason=reason_code,
        statement_ref=ref,
    )
    order.reason_code = reason_code[:48]
    if order.pending_transfer_id:
        _refund(order, reason=reason_code)
    order.save(update_fields=["status", "reason_code", "updated_at"])
    _publish(order, "order.rejected", order.sending_institution)
    _publish(order, "order.refunded", order.sending_institution)
    return order


def _on_credited(orders: list[RemittanceOrder]) -> None:
    """Hook for settlement (windows aggregate credited orders), once per batch."""
    from institutions import events

    events.emit("orders.credited", orders=orders)


def _answer(
    order: RemittanceOrder,
    institution: Institution,
    signed: SignedStatement | None,
    kind: str,
    facts: dict[str, Any],
) -> int:
    if signed is not None:
        return _signed_append(
            signed,
            institution=institution,
            kind=kind,
            expected=facts,
            subject=str(order.id),
            required=tuple(facts),  # every fact of an answer is signed
        )
    if not institution.hosted:
        raise InvalidSignature(f"send the {kind} statement you signed")
    return _issue(institution, kind, facts, str(order.id))


def _refund(order: RemittanceOrder, *, reason: str) -> None:
    results = transfers_create(
        transfers=[
            TransferSpec.void(
                id=_tid(order.id, "void"),
                pending_id=order.pending_transfer_id,
                code="order.refund",
                reference=str(order.id),
            )
        ],
        subject=str(order.id),
    )
    if not results[0].ok and results[0].result != "pending_transfer_already_voided":
        raise TransferRefused(results[0])
    ref = _issue(
        settings.LEDGER_OPERATOR_CODE,
        "order.refunded",
        {
            "order_id": str(order.id),
            "amount": _money(order.send_minor + order.fee_minor, order.send_currency),
            "reason": reason[:48],
        },
        str(order.id),
    )
    _move(order, S.REFUNDED, actor=OPERATOR, reason=reason, statement_ref=ref)


# --- operator / compliance -------------------------------------------------------------------


@transaction.atomic(durable=True)
def order_expire(*, order_id: uuid.UUID) -> RemittanceOrder | None:
    """Expire an order not credited in time: void the reservation and refund. No-op (None)
    if it moved on meanwhile."""
    order = order_lock(order_id=order_id)
    deadline = (order.submitted_at or order.created_at) + timedelta(
        seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS
    )
    if order.status not in (S.SUBMITTED, S.ACCEPTED) or timezone.now() < deadline:
        return None
    ref = _issue(
        settings.LEDGER_OPERATOR_CODE,
        "order.expired",
        {"order_id": str(order.id), "previous_status": order.status},
        str(order.id),
    )
    _move(order, S.EXPIRED, actor=OPERATOR, reason="credit timeout", statement_ref=ref)
    _refund(order, reason="expired")
    order.save(update_fields=["status", "updated_at"])
    for event in ("order.expired", "order.refunded"):
        _publish(order, event, order.sending_institution, order.receiving_institution)
    return order


def orders_expire_due(*, limit: int = 500) -> int:
    """Expire what is due, oldest first; one order's failure is logged and does not stop the
    others (it is retried on the next run)."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS)
    ids = list(
        RemittanceOrder.objects.filter(
            status__in=(S.SUBMITTED, S.ACCEPTED), submitted_at__lt=cutoff
        )
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for order_id in ids:
        try:
            expired += order_expire(order_id=order_id) is not None
        except Exception:
            logger.exception("could not expire order %s", order_id)
    return expired


@transaction.atomic(durable=True)
def order_hold_decide(
    *, order_id: uuid.UUID, release: bool, actor: str, reason: str
) -> RemittanceOrder:
    """Compliance decision on a held order: release it (a liquidity hold, if any, still waits
    for headroom), or reject it and refund whatever was reserved."""
    if not reason.strip():
        raise DomainError("a reason is required")
    order = order_lock(order_id=order_id)
    if order.status != S.HELD:
        raise InvalidTransition(f"order is {order.status}, not held")
    if release:
        _hold_clear(order, "screening", actor=actor, reason=reason)
        if "liquidity" in order.hold_reason:
            _liquidity_release(order, actor=actor)
        order.save(
            update_fields=[
                "status",
                "hold_reason",
                "pending_transfer_id",
                "submitted_at",
                "updated_at",
            ]
        )
    else:
        ref = _issue(
            settings.LEDGER_OPERATOR_CODE,
            "order.rejected",
            {"order_id": str(order.id), "reason_code": "compliance_rejected"},
            str(order.id),
        )
        _move(order, S.REJECTED, actor=actor, reason=reason, statement_ref=ref)
        order.reason_code = "compliance_rejected"
        order.hold_reason = ""
        if order.pending_transfer_id:
            _refund(order, reason="compliance_rejected")
        order.save(update_fields=["status", "reason_code", "hold_reason", "updated_at"])
        _publish(order, "order.rejected", order.sending_institution)
        if order.status == S.REFUNDED:
            _publish(order, "order.refunded", order.sending_institution)
    return order


def _hold_clear(order: RemittanceOrder, why: str, *, actor: str, reason: str) -> None:
    """Drop one hold reason; with none left the order goes on to the receiving bank."""
    remaining = [r for r in order.hold_reason.split(",") if r and r != why]
    order.hold_reason = ",".join(remaining)
    if not remaining:
        ref = _issue(
            settings.LEDGER_OPERATOR_CODE,
            "order.released",
            {"order_id": str(order.id), "reason": why},
            str(order.id),
        )
        _move(order, S.SUBMITTED, actor=actor, reason=reason, statement_ref=ref)
        order.submitted_at = timezone.now()  # the receiving bank's clock starts now
        _publish(order, "order.submitted", order.receiving_institution)


def _reservation(
    order_id: uuid.UUID, *, source_id: int, position_id: int, amount: Money
) -> TransferSpec:
    """The one shape of an order's reservation: pending, source → the sending institution's
    position, id derived from the order id (retried, it is found, not repeated). No ledger
    timeout: order_expire owns the deadline (a ledger-side void of a live order would let a
    later credit pay out unfunded money)."""
    return TransferSpec(
        id=_tid(order_id, "reserve"),
        debit_account_id=source_id,
        credit_account_id=position_id,
        amount=amount.minor,
        kind="pending",
        code="order.reserve",
        reference=str(order_id),
    )


def _reserve(
    *, order_id: uuid.UUID, source: Account, sending_institution: Institution, amount: Money
) -> None:
    """Reserve for a held order released for liquidity (a submit batch reserves in
    `_submit_reserve`)."""
    try:
        transfers_create_or_raise(
            transfers=[
                _reservation(
                    order_id,
                    source_id=source.pk,
                    position_id=position_account(sending_institution, amount.currency).pk,
                    amount=amount,
                )
            ],
            subject=str(order_id),
        )
    except TransferRefused as exc:
        if exc.code == "exceeds_credits":
            raise InsufficientFunds(f"{amount} is more than the available balance") from None
        raise


def _liquidity_release(order: RemittanceOrder, *, actor: str) -> bool:
    """Reserve and clear the liquidity hold if the sending institution has headroom now."""
    total = Money.from_minor(order.send_minor + order.fee_minor, order.send_currency)
    decision = liquidity_check(sending_institution=order.sending_institution, amount=total)
    if not decision.allowed:
        return False
    _reserve(
        order_id=order.id,
        source=order.source_account,
        sending_institution=order.sending_institution,
        amount=total,
    )
    liquidity_recheck(sending_institution=order.sending_institution, currency=total.currency)
    order.pending_transfer_id = _tid(order.id, "reserve")
    _hold_clear(order, "liquidity", actor=actor, reason="liquidity headroom restored")
    return True


def orders_release_liquidity_held(*, institution: Institution, currency: str) -> int:
    """After settlement restores headroom: release held orders oldest first, each in its own
    transaction, until one no longer fits."""
    ids = list(
        RemittanceOrder.objects.filter(
            sending_institution=institution,
            send_currency=currency,
            status=S.HELD,
            hold_reason__contains="liquidity",
        )
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    released = 0
    for order_id in ids:
        try:
            if not _liquidity_release_one(order_id=order_id):
                break  # no headroom: later (younger) orders wait their turn
        except (InsufficientFunds, LiquidityExceeded, LiquidityNotConfigured) as exc:
            # this order cannot go now (e.g. the wallet was spent meanwhile); it stays held
            # for compliance to decide, and must not block the orders behind it
            logger.warning("held order %s not released: %s", order_id, exc.code)
            continue
        released += 1
    return released


@transaction.atomic(durable=True)
def _liquidity_release_one(*, order_id: uuid.UUID) -> bool:
    order = order_lock(order_id=order_id)
    if order.status != S.HELD or "liquidity" not in order.hold_reason:
        return True  # moved on meanwhile; keep going
    if not _liquidity_release(order, actor=OPERATOR):
        return False
    order.save(
        update_fields=["status", "hold_reason", "pending_transfer_id", "submitted_at", "updated_at"]
    )
    return True


@transaction.atomic
def orders_mark_settled(*, order_ids: list) -> int:
    """credited → settled for the orders a settlement window settled. Called inside the
    settlement's own transaction (event `settlement.window_settled`); a repeat is harmless."""
    orders = list(
        RemittanceOrder.objects.select_for_update(of=("self",))
        .filter(pk__in=order_ids, status=S.CREDITED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    OrderStatusChange.objects.bulk_create(
        [
            OrderStatusChange(
                order_id=pk,
                from_status=S.CREDITED,
                to_status=S.SETTLED,
                actor=OPERATOR,
                reason="settlement window settled",
            )
            for pk in orders
        ]
    )
    RemittanceOrder.objects.filter(pk__in=orders).update(
        status=S.SETTLED, updated_at=timezone.now()
    )
    return len(orders)


_answer_group: GroupCommit[AnswerRequest, SubmitAnswer] = GroupCommit(
    orders_answer, max_batch=64, parallel=settings.ORDER_BATCHES_IN_PARALLEL
)
