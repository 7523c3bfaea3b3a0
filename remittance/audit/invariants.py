"""The hub's invariants, each a read-only check that returns its breaches (issue 16).

| name | what holds |
|---|---|
| `ledger_sums_to_zero` | per currency, posted and pending balances of all accounts sum to zero |
| `balances_replay` | every account's four balances equal the replay of the signed log (queued statements included: they commit with the balances) |
| `order_money_legs` | a credited (or settled) order has exactly one reservation, one post of it, one fee (when it has a fee) and one payout, with the order's amounts; a refunded order has none of post, fee or payout and its reservation (if any) voided; other orders have no post, fee or payout; no order leg without its order |
| `pending_past_deadline` | no order's reservation is still pending past the order's credit deadline (plus `AUDIT_DEADLINE_GRACE_SECONDS`, the expiry sweep's period), nor once the order reached a final state |
| `order_in_one_window` | each credited or settled order is in exactly one settlement window with the order's amounts; no window holds an order that is not credited or settled; a settled order's window is settled |
| `positions` | each settlement position's posted balance equals its credited orders (send amounts for a sender, receive amounts for a receiver) minus the settlement legs on it |
| `status_history` | every order's status history is a path in the transition map, from nothing to its current status |
| `log_verifies` | the signed log verifies (`ledger.integrity.log_verify`), incrementally from the last audited size |

The caller runs them inside one snapshot (`services.audit_run`), so a check never compares
rows written at different moments. Ids in a breach are capped at `MAX_IDS`; the detail says how
many there were."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Sum

from ledger.integrity import VerifiedHead, log_verify
from ledger.models import Account, AccountKind, Transfer
from ledger.replay import replay_compare
from partner_sdk.verify import VerificationError
from remittance.models import OrderStatus, OrderStatusChange, RemittanceOrder
from remittance.services.orders import TRANSITIONS
from settlement.models import SettlementWindow, WindowOrder, WindowStatus

MAX_IDS = 50
S = OrderStatus
CREDITED = (S.CREDITED, S.SETTLED)
FINAL = (S.REFUNDED, S.REJECTED, S.EXPIRED, S.FAILED, S.SETTLED)


@dataclass(frozen=True)
class Breach:
    invariant: str
    detail: str
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "detail": self.detail, "ids": self.ids}


class _Collector:
    """Ids of one kind of breach, capped, with the full count for the detail."""

    def __init__(self, invariant: str, what: str) -> None:
        self.invariant, self.what = invariant, what
        self.ids: list[str] = []
        self.count = 0

    def add(self, ident: object) -> None:
        self.count += 1
        if len(self.ids) < MAX_IDS:
            self.ids.append(str(ident))

    def breach(self) -> list[Breach]:
        if not self.count:
            return []
        return [Breach(self.invariant, f"{self.count} {self.what}", self.ids)]


# --- money ----------------------------------------------------------------------------------


def ledger_sums_to_zero() -> list[Breach]:
    rows = (
        Account.objects.values("currency_id")
        .annotate(
            posted=Sum(F("credits_posted") - F("debits_posted")),
            pending=Sum(F("credits_pending") - F("debits_pending")),
        )
        .order_by("currency_id")
    )
    return [
        Breach(
            "ledger_sums_to_zero",
            f"{row['currency_id']}: posted balances sum to {row['posted']}, "
            f"pending to {row['pending']} (minor units); both must be 0",
            [row["currency_id"]],
        )
        for row in rows
        if row["posted"] or row["pending"]
    ]


_ACCOUNT_IN_DIFF = re.compile(r"^account (\S+):")


def balances_replay() -> list[Breach]:
    differences = replay_compare(include_queued=True)
    if not differences:
        return []
    ids = [m.group(1) for line in differences if (m := _ACCOUNT_IN_DIFF.match(line))]
    return [Breach("balances_replay", "; ".join(differences)[:2000], ids[:MAX_IDS])]


# --- orders and their money -----------------------------------------------------------------


@dataclass
class _Legs:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    amounts: dict[str, int] = field(default_factory=dict)
    open_reservation: bool = False


def _order_legs() -> dict[str, _Legs]:
    legs: dict[str, _Legs] = defaultdict(_Legs)
    rows = (
        Transfer.objects.filter(code__startswith="order.")
        .values_list("reference", "code", "amount", "kind", "resolution__id")
        .order_by()
        .iterator(chunk_size=5000)
    )
    for reference, code, amount, kind, resolved_by in rows:
        found = legs[reference]
        found.counts[code] += 1
        found.amounts[code] = amount
        if kind == "pending" and resolved_by is None:
            found.open_reservation = True
    return legs


def _orders() -> Iterable[tuple[Any, ...]]:
    return (
        RemittanceOrder.objects.order_by()
        .values_list(
            "id",
            "status",
            "send_minor",
            "fee_minor",
            "receive_minor",
            "send_currency",
            "receive_currency",
            "sending_institution__code",
            "receiving_institution__code",
            "submitted_at",
            "created_at",
        )
        .iterator(chunk_size=5000)
    )


def order_money_legs() -> list[Breach]:
    legs = _order_legs()
    wrong = _Collector("order_money_legs", "order(s) whose ledger legs do not match their status")
    for order_id, status, send, fee, receive, *_ in _orders():
        found = legs.pop(str(order_id), _Legs())
        n = found.counts
        if status in CREDITED:
            expected = {
                "order.reserve": 1,
                "order.post": 1,
                "order.fee": 1 if fee else 0,
                "order.payout": 1,
                "order.refund": 0,
            }
            amounts_ok = (
                found.amounts.get("order.reserve") == send + fee
                and found.amounts.get("order.post") == send + fee
                and found.amounts.get("order.payout") == receive
                and found.amounts.get("order.fee", 0) == fee
            )
            if any(n[code] != want for code, want in expected.items()) or not amounts_ok:
                wrong.add(order_id)
        elif (
            n["order.post"]
            or n["order.fee"]
            or n["order.payout"]
            or n["order.reserve"] > 1
            or n["order.refund"] > n["order.reserve"]
            or (status == S.REFUNDED and n["order.refund"] != n["order.reserve"])
        ):
            wrong.add(order_id)
    orphans = _Collector("order_money_legs", "order leg reference(s) naming no order")
    for reference in legs:
        orphans.add(reference)
    return wrong.breach() + orphans.breach()


def pending_past_deadline(*, now: datetime) -> list[Breach]:
    timeout = timedelta(seconds=settings.ORDER_CREDIT_TIMEOUT_SECONDS)
    grace = timedelta(seconds=settings.AUDIT_DEADLINE_GRACE_SECONDS)
    open_reservations = set(
        Transfer.objects.filter(
            kind="pending", code="order.reserve", resolution__isnull=True
        ).values_list("reference", flat=True)
    )
    late = _Collector(
        "pending_past_deadline", "order(s) with a reservation still pending past its deadline"
    )
    final = _Collector(
        "pending_past_deadline", "order(s) in a final state whose reservation is still pending"
    )
    for order_id, status, *_, submitted_at, created_at in _orders():
        if str(order_id) not in open_reservations:
            continue
        if status in FINAL:
            final.add(order_id)
        elif (
            status in (S.SUBMITTED, S.ACCEPTED)
            and (submitted_at or created_at) + timeout + grace < now
        ):
            late.add(order_id)
    return late.breach() + final.breach()


# --- settlement -----------------------------------------------------------------------------


def order_in_one_window() -> list[Breach]:
    windows = dict(SettlementWindow.objects.values_list("pk", "status"))
    marked = set(
        SettlementWindow.objects.filter(orders_marked_at__isnull=False).values_list("pk", flat=True)
    )
    in_window = {
        order_id: (window_id, send, fee, receive)
        for order_id, window_id, send, fee, receive in WindowOrder.objects.values_list(
            "order_id", "window_id", "send_minor", "fee_minor", "receive_minor"
        ).iterator(chunk_size=5000)
    }
    missing = _Collector("order_in_one_window", "credited order(s) in no settlement window")
    differs = _Collector(
        "order_in_one_window", "order(s) whose window entry has other amounts than the order"
    )
    stray = _Collector(
        "order_in_one_window", "window entr(ies) for an order that is not credited or settled"
    )
    unsettled = _Collector(
        "order_in_one_window",
        "order(s) settled in a window that is not settled, or still credited after their "
        "window was settled and its orders marked",
    )
    for order_id, status, send, fee, receive, *_ in _orders():
        entry = in_window.pop(order_id, None)
        if status not in CREDITED:
            if entry is not None:
                stray.add(order_id)
            continue
        if entry is None:
            missing.add(order_id)
            continue
        window_id, w_send, w_fee, w_receive = entry
        if (w_send, w_fee, w_receive) != (send, fee, receive):
            differs.add(order_id)
        window_status = windows.get(window_id)
        if (status == S.SETTLED and window_status != WindowStatus.SETTLED) or (
            status == S.CREDITED and window_id in marked
        ):
            unsettled.add(order_id)
    for order_id in in_window:  # window entries whose order does not exist at all
        stray.add(order_id)
    return missing.breach() + differs.breach() + stray.breach() + unsettled.breach()


def positions() -> list[Breach]:
    """Posted balance of every `position:*` account against what explains it."""
    expected: dict[str, int] = defaultdict(int)
    for _, status, send, _fee, receive, send_cur, recv_cur, sender, receiver, *_ in _orders():
        if status in CREDITED:
            expected[f"position:{sender}:{send_cur}"] += send
            expected[f"position:{receiver}:{recv_cur}"] += receive
    position_ids = dict(Account.objects.filter(kind=AccountKind.POSITION).values_list("pk", "code"))
    legs = Transfer.objects.filter(code__startswith="settlement.").values_list(
        "debit_account_id", "credit_account_id", "amount"
    )
    for debit_id, credit_id, amount in legs.iterator(chunk_size=5000):
        if debit_id in position_ids:
            expected[position_ids[debit_id]] -= amount
        if credit_id in position_ids:
            expected[position_ids[credit_id]] += amount
    wrong = _Collector(
        "positions", "position account(s) whose balance is not credited orders minus settlements"
    )
    actual = dict(
        Account.objects.filter(kind=AccountKind.POSITION).values_list(
            "code", F("credits_posted") - F("debits_posted")
        )
    )
    for code in sorted(actual.keys() | expected.keys()):
        if actual.get(code, 0) != expected.get(code, 0):
            wrong.add(f"{code} (balance {actual.get(code, 0)}, expected {expected.get(code, 0)})")
    return wrong.breach()


# --- state machine --------------------------------------------------------------------------


def status_history() -> list[Breach]:
    current = dict(RemittanceOrder.objects.values_list("id", "status").iterator(chunk_size=5000))
    bad = _Collector(
        "status_history", "order(s) whose status history is not a path in the transition map"
    )
    rows = (
        OrderStatusChange.objects.order_by("order_id", "pk")
        .values_list("order_id", "from_status", "to_status")
        .iterator(chunk_size=5000)
    )
    order_id, previous, broken = None, "", False

    def finish() -> None:
        if order_id is None:
            return
        status = current.pop(order_id, None)
        if broken or status != previous:
            bad.add(order_id)

    for row_order, from_status, to_status in rows:
        if row_order != order_id:
            finish()
            order_id, previous, broken = row_order, "", False
        if from_status != previous or to_status not in TRANSITIONS.get(from_status, set()):
            broken = True
        previous = to_status
    finish()
    for missing in current:  # orders with no history at all
        bad.add(missing)
    return bad.breach()


# --- the log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogResult:
    breaches: list[Breach]
    head: VerifiedHead | None
    checked_from: int


def log_verifies(*, since: VerifiedHead | None) -> LogResult:
    try:
        report = log_verify(since=since)
    except VerificationError as exc:
        return LogResult(
            [Breach("log_verifies", f"{exc.where}: {exc.reason}", [str(exc.where)])],
            since,
            since.size if since else 0,
        )
    return LogResult([], VerifiedHead(report.entries, report.frontier), report.checked_from)


CHECKS: dict[str, Callable[..., list[Breach]]] = {
    "ledger_sums_to_zero": ledger_sums_to_zero,
    "balances_replay": balances_replay,
    "order_money_legs": order_money_legs,
    "pending_past_deadline": pending_past_deadline,
    "order_in_one_window": order_in_one_window,
    "positions": positions,
    "status_history": status_history,
}
