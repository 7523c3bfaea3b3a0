"""Pricing and quotes.

Rounding rules (docs/api.md): customer rate = mid × (1 − margin), kept to 10 decimal places,
rounded down. Sending a fixed amount: receive = floor(send × rate) to the receive currency's
minor unit. Asking for a fixed receive amount: send = ceil(receive / rate) to the send
currency's minor unit, so receive ≤ send × rate in every quote — rounding never creates money.
Fee = fixed + round-half-up(send × fee_bps / 10 000), in the send currency; total = send + fee.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, NotFound
from core.money import Money, MoneyError, minor_units
from institutions.models import Corridor, Institution
from remittance.errors import AmountOutOfRange, UnsupportedPayoutMethod
from remittance.models import CorridorPricing, Customer, Quote
from settlement.rates import fx_rate_current

RATE_PLACES = Decimal("1e-10")


def _quote_id() -> str:
    return "qt_" + secrets.token_hex(12)


def price(
    *, pricing: CorridorPricing, mid: Decimal, send: Money | None, receive: Money | None
) -> tuple[Money, Money, Money, Decimal]:
    """(send, fee, receive, customer rate) per the rounding rules above."""
    corridor = pricing.corridor
    src, dst = corridor.source_currency_id, corridor.destination_currency_id
    rate = (mid * (Decimal(10000 - pricing.margin_bps) / Decimal(10000))).quantize(
        RATE_PLACES, rounding=ROUND_DOWN
    )
    if (send is None) == (receive is None):
        raise DomainError("give exactly one of send_amount and receive_amount")
    if send is not None:
        if send.currency != src:
            raise DomainError(f"send_amount must be in {src}")
        receive = Money.round_down(send.amount * rate, dst)
    else:
        assert receive is not None
        if receive.currency != dst:
            raise DomainError(f"receive_amount must be in {dst}")
        exponent = Decimal(1).scaleb(-minor_units(src))
        send = Money((receive.amount / rate).quantize(exponent, rounding=ROUND_CEILING), src)
    fee_percent = (send.amount * pricing.fee_bps / Decimal(10000)).quantize(
        Decimal(1).scaleb(-minor_units(src)), rounding=ROUND_HALF_UP
    )
    fee = Money.from_minor(pricing.fee_fixed_minor, src) + Money(fee_percent, src)
    return send, fee, receive, rate


@transaction.atomic
def quote_create(
    *,
    institution: Institution,
    corridor_code: str,
    payout_method: str,
    send_amount: Money | None = None,
    receive_amount: Money | None = None,
    customer: Customer | None = None,
) -> Quote:
    """A firm quote on the current mid rate (refused if the rate is stale). A quote priced for
    a hosted customer (`customer`) can be used only by that customer's order."""
    if customer is not None and customer.institution_id != institution.pk:
        raise ValueError("a hosted customer's quote is priced by the customer's institution")
    corridor = Corridor.objects.filter(code=corridor_code, active=True).first()
    if corridor is None:
        raise NotFound(f"no open corridor {corridor_code}")
    if not institution.is_sending:
        raise DomainError("only a sending institution may ask for quotes")
    pricing = CorridorPricing.objects.select_related("corridor").filter(corridor=corridor).first()
    if pricing is None:
        raise NotFound(f"corridor {corridor_code} has no pricing")
    if payout_method not in pricing.payout_methods:
        raise UnsupportedPayoutMethod(
            f"{corridor_code} pays out by {', '.join(pricing.payout_methods)}"
        )
    fx = fx_rate_current(base=corridor.source_currency_id, quote=corridor.destination_currency_id)
    low = Money.from_minor(pricing.min_send_minor, corridor.source_currency_id)
    high = Money.from_minor(pricing.max_send_minor, corridor.source_currency_id)
    try:
        send, fee, receive, rate = price(
            pricing=pricing, mid=fx.rate, send=send_amount, receive=receive_amount
        )
    except MoneyError:  # an amount so large its conversion is past any money we hold
        raise AmountOutOfRange(f"send amount must be between {low} and {high}") from None
    if send < low or high < send:
        raise AmountOutOfRange(f"send amount must be between {low} and {high}")
    if receive.minor <= 0:
        raise AmountOutOfRange("receive amount rounds to zero")
    return Quote.objects.create(
        id=_quote_id(),
        institution=institution,
        customer=customer,
        corridor=corridor,
        payout_method=payout_method,
        send_currency=send.currency,
        send_minor=send.minor,
        fee_minor=fee.minor,
        receive_currency=receive.currency,
        receive_minor=receive.minor,
        mid_rate=fx.rate,
        rate=rate,
        fx_rate=fx,
        delivery_estimate=pricing.delivery_estimate,
        expires_at=timezone.now() + timedelta(seconds=pricing.quote_ttl_seconds),
    )
