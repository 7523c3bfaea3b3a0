"""How the wallet shows amounts, times and statuses to a customer: in their language (Babel
locale from the active Django language), in their time zone (Malaysia's unless they chose
another), in their words rather than the back office's."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.money import Money

BABEL_LOCALES = {"en": "en_MY", "ms": "ms_MY", "ur": "ur_PK"}
DEFAULT_TIME_ZONE = "Asia/Kuala_Lumpur"
ZONE_NAMES = {"Asia/Kuala_Lumpur": "MYT", "Asia/Karachi": "PKT", "UTC": "UTC"}

# What a customer reads for an order's status (the partners' names stay in the API).
STATUS_WORDS: dict[str, Any] = {
    "held": _("Being checked"),
    "submitted": _("Paid"),
    "accepted": _("At the receiving bank"),
    "credited": _("Delivered"),
    "settled": _("Delivered"),
    "rejected": _("Not accepted"),
    "expired": _("Not accepted in time"),
    "refunded": _("Refunded"),
    "failed": _("Failed"),
}
# The history's status filter: what a customer asks for, and the order statuses it covers.
STATUS_GROUPS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "in_progress": (_("In progress"), ("held", "submitted", "accepted")),
    "delivered": (_("Delivered"), ("credited", "settled")),
    "refunded": (_("Refunded"), ("rejected", "expired", "refunded")),
    "failed": (_("Failed"), ("failed",)),
}
PAYOUT_WORDS: dict[str, Any] = {
    "mobile_wallet": _("Mobile wallet"),
    "bank_account": _("Bank account"),
}


def babel_locale(language: str | None = None) -> str:
    code = (language or translation.get_language() or "en").split("-")[0]
    return BABEL_LOCALES.get(code, "en_MY")


def money_text(minor: int, currency: str, *, language: str | None = None) -> str:
    return Money.from_minor(minor, currency).format(babel_locale(language))


def rate_text(rate: Decimal, *, language: str | None = None) -> str:
    return format_decimal(rate.normalize(), format="#,##0.####", locale=babel_locale(language))


def user_time_zone(user: Any) -> tzinfo:
    """The customer's chosen time zone (their wallet profile), else the wallet's default."""
    profile = getattr(user, "wallet_profile", None)
    name = getattr(profile, "time_zone", "") or getattr(
        settings, "WALLET_DEFAULT_TIME_ZONE", DEFAULT_TIME_ZONE
    )
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


def user_language(user: Any) -> str:
    profile = getattr(user, "wallet_profile", None)
    return getattr(profile, "language", "") or settings.LANGUAGE_CODE.split("-")[0]


def time_text(when: datetime | None, tz: tzinfo, *, language: str | None = None) -> str:
    """A moment as the customer reads it: their zone, their locale, with the zone's name."""
    if when is None:
        return "—"
    local = timezone.localtime(when, tz)
    zone = ZONE_NAMES.get(str(getattr(tz, "key", "")), local.tzname() or "")
    return f"{format_datetime(local, format='medium', tzinfo=tz, locale=babel_locale(language))} {zone}"


def status_text(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))
