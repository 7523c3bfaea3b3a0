from decimal import Decimal

import pytest

from core.money import Money, MoneyError


def test_money_refuses_float_and_excess_precision():
    with pytest.raises(MoneyError):
        Money(1.5, "MYR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money.parse("1.005", "MYR")
    with pytest.raises(MoneyError):
        Money.parse(1.0, "MYR")


def test_minor_units_round_trip_per_currency():
    assert Money.parse("1000.50", "MYR").minor == 100050
    assert Money.from_minor(123, "PKR") == Money(Decimal("1.23"), "PKR")
    assert Money.from_minor(5, "JPY").amount == Decimal(5)
    assert Money.from_minor(1, "KWD").amount == Decimal("0.001")


def test_round_down_never_creates_money():
    assert Money.round_down(Decimal("58.129999"), "PKR").amount == Decimal("58.12")


def test_currencies_do_not_mix():
    with pytest.raises(MoneyError):
        Money.parse("1", "MYR") + Money.parse("1", "PKR")


def test_locale_formatting():
    assert Money.parse("1234.5", "MYR").format("en_MY") == "RM1,234.50"
    assert "1,234.50" in Money.parse("1234.5", "PKR").format("en_PK")


@pytest.mark.django_db
def test_currency_table_has_iso_minor_units():
    from institutions.models import Currency

    assert {
        c.code: c.minor_units for c in Currency.objects.filter(code__in=["MYR", "PKR", "USD"])
    } == {"MYR": 2, "PKR": 2, "USD": 2}


@pytest.mark.parametrize(
    "amount",
    [
        "1e30",
        "1e2",
        "1e999999999",
        "9" * 29,
        "1" * 16,
        "1_000.00",
        "1,000.00",
        " 100.00",
        "+100.00",
        "-100.00",
        "100.",
        ".50",
        "١٠٠",  # Arabic-Indic digits
        "۱۰۰",  # Extended Arabic-Indic (Urdu) digits
        "１００",  # fullwidth digits
        "NaN",
        "Infinity",
        "",
    ],
)
def test_amounts_have_one_strict_grammar(amount):
    with pytest.raises(MoneyError, match="amount must be digits"):
        Money.parse(amount, "MYR")


@pytest.mark.parametrize("currency", ["myr", "MYRX", "XXX", "", "MY"])
def test_currency_codes_are_uppercase_iso_4217_we_know(currency):
    with pytest.raises(MoneyError):
        Money.parse("100.00", currency)


def test_the_largest_amount_and_the_minor_units_of_each_currency():
    assert Money.parse("9" * 15 + ".99", "MYR").minor == 10**17 - 1
    assert Money.parse("1.005", "KWD").minor == 1005
    with pytest.raises(MoneyError, match="MYR has 2 decimal places"):
        Money.parse("1.005", "MYR")
    with pytest.raises(MoneyError, match="JPY has 0 decimal places"):
        Money.parse("1.5", "JPY")
    with pytest.raises(MoneyError, match="below 10"):
        Money(Decimal("1e30"), "MYR")
