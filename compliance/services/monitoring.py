"""Real-time transaction monitoring (docs/compliance.md, "Monitoring").

Rules are data (`Rule`): a kind, parameters, a score and a typology. For a batch of orders the
judge reads each party's history once (a few GROUP BY queries for the whole batch, only
those the enabled rules need), then walks the batch in order, judging each order on the
history plus the batch's orders before it — exactly what it would have seen alone, after
them (tests/compliance/test_monitoring.py checks that property). Scores add up per
typology: at `review_score` an alert is raised and the order proceeds; at
`interdict_score` the order is held before the receiving bank is told.

The same rule code judges the back-test (`rule_backtest`), from history kept in memory.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from compliance.models import Alert, Rule, RuleKind, Typology
from core.db import objs_insert
from core.money import Money, MoneyError
from kyc.crypto import new_ref
from kyc.models import ScreeningHit
from remittance.models import RemittanceOrder
from remittance.monitoring import Candidate

WINDOWS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "30d": timedelta(days=30),
}
PARTIES = ("sender", "beneficiary")

# --- parameters -----------------------------------------------------------------------------

_PARAMS: dict[str, dict[str, str]] = {
    # name → type: window | party | money | int | decimal | percent
    RuleKind.VELOCITY_COUNT: {"party": "party", "window": "window", "max_count": "int"},
    RuleKind.VELOCITY_AMOUNT: {
        "party": "party",
        "window": "window",
        "max_amount": "money",
        "currency": "currency",
    },
    RuleKind.STRUCTURING: {
        "threshold": "money",
        "currency": "currency",
        "band_percent": "int",
        "window": "window",
        "min_count": "int",
    },
    RuleKind.ROUND_AMOUNT: {"unit": "money", "min_amount": "money", "currency": "currency"},
    RuleKind.NEW_RECIPIENT_LARGE: {"min_amount": "money", "currency": "currency"},
    RuleKind.FAN_IN: {"window": "window", "min_senders": "int"},
    RuleKind.FAN_OUT: {"window": "window", "min_beneficiaries": "int"},
    RuleKind.HISTORY_OUTLIER: {"factor": "decimal", "min_history": "int"},
    RuleKind.NEAR_MISS: {},
}


def rule_params_clean(kind: str, params: Any) -> dict[str, Any]:
    """The parameters a rule of `kind` needs, checked; ValidationError names what is wrong
    and what to write instead."""
    if kind not in _PARAMS:
        raise ValidationError(f"unknown rule kind {kind!r}")
    if not isinstance(params, dict):
        raise ValidationError('parameters are a JSON object, e.g. {"window": "day"}')
    spec = _PARAMS[kind]
    missing = sorted(set(spec) - set(params))
    extra = sorted(set(params) - set(spec))
    if missing or extra:
        raise ValidationError(
            f"this kind takes exactly: {', '.join(sorted(spec)) or 'no parameters'}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    currency = str(params.get("currency", "MYR"))
    for name, typ in spec.items():
        value = params[name]
        if typ == "window" and value not in WINDOWS:
            raise ValidationError(f"{name}: one of {', '.join(WINDOWS)}")
        if typ == "party" and value not in PARTIES:
            raise ValidationError(f"{name}: sender or beneficiary")
        if typ == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValidationError(f"{name}: a whole number of at least 1")
        if typ == "decimal":
            try:
                ok = Decimal(str(value)) > 0
            except InvalidOperation:
                ok = False
            if not ok:
                raise ValidationError(f'{name}: a positive decimal as a string, e.g. "5"')
        if typ == "currency" and not (isinstance(value, str) and len(value) == 3):
            raise ValidationError(f"{name}: an ISO 4217 code such as MYR")
        if typ == "money":
            try:
                if Money.parse(str(value), currency).minor <= 0:
                    raise MoneyError("not positive")
            except (MoneyError, ValueError):
                raise ValidationError(
                    f'{name}: a positive amount in major units as a string, e.g. "3000.00"'
                ) from None
    if kind == RuleKind.STRUCTURING and params["band_percent"] >= 100:
        raise ValidationError("band_percent: below 100")
    return params


_minor_cache: dict[tuple[int | None, int, str, str, str], int] = {}


def _minor(rule: Rule, name: str) -> int:
    """A rule's amount parameter in minor units (parsed once per rule version)."""
    value, currency = str(rule.params[name]), str(rule.params["currency"])
    key = (rule.pk, rule.version, name, value, currency)
    minor = _minor_cache.get(key)
    if minor is None:
        if len(_minor_cache) > 10_000:
            _minor_cache.clear()
        minor = _minor_cache[key] = Money.parse(value, currency).minor
    return minor


# --- what a rule sees -----------------------------------------------------------------------


@dataclass
class PartyHistory:
    """One party's orders (in one currency) the rules count, before the order judged."""

    count: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    amount: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    counterparties: dict[str, set[str]] = field(default_factory=lambda: {w: set() for w in WINDOWS})
    in_band: dict[str, int] = field(default_factory=dict)  # structuring rule code → count
    received_before: bool = False

    def add(self, *, amount_minor: int, counterparty: str, rules: Sequence[Rule]) -> None:
        """An order just now (every window counts it)."""
        for w in WINDOWS:
            self.count[w] += 1
            self.amount[w] += amount_minor
            self.counterparties[w].add(counterparty)
        for rule in rules:
            if rule.kind == RuleKind.STRUCTURING and _in_band(rule, amount_minor):
                self.in_band[rule.code] = self.in_band.get(rule.code, 0) + 1
        self.received_before = True


@dataclass(frozen=True)
class Finding:
    rule: str
    version: int
    typology: str
    score: int
    why: str


def _in_band(rule: Rule, amount_minor: int) -> bool:
    threshold = _minor(rule, "threshold")
    low = threshold * (100 - int(rule.params["band_percent"])) // 100
    return low <= amount_minor < threshold


def rule_fires(
    rule: Rule,
    *,
    amount_minor: int,
    currency: str,
    sender: PartyHistory,
    beneficiary: PartyHistory,
    sender_ref: str,
    beneficiary_ref: str,
    near_miss: set[str],
) -> str | None:
    """Why `rule` fires on an order of `amount_minor` given both parties' histories before
    it, or None. Counts and sums include the order itself."""
    p = rule.params
    if "currency" in p and p["currency"] != currency:
        return None
    kind = rule.kind
    if kind in (RuleKind.VELOCITY_COUNT, RuleKind.VELOCITY_AMOUNT):
        party = sender if p["party"] == "sender" else beneficiary
        window = p["window"]
        if kind == RuleKind.VELOCITY_COUNT:
            n = party.count[window] + 1
            return f"{n} transfers per {p['party']} in a {window}" if n > p["max_count"] else None
        total = party.amount[window] + amount_minor
        if total > _minor(rule, "max_amount"):
            return (
                f"{Money.from_minor(total, currency)} per {p['party']} in a {window} "
                f"(over {Money.from_minor(_minor(rule, 'max_amount'), currency)})"
            )
        return None
    if kind == RuleKind.STRUCTURING:
        if not _in_band(rule, amount_minor):
            return None
        n = sender.in_band.get(rule.code, 0) + 1
        if n >= p["min_count"]:
            return (
                f"{n} transfers within {p['band_percent']}% under "
                f"{Money.from_minor(_minor(rule, 'threshold'), currency)} in a {p['window']}"
            )
        return None
    if kind == RuleKind.ROUND_AMOUNT:
        unit = _minor(rule, "unit")
        if amount_minor >= _minor(rule, "min_amount") and amount_minor % unit == 0:
            return f"round amount {Money.from_minor(amount_minor, currency)}"
        return None
    if kind == RuleKind.NEW_RECIPIENT_LARGE:
        if not beneficiary.received_before and amount_minor >= _minor(rule, "min_amount"):
            return f"first transfer to this recipient is {Money.from_minor(amount_minor, currency)}"
        return None
    if kind == RuleKind.FAN_IN:
        senders = beneficiary.counterparties[p["window"]] | {sender_ref}
        if len(senders) >= p["min_senders"]:
            return f"{len(senders)} senders to one beneficiary in a {p['window']}"
        return None
    if kind == RuleKind.FAN_OUT:
        recipients = sender.counterparties[p["window"]] | {beneficiary_ref}
        if len(recipients) >= p["min_beneficiaries"]:
            return f"{len(recipients)} beneficiaries of one sender in a {p['window']}"
        return None
    if kind == RuleKind.HISTORY_OUTLIER:
        n = sender.count["30d"]
        if n < p["min_history"]:
            return None
        # amount > factor × average  ⇔  amount × n > factor × sum (exact, no division)
        if Decimal(amount_minor) * n > Decimal(str(p["factor"])) * sender.amount["30d"]:
            return f"{p['factor']}× above the sender's 30-day average of {n} transfers"
        return None
    if kind == RuleKind.NEAR_MISS:
        if sender_ref in near_miss or beneficiary_ref in near_miss:
            return "a party's name is close to a listed name (a hit cleared as false positive)"
        return None
    return None


@dataclass(frozen=True)
class Verdict:
    action: str  # "" | review | interdict
    typology: str
    score: int
    findings: tuple[Finding, ...]


def verdict(findings: Iterable[Finding], typologies: dict[str, Typology]) -> Verdict:
    """Scores add up per typology; the verdict is the most severe typology's."""
    by_typology: dict[str, int] = defaultdict(int)
    found = tuple(findings)
    for f in found:
        by_typology[f.typology] += f.score
    best = Verdict("", "", 0, found)
    for code, score in sorted(by_typology.items()):
        t = typologies[code]
        action = (
            Alert.Action.INTERDICT
            if score >= t.interdict_score
            else Alert.Action.REVIEW
            if score >= t.review_score
            else ""
        )
        rank = {"": 0, Alert.Action.REVIEW: 1, Alert.Action.INTERDICT: 2}
        if (rank[action], score) > (rank[best.action], best.score):
            best = Verdict(action, code, score, found)
    return best


# --- the batch, inside the submit transaction ------------------------------------------------


def rules_enabled() -> list[Rule]:
    return list(Rule.objects.filter(enabled=True).select_related("typology").order_by("pk"))


def _histories(
    senders: set[str], beneficiaries: set[str], rules: list[Rule], now: datetime
) -> tuple[dict[tuple[str, str], PartyHistory], dict[tuple[str, str], PartyHistory]]:
    """Every party's history in one GROUP BY over (sender, beneficiary, currency): counts and
    sums per window, structuring bands, when each pair last met (fan-in, fan-out). Senders'
    rows reach back 30 days; a beneficiary's to its first order ("never paid before")."""
    aggregates: dict[str, Any] = {"last": Max("created_at")}
    for w, span in WINDOWS.items():
        recent = Q(created_at__gte=now - span)
        aggregates[f"c_{w}"] = Count("pk", filter=recent)
        aggregates[f"s_{w}"] = Sum("send_minor", filter=recent)
    bands = [r for r in rules if r.kind == RuleKind.STRUCTURING]
    for n, rule in enumerate(bands):
        threshold = _minor(rule, "threshold")
        low = threshold * (100 - int(rule.params["band_percent"])) // 100
        aggregates[f"b_{n}"] = Count(
            "pk",
            filter=Q(
                created_at__gte=now - WINDOWS[rule.params["window"]],
                send_minor__gte=low,
                send_minor__lt=threshold,
                send_currency=rule.params["currency"],
            ),
        )
    rows = (
        RemittanceOrder.objects.filter(
            Q(sender_kyc_ref__in=senders, created_at__gte=now - WINDOWS["30d"])
            | Q(beneficiary_kyc_ref__in=beneficiaries)
        )
        .values("sender_kyc_ref", "beneficiary_kyc_ref", "send_currency")
        .annotate(**aggregates)
        .order_by()
    )
    out_s: dict[tuple[str, str], PartyHistory] = {}
    out_b: dict[tuple[str, str], PartyHistory] = {}
    for row in cast(Iterable[dict[str, Any]], rows):
        s_ref, b_ref, cur = row["sender_kyc_ref"], row["beneficiary_kyc_ref"], row["send_currency"]
        sides: list[tuple[PartyHistory, str, bool]] = []
        if s_ref in senders:
            sides.append((out_s.setdefault((s_ref, cur), PartyHistory()), b_ref, True))
        if b_ref in beneficiaries:
            h = out_b.setdefault((b_ref, cur), PartyHistory())
            h.received_before = True
            sides.append((h, s_ref, False))
        for h, other, is_sender in sides:
            for w, span in WINDOWS.items():
                h.count[w] += row[f"c_{w}"] or 0
                h.amount[w] += row[f"s_{w}"] or 0
                if row["last"] >= now - span:
                    h.counterparties[w].add(other)
            if is_sender:
                for n, rule in enumerate(bands):
                    h.in_band[rule.code] = h.in_band.get(rule.code, 0) + (row[f"b_{n}"] or 0)
    return out_s, out_b


def _near_miss(refs: set[str]) -> set[str]:
    return set(
        ScreeningHit.objects.filter(
            record__kyc_ref__in=refs, status=ScreeningHit.Decision.CLEARED
        ).values_list("record__kyc_ref", flat=True)
    )


def batch_judge(candidates: Sequence[Candidate]) -> set[int]:
    """The judge compliance registers with remittance (remittance/monitoring.py): the
    indexes of the batch's orders to hold, with an alert written for every order at or over
    a review threshold. Reads nothing when no rule is enabled."""
    rules = rules_enabled()
    alerts = _screening_alerts([c for c in candidates if "screening" in c.holds])
    if not rules:
        if alerts:
            objs_insert(alerts)
        return set()
    verdicts = judge(candidates, rules)
    alerts += [
        Alert(
            ref=new_ref("alr"),
            source=Alert.Source.MONITORING,
            action=v.action,
            order_id=c.order_id,
            kyc_ref=c.sender_kyc_ref,
            typology=v.typology,
            score=v.score,
            amount_minor=c.amount_minor,
            currency=c.currency,
            findings=[f.__dict__ for f in v.findings],
        )
        for c, v in zip(candidates, verdicts, strict=True)
        if v.action
    ]
    if alerts:
        objs_insert(alerts)
    return {
        c.index
        for c, v in zip(candidates, verdicts, strict=True)
        if v.action == Alert.Action.INTERDICT
    }


def _screening_alerts(held: list[Candidate]) -> list[Alert]:
    """An order held by a screening hit at submit goes to the alerts queue too, naming the
    hits (one query, only when there is such an order)."""
    if not held:
        return []
    refs = {r for c in held for r in (c.sender_kyc_ref, c.beneficiary_kyc_ref)}
    hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ref, hit_id, source, reference, score in (
        ScreeningHit.objects.filter(record__kyc_ref__in=refs)
        .exclude(status=ScreeningHit.Decision.CLEARED)
        .values_list("record__kyc_ref", "pk", "entry__source", "entry__reference", "score")
    ):
        hits[ref].append(
            {
                "rule": "sanctions-list",
                "version": 0,
                "typology": "sanctions",
                "score": int(score),
                "why": f"screening hit {hit_id}: {source}:{reference} (score {score})",
            }
        )
    return [
        Alert(
            ref=new_ref("alr"),
            source=Alert.Source.SCREENING,
            action=Alert.Action.INTERDICT,
            order_id=c.order_id,
            kyc_ref=c.beneficiary_kyc_ref if hits.get(c.beneficiary_kyc_ref) else c.sender_kyc_ref,
            typology="sanctions",
            score=max(
                (f["score"] for r in (c.sender_kyc_ref, c.beneficiary_kyc_ref) for f in hits[r]),
                default=0,
            ),
            amount_minor=c.amount_minor,
            currency=c.currency,
            findings=hits[c.sender_kyc_ref] + hits[c.beneficiary_kyc_ref]
            or [{"why": "a party is under a screening hold or rejected"}],
        )
        for c in held
    ]


def judge(candidates: Sequence[Candidate], rules: list[Rule]) -> list[Verdict]:
    """Each candidate's verdict, set-based: the history of all their parties is read once,
    then each is judged after the batch's candidates before it."""
    now = max(c.at for c in candidates)
    kinds = {r.kind for r in rules}
    senders = {c.sender_kyc_ref for c in candidates}
    beneficiaries = {c.beneficiary_kyc_ref for c in candidates}
    hist_s: dict[tuple[str, str], PartyHistory] = {}
    hist_b: dict[tuple[str, str], PartyHistory] = {}
    if kinds - {RuleKind.ROUND_AMOUNT, RuleKind.NEAR_MISS}:  # a rule that reads history
        hist_s, hist_b = _histories(senders, beneficiaries, rules, now)
    for c in candidates:
        hist_s.setdefault((c.sender_kyc_ref, c.currency), PartyHistory())
        hist_b.setdefault((c.beneficiary_kyc_ref, c.currency), PartyHistory())
    near = _near_miss(senders | beneficiaries) if RuleKind.NEAR_MISS in kinds else set()
    typologies = {r.typology.code: r.typology for r in rules}
    verdicts: list[Verdict] = []
    for c in candidates:
        s = hist_s[(c.sender_kyc_ref, c.currency)]
        b = hist_b[(c.beneficiary_kyc_ref, c.currency)]
        verdicts.append(_judge_one(c, rules, s, b, near, typologies))
        s.add(amount_minor=c.amount_minor, counterparty=c.beneficiary_kyc_ref, rules=rules)
        b.add(amount_minor=c.amount_minor, counterparty=c.sender_kyc_ref, rules=rules)
    return verdicts


def _judge_one(
    c: Candidate,
    rules: list[Rule],
    sender: PartyHistory,
    beneficiary: PartyHistory,
    near: set[str],
    typologies: dict[str, Typology],
) -> Verdict:
    findings = []
    for rule in rules:
        why = rule_fires(
            rule,
            amount_minor=c.amount_minor,
            currency=c.currency,
            sender=sender,
            beneficiary=beneficiary,
            sender_ref=c.sender_kyc_ref,
            beneficiary_ref=c.beneficiary_kyc_ref,
            near_miss=near,
        )
        if why:
            findings.append(Finding(rule.code, rule.version, rule.typology.code, rule.score, why))
    return verdict(findings, typologies)


# --- back-test ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    orders: int
    flagged: int
    senders: int
    examples: list[str]


def rule_backtest(*, rule: Rule, days: int = 30) -> Backtest:
    """How many of the last `days` days' orders `rule` (as it stands, enabled or not) would
    have fired on, each judged on the history before it (in memory: one read)."""
    rule_params_clean(rule.kind, rule.params)
    now = timezone.now()
    start = now - timedelta(days=days)
    rows = list(
        RemittanceOrder.objects.filter(created_at__gte=start - WINDOWS["30d"])
        .order_by("created_at", "pk")
        .values_list(
            "id",
            "sender_kyc_ref",
            "beneficiary_kyc_ref",
            "send_minor",
            "send_currency",
            "created_at",
        )
    )
    by_sender: dict[tuple[str, str], list[tuple[datetime, int, str]]] = defaultdict(list)
    by_benef: dict[tuple[str, str], list[tuple[datetime, int, str]]] = defaultdict(list)
    near = _near_miss({r[1] for r in rows} | {r[2] for r in rows})
    flagged, judged = 0, 0
    senders: set[str] = set()
    examples: list[str] = []
    for order_id, s_ref, b_ref, amount, cur, at in rows:
        if at >= start:
            judged += 1
            s = _history_at(by_sender[(s_ref, cur)], at, rule)
            b = _history_at(by_benef[(b_ref, cur)], at, rule)
            why = rule_fires(
                rule,
                amount_minor=amount,
                currency=cur,
                sender=s,
                beneficiary=b,
                sender_ref=s_ref,
                beneficiary_ref=b_ref,
                near_miss=near,
            )
            if why:
                flagged += 1
                senders.add(s_ref)
                if len(examples) < 10:
                    examples.append(f"{order_id}: {why}")
        by_sender[(s_ref, cur)].append((at, amount, b_ref))
        by_benef[(b_ref, cur)].append((at, amount, s_ref))
    return Backtest(orders=judged, flagged=flagged, senders=len(senders), examples=examples)


def _history_at(items: list[tuple[datetime, int, str]], at: datetime, rule: Rule) -> PartyHistory:
    h = PartyHistory(received_before=bool(items))
    times = [t for t, _, _ in items]
    for w, span in WINDOWS.items():
        lo = bisect.bisect_left(times, at - span)
        recent = items[lo:]
        h.count[w] = len(recent)
        h.amount[w] = sum(a for _, a, _ in recent)
        h.counterparties[w] = {c for _, _, c in recent}
    if rule.kind == RuleKind.STRUCTURING:
        lo = bisect.bisect_left(times, at - WINDOWS[rule.params["window"]])
        h.in_band[rule.code] = sum(1 for _, a, _ in items[lo:] if _in_band(rule, a))
    return h
