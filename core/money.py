"""Money: an amount in a currency, never a float.

`Money` holds a `Decimal` quantized to the currency's ISO 4217 minor units; the money ledger
stores integer minor units (`Money.minor`). Arithmetic across currencies raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency

# ISO 4217: code -> (minor units, name). The Currency table is seeded from this (migration 0002).
ISO4217: dict[str, tuple[int, str]] = {
    "MYR": (2, "Malaysian Ringgit"),
    "PKR": (2, "Pakistan Rupee"),
    "USD": (2, "US Dollar"),
    "EUR": (2, "Euro"),
    "GBP": (2, "Pound Sterling"),
    "SGD": (2, "Singapore Dollar"),
    "AED": (2, "UAE Dirham"),
    "SAR": (2, "Saudi Riyal"),
    "JPY": (0, "Yen"),
    "KWD": (3, "Kuwaiti Dinar"),
    "BHD": (3, "Bahraini Dinar"),
}


class MoneyError(ValueError):
    pass


# The largest whole part an amount may have (15 digits: 10^15 minor units of a 3-decimal
# currency still fits a 64-bit integer column).
MAX_WHOLE_DIGITS = 15
# The one grammar of an amount on the wire: ASCII digits, an optional fraction of at most the
# currency's minor units (checked after the currency is known). No sign, exponent, separators,
# spaces or non-ASCII digits.
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,3})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
_AMOUNT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,3}))?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_LIMIT = Decimal(10) ** MAX_WHOLE_DIGITS


def minor_units(currency: str) -> int:
    try:
        return ISO4217[currency][0]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise MoneyError("Money never takes a float")
        exponent = Decimal(1).scaleb(-minor_units(self.currency))
        try:
            amount = Decimal(self.amount)
        except (InvalidOperation, TypeError, ValueError):
            raise MoneyError("not an amount") from None
        if not amount.is_finite():
            raise MoneyError("amount must be finite")
        if abs(amount) >= _LIMIT:
            raise MoneyError(f"amount must be below 10^{MAX_WHOLE_DIGITS}")
        if amount != amount.quantize(exponent):
            raise MoneyError(
                f"{self.currency} has {minor_units(self.currency)} decimal places; got {amount}"
            )
        object.__setattr__(self, "amount", amount.quantize(exponent))

    @classmethod
    def parse(cls, value: Any, currency: Any) -> Money:
        """From a decimal string as the API takes it ("1000.00"): exactly AMOUNT_PATTERN, with
        at most the currency's minor units, and an uppercase ISO 4217 code we know; exact,
        never rounded. The message names the rule, never echoes the input."""
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise MoneyError("currency must be an uppercase ISO 4217 code such as MYR")
        places = minor_units(currency)
        if not isinstance(value, str):
            raise MoneyError('amount must be a decimal string such as "1000.00"')
        match = _AMOUNT.fullmatch(value)
        if match is None:
            raise MoneyError(
                f"amount must be digits with an optional '.' and at most {places} decimal "
                f'places (at most {MAX_WHOLE_DIGITS} digits before it), such as "1000.00"'
            )
        if len(match.group(2) or "") > places:
            raise MoneyError(f"{currency} has {places} decimal places")
        return cls(Decimal(value), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-minor_units(currency)), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    @classmethod
    def quantize(cls, amount: Decimal, currency: str, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Round a computed amount to the minor unit; callers choose the rounding (receive
        amounts round down so rounding never creates money)."""
        exponent = Decimal(1).scaleb(-minor_units(currency))
        return cls(amount.quantize(exponent, rounding=rounding), currency)

    @classmethod
    def round_down(cls, amount: Decimal, currency: str) -> Money:
        return cls.quantize(amount, currency, rounding=ROUND_DOWN)

    @property
    def minor(self) -> int:
        return int(self.amount.scaleb(minor_units(self.currency)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError("cannot combine different currencies")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def to_wire(self) -> dict[str, str]:
        """How amounts travel in statements, webhooks and the API."""
        return {"amount": str(self.amount), "currency": self.currency}

    def format(self, locale: str = "en_US") -> str:
        return format_currency(self.amount, self.currency, locale=locale)


def money_wire(minor: int, currency: str) -> dict[str, str]:
    """An amount held in minor units, as it travels in statements, webhooks and the API:
    `{"amount": "1000.00", "currency": "MYR"}`."""
    return Money.from_minor(minor, currency).to_wire()


def rate_str(rate: Decimal) -> str:
    """A rate as a plain decimal string without trailing zeros ("62.865", never "6.2865E+1")."""
    text = format(rate.normalize(), "f")
    return text
