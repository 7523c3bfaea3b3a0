"""Numbers, money and times in the customer's language and time zone (Babel locale data,
so no system locale is needed)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_datetime, format_time
from babel.numbers import format_currency, format_decimal
from django import template
from django.utils import timezone, translation

from core.money import Money

register = template.Library()
LOCALES = {"en": "en_MY", "ms": "ms_MY", "ur": "ur_PK"}


def babel_locale() -> str:
    return LOCALES.get((translation.get_language() or "en")[:2], "en_MY")


@register.filter
def money(value: Money | None) -> str:
    if value is None:
        return "—"
    return format_currency(value.amount, value.currency, locale=babel_locale())


@register.simple_tag
def minor(amount_minor: int, currency: str) -> str:
    return money(Money.from_minor(amount_minor, currency))


@register.filter
def number(value: Decimal | int | None, places: int = 4) -> str:
    if value is None:
        return "—"
    quantum = Decimal(1).scaleb(-int(places))
    return format_decimal(Decimal(value).quantize(quantum), locale=babel_locale())


@register.filter
def when(value: datetime | None) -> str:
    """Date and time in the customer's zone (activated by WalletUserMiddleware)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_datetime(local, "medium", tzinfo=local.tzinfo, locale=babel_locale())


@register.filter
def clock(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_time(local, "medium", tzinfo=local.tzinfo, locale=babel_locale())


@register.simple_tag
def zone_name() -> str:
    name = timezone.get_current_timezone_name()
    return {"Asia/Kuala_Lumpur": "MYT", "Asia/Karachi": "PKT"}.get(name, name)


@register.filter
def get(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key)
