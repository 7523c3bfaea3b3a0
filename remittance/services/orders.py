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
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from config.errors import DomainError, InvalidSignature, NotFound
from institutions.models import Institution
from institutions.money import Money, rate_str
from kyc import selectors as kyc_selectors
from kyc import services as kyc
from ledger.models import Account, AccountKind
from ledger.services.log import statement_append, statement_issue
from ledger.services.money import (
    TransferRefused,
    TransferSpec,
    account_get_or_create,
    transfers_create,
    transfers_create_or_raise,
)
from remittance.errors import (
    InsufficientFunds,
    InvalidTransition,
    KycNotVerified,
    LimitExceeded,
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
    """The one function that changes an order's state."""
    if to not in TRANSITIONS[order.status]:
        raise InvalidTransition(f"order is {order.status}; it cannot become {to}")
    OrderStatusChange.objects.create(
        order=order,
        from_status=order.status,
        to_status=to,
        actor=actor,
        reason=reason[:200],
        statement_ref=statement_ref,
    )
    order.status = to


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
    statement = signed.statement
    if statement.get("kind") != kind:
        raise StatementMismatch(f"statement kind must be {kind}")
    if statement.get("signer") != institution.code:
        raise StatementMismatch("statement must be signed by the calling institution")
    body = statement.get("body") if isinstance(statement.get("body"), dict) else {}
    for name, value in expected.items():
        # required facts must be signed; optional ones (the quote's amounts on a submit) are
        # checked when the partner chose to sign them
        if (name in body or name in required) and body.get(name) != value:
            raise StatementMismatch(f"signed body field {name} does not match the request")
    return statement_append(statement=statement, signature=signed.signature, subject=subject).pk


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


def _reserve(
    *, order_id: uuid.UUID, source: Account, sending_institution: Institution, amount: Money
) -> None:
    """The pending transfer that holds send amount + fee until the order is credited (post)
    or refused (void). Its id derives from the order id: retried, it is found, not repeated."""
    try:
        transfers_create_or_raise(
            transfers=[
                TransferSpec(
                    id=_tid(order_id, "reserve"),
                    debit_account_id=source.pk,
                    credit_account_id=position_account(sending_institution, amount.currency).pk,
                    amount=amount.minor,
                    kind="pending",
                    # no ledger timeout: order_expire owns the deadline (a ledger-side void
                    # of a live order would let a later credit pay out unfunded money)
                    code="order.reserve",
                    reference=str(order_id),
                )
            ],
            subject=str(order_id),
        )
    except TransferRefused as exc:
        if exc.code == "exceeds_credits":
            raise InsufficientFunds(f"{amount} is more than the available balance") from None
        raise


def _limits_check(*, sender_record: Any, quote: Quote) -> None:
    limits = kyc.tier_limits(record=sender_record, corridor_code=quote.corridor.code)
    total = Money.from_minor(quote.send_minor, quote.send_currency)
    if total.currency != limits.per_transaction.currency:
        raise DomainError("limits are configured in another currency")
    if limits.per_transaction < total:
        raise LimitExceeded(f"per-transaction limit is {limits.per_transaction}")
    now = timezone.now()
    used = RemittanceOrder.objects.filter(
        sender_kyc_ref=sender_record.kyc_ref,
        status__in=ACTIVE,
        created_at__gte=now - timedelta(days=30),
    ).aggregate(
        daily=Sum("send_minor", filter=Q(created_at__gte=now - timedelta(days=1))),
        monthly=Sum("send_minor"),
    )
    for label, limit in (("daily", limits.daily), ("monthly", limits.monthly)):
        if limit < Money.from_minor(used[label] or 0, total.currency) + total:
            raise LimitExceeded(f"{label} limit is {limit}")


def _usd_rate(currency: str) -> Decimal | None:
    if currency == "USD":
        return Decimal(1)
    latest = FxRate.objects.filter(base_id=currency, quote_id="USD").order_by("-as_of").first()
    return latest.rate if latest else None


@transaction.atomic(durable=True)
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
    for by the hub. A screening hit holds the order (funds reserved) for compliance."""
    if signed is None and not sending_institution.hosted:
        raise InvalidSignature("send the order.submitted statement you signed")
    existing = RemittanceOrder.objects.filter(pk=order_id).first()
    if existing is not None:
        same = (
            existing.sending_institution_id == sending_institution.pk
            and existing.quote_id == quote_id
            and existing.sender_kyc_ref == sender_kyc_ref
            and existing.beneficiary_kyc_ref == beneficiary_kyc_ref
        )
        if not same:
            raise QuoteUsed("this order id already names a different order")
        return existing
    quote = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("corridor")
        .filter(pk=quote_id, institution=sending_institution)
        .first()
    )
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    if RemittanceOrder.objects.filter(quote=quote).exists():
        raise QuoteUsed("this quote was already used by another order")
    if quote.expires_at <= timezone.now():
        raise QuoteExpired(f"quote {quote_id} expired at {quote.expires_at.isoformat()}")

    sender = kyc_selectors.kyc_record_get(kyc_ref=sender_kyc_ref)
    # One sender's submits run one at a time from here, so two cannot both pass the limits.
    # Lock order: quote → sender KYC record → liquidity limit → accounts.
    type(sender).objects.select_for_update(of=("self",)).filter(pk=sender.pk).exists()
    beneficiary = kyc_selectors.kyc_record_get(kyc_ref=beneficiary_kyc_ref)
    if sender.owner_id != sending_institution.pk or sender.role != "sender":
        raise NotFound(f"no sender KYC record {sender_kyc_ref}")
    if beneficiary.role != "beneficiary":
        raise NotFound(f"no beneficiary KYC record {beneficiary_kyc_ref}")
    if sender.status != "verified":
        raise KycNotVerified(f"sender KYC status is {sender.status}")
    _limits_check(sender_record=sender, quote=quote)
    send = Money.from_minor(quote.send_minor, quote.send_currency)
    missing = kyc.travel_rule_missing(
        originator_ref=sender_kyc_ref,
        beneficiary_ref=beneficiary_kyc_ref,
        amount=send,
        usd_rate=_usd_rate(send.currency),
    )
    if missing:
        raise TravelRuleIncomplete(
            "travel-rule fields missing: " + ", ".join(missing), missing=missing
        )
    screening = kyc.screening_check_parties(kyc_refs=[sender_kyc_ref, beneficiary_kyc_ref])
    receiving = quote.corridor.pricing.receiving_institution

    if customer is not None:
        source = customer.wallet
    else:
        source = prefund_account(sending_institution, quote.send_currency)
    total = Money.from_minor(quote.send_minor + quote.fee_minor, send.currency)
    liquidity = liquidity_check(sending_institution=sending_institution, amount=total)
    if not liquidity.allowed and not liquidity.hold:
        raise LiquidityExceeded(
            f"{sending_institution.code} has {liquidity.used} outstanding of a {liquidity.cap} "
            "limit; settle or prefund first"
        )
    hold_reasons = []
    if screening.hold:
        hold_reasons.append("screening")
    if not liquidity.allowed:
        hold_reasons.append("liquidity")  # held before funds move: nothing reserved yet

    facts = {
        "order_id": str(order_id),
        "quote_id": quote.id,
        "sender_kyc_ref": sender_kyc_ref,
        "beneficiary_kyc_ref": beneficiary_kyc_ref,
        "send_amount": send.to_wire(),
        "fee": _money(quote.fee_minor, quote.send_currency),
        "receive_amount": _money(quote.receive_minor, quote.receive_currency),
        "rate": rate_str(quote.rate),
    }
    if signed is not None:
        ref = _signed_append(
            signed,
            institution=sending_institution,
            kind="order.submitted",
            expected=facts,
            subject=str(order_id),
            required=("order_id", "quote_id", "sender_kyc_ref", "beneficiary_kyc_ref"),
        )
    else:
        body = {
            **facts,
            "corridor": quote.corridor.code,
            "sending_institution": sending_institution.code,
            "receiving_institution": receiving.code,
            "payout_method": quote.payout_method,
            "sender_commitment": sender.commitment,
            "beneficiary_commitment": beneficiary.commitment,
        }
        ref = _issue(sending_institution, "order.submitted", body, str(order_id))

    order = RemittanceOrder(
        id=order_id,
        quote=quote,
        sending_institution=sending_institution,
        receiving_institution=receiving,
        customer=customer,
        recipient=recipient,
        sender_kyc_ref=sender_kyc_ref,
        beneficiary_kyc_ref=beneficiary_kyc_ref,
        payout_method=quote.payout_method,
        send_currency=quote.send_currency,
        send_minor=quote.send_minor,
        fee_minor=quote.fee_minor,
        receive_currency=quote.receive_currency,
        receive_minor=quote.receive_minor,
        rate=quote.rate,
        status="",
        source_account=source,
        pending_transfer_id=None if "liquidity" in hold_reasons else _tid(order_id, "reserve"),
        submitted_statement_ref=ref,
        hold_reason=",".join(hold_reasons),
    )
    target = S.HELD if hold_reasons else S.SUBMITTED
    if target == S.SUBMITTED:
        order.submitted_at = timezone.now()
    # the status-change row may go first: the order's pk is chosen, FKs are checked at commit
    _move(
        order,
        target,
        actor=f"institution:{sending_institution.code}",
        reason=order.hold_reason,
        statement_ref=ref,
    )
    try:
        with transaction.atomic():
            order.save(force_insert=True)
    except IntegrityError:
        raise QuoteUsed("an order with this id is being created by another request") from None
    for kyc_ref in (sender_kyc_ref, beneficiary_kyc_ref):
        kyc.kyc_link_parties(
            kyc_ref=kyc_ref, order_ref=str(order_id), institutions=[sending_institution, receiving]
        )
    if target == S.SUBMITTED:
        _publish(order, "order.submitted", receiving)
    if "liquidity" not in hold_reasons:
        # Last: the source and position accounts are the hottest rows in the system (every
        # order of an institution touches them); their locks are held only from here to
        # commit. Refused funds roll back everything above with it.
        _reserve(
            order_id=order_id, source=source, sending_institution=sending_institution, amount=total
        )
        liquidity_recheck(sending_institution=sending_institution, currency=total.currency)
    return order


# --- the receiving institution's answers ----------------------------------------------------


@transaction.atomic(durable=True)
def order_accept(
    *, institution: Institution, order_id: uuid.UUID, signed: SignedStatement | None
) -> RemittanceOrder:
    order = order_lock(order_id=order_id)
    _refuse_unless_party(order, institution, receiving=True)
    if order.status == S.ACCEPTED:
        raise InvalidTransition("order is already accepted; nothing changed")
    if S.ACCEPTED not in TRANSITIONS[order.status]:
        raise InvalidTransition(f"order is {order.status}; it can no longer be accepted")
    ref = _answer(order, institution, signed, "order.accepted", {"order_id": str(order.id)})
    _move(order, S.ACCEPTED, actor=f"institution:{institution.code}", statement_ref=ref)
    order.accepted_at = timezone.now()
    order.save(update_fields=["status", "accepted_at", "updated_at"])
    _publish(order, "order.accepted", order.sending_institution)
    return order


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


@transaction.atomic(durable=True)
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
    position in the payout currency — all linked: all or nothing."""
    order = order_lock(order_id=order_id)
    _refuse_unless_party(order, institution, receiving=True)
    if order.status in (S.CREDITED, S.SETTLED):
        raise InvalidTransition(f"order is already {order.status}; nothing changed")
    if order.status != S.ACCEPTED:
        raise InvalidTransition(f"order is {order.status}; only an accepted order is credited")
    expected = Money.from_minor(order.receive_minor, order.receive_currency)
    if receive_amount != expected:
        raise StatementMismatch(f"receive amount must be {expected}")
    if not payout_reference or len(payout_reference) > 64:
        raise DomainError("payout_reference is required (at most 64 characters)")
    ref = _answer(
        order,
        institution,
        signed,
        "order.credited",
        {
            "order_id": str(order.id),
            "payout_reference": payout_reference,
            "receive_amount": expected.to_wire(),
        },
    )
    sending = order.sending_institution
    legs = [
        TransferSpec.post(
            id=_tid(order.id, "post"),
            pending_id=order.pending_transfer_id,
            code="order.post",
            reference=str(order.id),
        )
    ]
    if order.fee_minor:
        legs.append(
            TransferSpec(
                id=_tid(order.id, "fee"),
                debit_account_id=position_account(sending, order.send_currency).pk,
                credit_account_id=_account(
                    f"fee_income:{sending.code}:{order.send_currency}",
                    AccountKind.FEE_INCOME,
                    order.send_currency,
                    sending,
                ).pk,
                amount=order.fee_minor,
                code="order.fee",
                reference=str(order.id),
            )
        )
    legs.append(
        TransferSpec(
            id=_tid(order.id, "payout"),
            debit_account_id=_account(
                f"fx_position:{order.receive_currency}",
                AccountKind.FX_POSITION,
                order.receive_currency,
            ).pk,
            credit_account_id=position_account(institution, order.receive_currency).pk,
            amount=order.receive_minor,
            code="order.payout",
            reference=str(order.id),
        )
    )
    _move(order, S.CREDITED, actor=f"institution:{institution.code}", statement_ref=ref)
    order.payout_reference = payout_reference
    order.credited_at = timezone.now()
    order.save(update_fields=["status", "payout_reference", "credited_at", "updated_at"])
    _publish(order, "order.credited", sending)
    _on_credited(order)
    # Last, for the same reason as in order_submit: account locks held only until commit.
    transfers_create_or_raise(transfers=legs, subject=str(order.id))
    return order


def _on_credited(order: RemittanceOrder) -> None:
    """Hook for settlement (windows aggregate credited orders)."""
    from institutions import events

    events.emit("order.credited", order=order)


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
        except (InsufficientFunds, LiquidityExceeded) as exc:
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
