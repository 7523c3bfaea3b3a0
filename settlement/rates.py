"""FX rate services and the pluggable provider.

`FX_RATE_PROVIDER` (settings) names a class with `fetch() -> list[RateObservation]`; the beat
task `settlement.tasks.fx_rates_refresh` stores what it returns. Rates older than
`FX_RATE_MAX_AGE_SECONDS` are stale: no quote is given on them."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import DomainError
from institutions.models import Currency
from settlement.models import FxRate


class RateUnavailable(DomainError):
    code, status, title = "rate_unavailable", 422, "No fresh FX rate"


class InvalidRate(DomainError):
    code, status, title = "invalid_rate", 400, "Invalid FX rate"


@dataclass(frozen=True)
class RateObservation:
    base: str
    quote: str
    rate: Decimal
    source: str
    as_of: datetime


def fx_rate_record(
    *, base: str, quote: str, rate: Decimal | str, source: str, as_of: datetime | None = None
) -> FxRate:
    try:
        value = Decimal(rate)
    except (InvalidOperation, TypeError):
        raise InvalidRate(f"rate {rate!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidRate("rate must be a positive decimal")
    return FxRate.objects.create(
        base=Currency.objects.get(code=base),
        quote=Currency.objects.get(code=quote),
        rate=value,
        source=source[:64],
        as_of=as_of or timezone.now(),
    )


def fx_rate_current(*, base: str, quote: str) -> FxRate:
    """The latest rate for the pair, refusing a stale one (RateUnavailable)."""
    latest = FxRate.objects.filter(base_id=base, quote_id=quote).order_by("-as_of").first()
    if latest is None:
        raise RateUnavailable(f"no {base}/{quote} rate is known")
    max_age = timedelta(seconds=settings.FX_RATE_MAX_AGE_SECONDS)
    if timezone.now() - latest.as_of > max_age:
        raise RateUnavailable(f"the latest {base}/{quote} rate is older than {max_age}")
    return latest


@transaction.atomic
def fx_rates_import_csv(*, path: Path, source: str | None = None) -> int:
    """CSV with header `base,quote,rate[,as_of]` (as_of ISO 8601 UTC). All rows or none."""
    count = 0
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                as_of = datetime.fromisoformat(row["as_of"]) if row.get("as_of") else None
                fx_rate_record(
                    base=row["base"].strip().upper(),
                    quote=row["quote"].strip().upper(),
                    rate=row["rate"].strip(),
                    source=source or f"csv:{path.name}",
                    as_of=as_of,
                )
            except (KeyError, ValueError, Currency.DoesNotExist) as exc:
                raise InvalidRate(f"line {line}: {exc}") from None
            count += 1
    return count


class StaticRateProvider:
    """Demo provider: fixed mid rates from settings `FX_STATIC_RATES` ({"MYR/PKR": "63.50"})."""

    name = "static"

    def fetch(self) -> list[RateObservation]:
        now = timezone.now()
        return [
            RateObservation(base, quote, Decimal(rate), self.name, now)
            for pair, rate in settings.FX_STATIC_RATES.items()
            for base, quote in [pair.split("/", 1)]
        ]


def fx_rates_refresh() -> int:
    provider = import_string(settings.FX_RATE_PROVIDER)()
    observations = provider.fetch()
    for obs in observations:
        fx_rate_record(
            base=obs.base, quote=obs.quote, rate=obs.rate, source=obs.source, as_of=obs.as_of
        )
    return len(observations)
