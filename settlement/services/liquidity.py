"""Liquidity: how much a sending institution may have outstanding before settlement.

`used` is the institution's position account in the currency, read from the ledger: reserved
(pending, send + fee) plus credited (posted, send; the fee has moved to fee income) less what
settlement has paid in. So `used` never drifts from the money and settlement lowers it.

- net debit cap: headroom = cap − used; settlement restores it.
- prefunded: headroom = prefunded − used; settlement consumes the prefunding by what it paid in
  (headroom unchanged), a top-up (`liquidity_prefund_record`) restores it.

Concurrency: the check reads without a lock while an order keeps `used` below the alert
threshold; above it, it takes the limit row's lock (held to the end of the caller's
transaction), so near the cap submits of one institution are checked one after another and
cannot overshoot together. Far below the cap, concurrent submits cannot reach it unless the
orders in flight together exceed (100 − alert_percent)% of the cap.

Policy: no limit is no credit. An external (not hosted) sending institution with no limit in a
currency cannot send in it (`LiquidityNotConfigured`) while `LIQUIDITY_REQUIRE_LIMIT` is on (the
default); the operator must configure a prefund or net debit cap first. Hosted institutions send
from their customers' wallets, which cannot overdraw, so they need no limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import events
from core.errors import DomainError
from core.money import Money, money_wire
from institutions.models import Institution
from ledger.models import Account
from ledger.services import accounts
from settlement.models import LiquidityAlert, LiquidityLimit, LiquidityMode

THRESHOLD_EVENT = "liquidity.threshold"


class LiquidityExceeded(DomainError):
    """For the orders app to raise when a decision is a refusal."""

    code, status, title = "liquidity_exceeded", 422, "Liquidity limit reached"


class LiquidityNotConfigured(DomainError):
    """An external sending institution has no limit in the currency: refused, never held
    (nothing will restore headroom until the operator configures a limit)."""

    code, status, title = "liquidity_not_configured", 422, "No liquidity limit configured"


@dataclass(frozen=True)
class LiquidityDecision:
    allowed: bool  # go ahead now
    hold: bool  # not allowed: hold the order (else refuse it)
    used: Money  # outstanding before this order, in-flight included (zero with limited=False)
    cap: Money  # cap or prefunded amount (zero with limited=False)
    limited: bool = True  # False: no limit, and none required (hosted, or the policy is off)


def liquidity_used_minor(*, institution: Institution, currency: str) -> int:
    row = (
        Account.objects.filter(code=accounts.position_code(institution.code, currency))
        .values_list("credits_pending", "credits_posted", "debits_pending", "debits_posted")
        .first()
    )
    if row is None:
        return 0
    credits_pending, credits_posted, debits_pending, debits_posted = row
    return max(0, credits_pending + credits_posted - debits_pending - debits_posted)


def liquidity_unconfigured_senders() -> list[Institution]:
    """External sending institutions with no limit in their home currency: while
    `LIQUIDITY_REQUIRE_LIMIT` is on they cannot send in it. For the operator's admin."""
    configured = LiquidityLimit.objects.filter(
        institution=OuterRef("pk"), currency=OuterRef("currency_id")
    )
    return list(
        Institution.objects.filter(is_sending=True, hosted=False)
        .exclude(Exists(configured))
        .order_by("code")
    )


def _threshold_minor(limit: LiquidityLimit) -> int:
    return limit.amount_minor * limit.alert_percent // 100


class LiquidityReads:
    """Reads shared by the checks of one batch of orders in one transaction: each
    (institution, currency)'s limit and outstanding amount are read once (and re-read once
    under the limit's lock near the threshold); the batch passes what it approved since as
    `in_flight_minor`, so the answers are those of separate checks."""

    def __init__(self) -> None:
        self._limits: dict[tuple[int, str], LiquidityLimit | None] = {}
        self._used: dict[tuple[int, str], int] = {}
        self._locked: set[tuple[int, str]] = set()

    def limit(self, institution: Institution, currency: str) -> LiquidityLimit | None:
        key = (institution.pk, currency)
        if key not in self._limits:
            self._limits[key] = LiquidityLimit.objects.filter(
                institution=institution, currency=currency
            ).first()
        return self._limits[key]

    def used(self, institution: Institution, currency: str) -> int:
        key = (institution.pk, currency)
        if key not in self._used:
            self._used[key] = liquidity_used_minor(institution=institution, currency=currency)
        return self._used[key]

    def lock(self, limit: LiquidityLimit, institution: Institution) -> LiquidityLimit:
        """The limit row, locked, and what others committed meanwhile (once per key)."""
        key = (institution.pk, limit.currency)
        if key not in self._locked:
            self._limits[key] = LiquidityLimit.objects.select_for_update(of=("self",)).get(
                pk=limit.pk
            )
            self._used[key] = liquidity_used_minor(institution=institution, currency=limit.currency)
            self._locked.add(key)
        return self._limits[key]  # type: ignore[return-value]


def liquidity_check(
    *,
    sending_institution: Institution,
    amount: Money,
    in_flight_minor: int = 0,
    reads: LiquidityReads | None = None,
) -> LiquidityDecision:
    """May `sending_institution` take on `amount` more (send + fee of a new order)? Call inside
    the submit transaction before funds move. Publishes the `liquidity.threshold` webhook (once
    per crossing) and records alerts, atomically with the caller.

    `in_flight_minor` (minor units of `amount.currency`, ≥ 0): what earlier orders of the same
    institution, approved in the caller's transaction, will add but have not reserved yet; it
    counts as used. Raises `LiquidityNotConfigured` for an external institution with no limit
    in the currency while `LIQUIDITY_REQUIRE_LIMIT` is on. `reads`: share the reads between
    the checks of one batch (LiquidityReads)."""
    if in_flight_minor < 0:
        raise ValueError("in_flight_minor is not negative")
    currency = amount.currency
    reads = reads or LiquidityReads()
    limit = reads.limit(sending_institution, currency)
    if limit is None:
        if settings.LIQUIDITY_REQUIRE_LIMIT and not sending_institution.hosted:
            raise LiquidityNotConfigured(
                f"{sending_institution.code} has no liquidity limit in {currency}; the operator "
                "must set a prefund or net debit cap before it can send",
                institution=sending_institution.code,
                currency=currency,
            )
        # unlimited (hosted, or the policy is off): nothing to measure against, used not read
        return LiquidityDecision(True, False, Money.zero(currency), Money.zero(currency), False)
    used = reads.used(sending_institution, currency) + in_flight_minor
    if used + amount.minor >= _threshold_minor(limit):
        # near the cap: one at a time, and read what others committed meanwhile
        limit = reads.lock(limit, sending_institution)
        used = reads.used(sending_institution, currency) + in_flight_minor
    after = used + amount.minor
    breach = after > limit.amount_minor
    if after >= _threshold_minor(limit):
        _threshold_alert(limit, sending_institution, used=after if not breach else used)
    if breach:
        LiquidityAlert.objects.create(
            institution=sending_institution,
            currency=currency,
            kind=LiquidityAlert.Kind.BREACH,
            used_minor=used,
            cap_minor=limit.amount_minor,
        )
    return LiquidityDecision(
        allowed=not breach,
        hold=breach and limit.on_breach == "hold",
        used=Money.from_minor(used, currency),
        cap=Money.from_minor(limit.amount_minor, currency),
    )


def _threshold_alert(limit: LiquidityLimit, institution: Institution, *, used: int) -> None:
    """Once per crossing: a conditional UPDATE decides who alerts."""
    crossed = LiquidityLimit.objects.filter(pk=limit.pk, alerted_at__isnull=True).update(
        alerted_at=timezone.now()
    )
    if not crossed:
        return
    LiquidityAlert.objects.create(
        institution=institution,
        currency=limit.currency,
        kind=LiquidityAlert.Kind.THRESHOLD,
        used_minor=used,
        cap_minor=limit.amount_minor,
    )
    from webhooks.services import webhook_event_publish

    webhook_event_publish(
        institution=institution,
        event_type=THRESHOLD_EVENT,
        data={
            "institution": institution.code,
            "mode": limit.mode,
            "used": money_wire(used, limit.currency),
            "limit": money_wire(limit.amount_minor, limit.currency),
            "percent_used": min(999, used * 100 // max(1, limit.amount_minor)),
            "alert_percent": limit.alert_percent,
        },
    )


def liquidity_after_settlement(*, limits: list[LiquidityLimit], paid_in: dict[int, int]) -> None:
    """Inside the settle transaction, limits already locked: consume prefunding by what each
    institution paid in, clear alerts that no longer hold, record the restorations, and tell
    the orders app after commit (`liquidity.restored`) so it re-checks held orders."""
    for limit in limits:
        institution = Institution.objects.get(pk=limit.institution_id)
        if limit.mode == LiquidityMode.PREFUNDED:
            limit.amount_minor = max(0, limit.amount_minor - paid_in.get(limit.institution_id, 0))
        used = liquidity_used_minor(institution=institution, currency=limit.currency)
        if limit.alerted_at is not None and used < _threshold_minor(limit):
            limit.alerted_at = None
        limit.save(update_fields=["amount_minor", "alerted_at", "updated_at"])
        if used < limit.amount_minor:
            _restored(limit, institution, used)


def _restored(limit: LiquidityLimit, institution: Institution, used: int) -> None:
    LiquidityAlert.objects.create(
        institution=institution,
        currency=limit.currency,
        kind=LiquidityAlert.Kind.RESTORED,
        used_minor=used,
        cap_minor=limit.amount_minor,
    )
    currency = limit.currency
    transaction.on_commit(
        lambda: events.emit("liquidity.restored", institution=institution, currency=currency),
        robust=True,
    )


@transaction.atomic
def liquidity_limit_set(
    *,
    institution: Institution,
    amount: Money,
    mode: str = LiquidityMode.NET_DEBIT_CAP,
    on_breach: str = "hold",
    alert_percent: int = 80,
) -> LiquidityLimit:
    """Configure (or change) an institution's limit in `amount.currency`."""
    if amount.minor < 0:
        raise DomainError("a limit is not negative")
    limit, _ = LiquidityLimit.objects.select_for_update().update_or_create(
        institution=institution,
        currency=amount.currency,
        defaults={
            "amount_minor": amount.minor,
            "mode": mode,
            "on_breach": on_breach,
            "alert_percent": alert_percent,
        },
    )
    used = liquidity_used_minor(institution=institution, currency=amount.currency)
    if used < limit.amount_minor:
        _restored(limit, institution, used)
    return limit


@transaction.atomic
def liquidity_prefund_record(
    *, institution: Institution, amount: Money, actor: str
) -> LiquidityLimit:
    """The institution deposited `amount` more with the settlement bank (prefunded mode)."""
    if amount.minor <= 0:
        raise DomainError("a top-up is positive")
    limit = LiquidityLimit.objects.select_for_update(of=("self",)).get(
        institution=institution, currency=amount.currency
    )
    if limit.mode != LiquidityMode.PREFUNDED:
        raise DomainError(f"{institution.code} has a net debit cap, not a prefunded limit")
    limit.amount_minor += amount.minor
    used = liquidity_used_minor(institution=institution, currency=amount.currency)
    if limit.alerted_at is not None and used < _threshold_minor(limit):
        limit.alerted_at = None
    limit.save(update_fields=["amount_minor", "alerted_at", "updated_at"])
    _restored(limit, institution, used)
    return limit


def liquidity_recheck(*, sending_institution: Institution, currency: str) -> None:
    """Call after the order's reservation, in the same transaction. The reservation holds the
    position row's lock until commit, so what this reads includes every concurrent order that
    got there first: two orders that each fit alone cannot together break the cap (the
    threshold lock in `liquidity_check` covers only orders near it)."""
    limit = LiquidityLimit.objects.filter(
        institution=sending_institution, currency=currency
    ).first()
    if limit is None:
        return
    used = liquidity_used_minor(institution=sending_institution, currency=currency)
    if used > limit.amount_minor:
        raise LiquidityExceeded(
            f"concurrent orders reached the {Money.from_minor(limit.amount_minor, currency)} "
            "limit; retry after settlement or prefunding"
        )
