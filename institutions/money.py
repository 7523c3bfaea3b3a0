"""Money: an amount in a currency, never a float.

`Money` holds a `Decimal` quantized to the currency's ISO 4217 minor units; the money ledger
stores integer minor units (`Money.minor`). Arithmetic across currencies raises.
"""

from __future__ import annotations

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
        except InvalidOperation:
            raise MoneyError(f"not an amount: {self.amount!r}") from None
        if not amount.is_finite():
            raise MoneyError("amount must be finite")
        if amount != amount.quantize(exponent):
            raise MoneyError(
                f"{self.currency} has {minor_units(self.currency)} decimal places; got {amount}"
            )
        object.__setattr__(self, "amount", amount.quantize(exponent))

    @classmethod
    def parse(cls, value: Any, currency: str) -> Money:
        """From a decimal string as the API takes it ("1000.00"); exact, never rounded."""
        if isinstance(value, float) or not isinstance(value, str | int | Decimal):
            raise MoneyError("amount must be a decimal string")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise MoneyError(f"not a decimal amount: {value!r}") from None
        return cls(amount, currency)

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


def rate_str(rate: Decimal) -> str:
    """A rate as a plain decimal string without trailing zeros ("62.865", never "6.2865E+1")."""
    text = format(rate.normalize(), "f")
    return text
