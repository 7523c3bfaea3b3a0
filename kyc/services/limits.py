"""The travel rule (which fields an order needs) and tier limits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings

from core.errors import NotFound
from core.money import Money
from institutions.models import Corridor
from kyc.models import (
    KycRecord,
)
from kyc.services.vault import DEFAULT_TRAVEL_RULE_THRESHOLD_USD, Status

logger = logging.getLogger(__name__)

# --- travel rule and limits -----------------------------------------------------------------


def travel_rule_missing(
    *,
    originator_ref: str,
    beneficiary_ref: str,
    amount: Money,
    usd_rate: Decimal | None,
    records: Mapping[str, KycRecord] | None = None,
) -> list[str]:
    """FATF Recommendation 16 (docs/compliance.md): what is missing for this transfer; empty
    means the order may proceed. `usd_rate` is USD per one unit of `amount.currency`; without
    it a non-USD amount is treated as at/above the threshold (we never guess down).

    Always: originator name, address and date of birth (June 2025 revision: every sender);
    beneficiary name and account. At/above `KYC_TRAVEL_RULE_THRESHOLD_USD`: also the
    originator's account or customer reference, and address or ID number or date and place
    of birth. Reads only which fields are present (no decryption); `records` (by ref) saves
    the read when the caller has them."""
    threshold = Decimal(
        str(getattr(settings, "KYC_TRAVEL_RULE_THRESHOLD_USD", DEFAULT_TRAVEL_RULE_THRESHOLD_USD))
    )
    if amount.currency == "USD":
        usd: Decimal | None = amount.amount
    else:
        usd = None if usd_rate is None else amount.amount * Decimal(usd_rate)
    above = usd is None or usd >= threshold
    if records is None:  # else the caller read them already (an order batch)
        records = {
            r.kyc_ref: r
            for r in KycRecord.objects.filter(kyc_ref__in=[originator_ref, beneficiary_ref])
        }
    missing: list[str] = []

    def present(side: str, ref: str, role: str) -> set[str] | None:
        record = records.get(ref)
        if record is None or record.is_erased:
            missing.append(f"{side}.record")
            return None
        if record.role != role:
            missing.append(f"{side}.role")
        return set(record.present_fields)

    originator = present("originator", originator_ref, KycRecord.Role.SENDER)
    if originator is not None:
        for name in ("name", "address", "date_of_birth"):
            if name not in originator:
                missing.append(f"originator.{name}")
        if above:
            if not originator & {"account", "reference"}:
                missing.append("originator.account_or_reference")
            if not (
                originator & {"address", "id_document"}
                or {"date_of_birth", "place_of_birth"} <= originator
            ):
                missing.append("originator.address_or_id_or_birth")
    beneficiary = present("beneficiary", beneficiary_ref, KycRecord.Role.BENEFICIARY)
    if beneficiary is not None:
        for name in ("name", "account"):
            if name not in beneficiary:
                missing.append(f"beneficiary.{name}")
    return missing


@dataclass(frozen=True)
class Limits:
    per_transaction: Money
    daily: Money
    monthly: Money


def tier_limits(*, record: KycRecord, corridor_code: str) -> Limits:
    """Sending limits for a record on a corridor, in the corridor's source currency, from
    `KYC_TIER_LIMITS`. A record that is not `verified` (or is held, or erased) may send
    nothing: all three limits are zero."""
    config = cast(dict[str, Any], settings.KYC_TIER_LIMITS).get(corridor_code)
    if config is None:
        corridor = Corridor.objects.filter(code=corridor_code).first()
        raise NotFound(
            f"no KYC limits configured for corridor {corridor_code}"
            if corridor
            else f"no corridor {corridor_code}"
        )
    currency = config["currency"]
    tier = config["tiers"].get(str(record.tier))
    usable = record.status == Status.VERIFIED and not record.screening_hold and not record.is_erased
    if tier is None or not usable:
        zero = Money.zero(currency)
        return Limits(zero, zero, zero)
    return Limits(
        per_transaction=Money.parse(tier["per_transaction"], currency),
        daily=Money.parse(tier["daily"], currency),
        monthly=Money.parse(tier["monthly"], currency),
    )
