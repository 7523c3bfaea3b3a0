"""Reads of the wallet web app: what a customer's pages show. Decrypting a recipient's record
for its name writes a KYC access-log row (kyc_record_read); the labels are then kept in the
customer's own session, so a page that refreshes every second does not decrypt every second."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from core.money import Money
from kyc import services as kyc
from kyc.models import KycRecord, KycStatusChange
from remittance.models import CorridorPricing, Customer, Recipient, RemittanceOrder
from remittance.services.orders import ACTIVE
from remittance.services.quotes import price
from settlement.rates import fx_rate_current

CORRIDOR = "MY-PK"
LABELS = "wallet_recipient_labels"
# A wallet recorded by its bank's code shows as the wallet brand customers know.
BRANDS = {"TMB-PK": "Easypaisa"}


def customer_of(user: Any) -> Customer | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Customer.objects.select_related("wallet", "institution").filter(user_id=user.pk).first()


def recipients_of(customer: Customer) -> QuerySet[Recipient]:
    return customer.recipients.filter(removed_at__isnull=True).order_by("created_at")


@dataclass(frozen=True)
class RecipientLabel:
    name: str
    provider: str  # Easypaisa, JazzCash, or "" for a bank account
    relationship: str


def recipient_labels(
    *, customer: Customer, session: SessionBase, kyc_refs: list[str]
) -> dict[str, RecipientLabel]:
    """Name, wallet provider and relationship of each record (by kyc_ref) the customer's
    recipients point at, decrypted once per session."""
    cached: dict[str, list[str]] = dict(session.get(LABELS, {}))
    missing = [ref for ref in kyc_refs if ref not in cached]
    if missing:
        records = KycRecord.objects.select_related("owner").filter(
            kyc_ref__in=missing, owner_id=customer.institution_id, role="beneficiary"
        )
        for record in records:
            if record.is_erased:
                cached[record.kyc_ref] = ["", "", ""]
                continue
            data = kyc.kyc_record_read(
                record=record, actor=f"customer:{customer.pk}", purpose="customer_display"
            )["data"]
            name = " ".join(
                part for part in (data["name"].get("given"), data["name"].get("family")) if part
            )
            provider = str(data.get("account", {}).get("institution", ""))
            provider = BRANDS.get(provider, provider)
            cached[record.kyc_ref] = [name, provider, str(data.get("relationship", ""))]
        session[LABELS] = cached
    return {ref: RecipientLabel(*cached[ref]) for ref in kyc_refs if ref in cached}


def labels_forget(session: SessionBase) -> None:
    session.pop(LABELS, None)


@dataclass(frozen=True)
class KycState:
    status: str  # "none", or the record's status
    reason: str  # what compliance asked for, when it needs more information
    tier: int


def kyc_state(customer: Customer) -> KycState:
    if not customer.kyc_ref:
        return KycState("none", "", 0)
    record = KycRecord.objects.filter(kyc_ref=customer.kyc_ref).first()
    if record is None:
        return KycState("none", "", 0)
    reason = ""
    if record.status in (KycRecord.Status.NEEDS_INFO, KycRecord.Status.REJECTED):
        last = KycStatusChange.objects.filter(record=record).order_by("-at", "-pk").first()
        reason = last.reason if last else ""
    return KycState(record.status, reason, record.tier)


@dataclass(frozen=True)
class Allowance:
    """What a customer may send now: balance and what is left of each tier limit."""

    balance: Money
    per_transaction: Money
    daily_left: Money
    monthly_left: Money
    verified: bool

    @property
    def most(self) -> Money:
        return min(self.per_transaction, self.daily_left, self.monthly_left)


def allowance(customer: Customer) -> Allowance:
    zero = Money.zero("MYR")
    balance = Money.from_minor(customer.wallet.available if customer.wallet else 0, "MYR")
    record = (
        KycRecord.objects.filter(kyc_ref=customer.kyc_ref).first() if customer.kyc_ref else None
    )
    if record is None:
        return Allowance(balance, zero, zero, zero, False)
    limits = kyc.tier_limits(record=record, corridor_code=CORRIDOR)
    now = timezone.now()
    used = RemittanceOrder.objects.filter(
        sender_kyc_ref=customer.kyc_ref,
        status__in=ACTIVE,
        created_at__gte=now - timedelta(days=30),
    ).aggregate(
        daily=Sum("send_minor", filter=Q(created_at__gte=now - timedelta(days=1))),
        monthly=Sum("send_minor"),
    )
    daily = limits.daily - Money.from_minor(used["daily"] or 0, "MYR")
    monthly = limits.monthly - Money.from_minor(used["monthly"] or 0, "MYR")
    return Allowance(
        balance=balance,
        per_transaction=limits.per_transaction,
        daily_left=max(daily, zero),
        monthly_left=max(monthly, zero),
        verified=record.status == KycRecord.Status.VERIFIED,
    )


@dataclass(frozen=True)
class Estimate:
    """A price as the calculator shows it (not a firm quote: nothing is stored)."""

    send: Money
    fee: Money
    total: Money
    receive: Money
    rate: Decimal
    mid_rate: Decimal
    margin_percent: Decimal
    fee_percent: Decimal
    fee_fixed: Money
    fee_rate_percent: Decimal
    delivery_estimate: str
    min_send: Money
    max_send: Money


def estimate(*, amount: Decimal, currency: str) -> Estimate | None:
    """The same pricing the quote service applies (remittance.services.quotes.price), on the
    current rate; None when the corridor is not priced. Amount range is the caller's to say."""
    pricing = (
        CorridorPricing.objects.select_related("corridor").filter(corridor__code=CORRIDOR).first()
    )
    if pricing is None:
        return None
    corridor = pricing.corridor
    fx = fx_rate_current(base=corridor.source_currency_id, quote=corridor.destination_currency_id)
    money = Money(amount, currency)
    send, fee, receive, rate = price(
        pricing=pricing,
        mid=fx.rate,
        send=money if currency == corridor.source_currency_id else None,
        receive=money if currency != corridor.source_currency_id else None,
    )
    return Estimate(
        send=send,
        fee=fee,
        total=send + fee,
        receive=receive,
        rate=rate,
        mid_rate=fx.rate,
        margin_percent=Decimal(pricing.margin_bps) / 100,
        fee_percent=(fee.amount * 100 / send.amount).quantize(Decimal("0.1"))
        if send.amount
        else Decimal(0),
        fee_fixed=Money.from_minor(pricing.fee_fixed_minor, corridor.source_currency_id),
        fee_rate_percent=Decimal(pricing.fee_bps) / 100,
        delivery_estimate=pricing.delivery_estimate,
        min_send=Money.from_minor(pricing.min_send_minor, corridor.source_currency_id),
        max_send=Money.from_minor(pricing.max_send_minor, corridor.source_currency_id),
    )


def send_range() -> tuple[Money, Money] | None:
    """The corridor's smallest and largest send amount per transfer."""
    pricing = (
        CorridorPricing.objects.select_related("corridor").filter(corridor__code=CORRIDOR).first()
    )
    if pricing is None:
        return None
    currency = pricing.corridor.source_currency_id
    return (
        Money.from_minor(pricing.min_send_minor, currency),
        Money.from_minor(pricing.max_send_minor, currency),
    )


def transfers_of(customer: Customer) -> QuerySet[RemittanceOrder]:
    return customer.orders.select_related("recipient", "receiving_institution").order_by(
        "-created_at"
    )
