"""Real-time reconciliation: every credited order's three facts must agree.

1. the sender's debit — the posted reservation (`order.reserve` pending → `order.post`) of
   send + fee, and the fee leg (`order.fee`);
2. the statements on the log — `order.submitted`, `order.accepted`, `order.credited` and the
   `ledger.transfers` of its money, none contradicting the order's amounts;
3. the receiver's credit confirmation — the `order.credited` statement signed by the receiving
   institution, with the order id, payout reference and receive amount + currency; and the
   payout leg (`order.payout`) crediting the receiver's position with that amount.

Triggered per integrated log batch (`ledger.integrated` → `reconcile_entries` task, batched by
seq range), and by a sweep (beat) that catches what a lost task missed, opens `credit_overdue`
for orders accepted but not credited within SETTLEMENT_CREDIT_SLA_SECONDS, and
`credit_without_order` for a credit on the log that no credited order explains.

Breaks are opened idempotently (unique `key`): re-running never duplicates or reopens one.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, NotFound
from core.money import Money, money_wire
from ledger.models import Account, Entry, QueuedStatement, Transfer
from ledger.services import accounts
from settlement.models import (
    Break,
    BreakEvent,
    BreakKind,
    BreakStatus,
    ReconCursor,
    ReconStatus,
    WindowOrder,
)

K = BreakKind
EXPECTED_KINDS = ("order.submitted", "order.accepted", "order.credited", "ledger.transfers")
CLOSING_KINDS = ("order.credited", "order.rejected", "order.expired", "order.refunded")
BATCH = 500


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return None


def _same_amount(value: Any, minor: int, currency: str) -> bool:
    """A wire amount {"amount": "1.00", "currency": "MYR"} equal to minor/currency."""
    try:
        return (
            value["currency"] == currency and Money.parse(value["amount"], currency).minor == minor
        )
    except (KeyError, TypeError, ValueError):
        return False


def _break(
    kind: str,
    subject: str,
    *,
    detail: str,
    expected: Any = None,
    actual: Any = None,
    order_id: uuid.UUID | None = None,
    now: datetime,
) -> Break:
    return Break(
        kind=kind,
        key=f"{kind}:{subject}"[:160],
        order_id=order_id,
        subject=subject[:64],
        detail=detail[:255],
        expected=expected,
        actual=actual,
        opened_at=now,
    )


def breaks_open(breaks: list[Break]) -> int:
    """Insert breaks, skipping any whose key exists (open or resolved); returns how many new."""
    if not breaks:
        return 0
    existing = set(
        Break.objects.filter(key__in=[b.key for b in breaks]).values_list("key", flat=True)
    )
    fresh = list({b.key: b for b in breaks if b.key not in existing}.values())
    Break.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


# --- per order ------------------------------------------------------------------------------


class _Facts:
    """What the ledger and the log say about a batch of orders, read in a few set queries."""

    def __init__(self, order_ids: list[uuid.UUID]) -> None:
        refs = [str(i) for i in order_ids]
        self.transfers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        account_ids: set[int] = set()
        for row in Transfer.objects.filter(reference__in=refs).values(
            "id",
            "reference",
            "kind",
            "code",
            "amount",
            "currency_id",
            "pending_id",
            "credit_account_id",
        ):
            self.transfers[row["reference"]].append(dict(row))
            account_ids.add(row["credit_account_id"])
        self.account_codes = dict(
            Account.objects.filter(pk__in=account_ids).values_list("pk", "code")
        )
        self.entries: dict[str, list[tuple[str, str, bytes]]] = defaultdict(list)
        for subject, kind, signer, leaf in Entry.objects.filter(subject__in=refs).values_list(
            "subject", "kind", "signer", "leaf"
        ):
            self.entries[subject].append((kind, signer, bytes(leaf)))
        self.queued: dict[str, set[str]] = defaultdict(set)
        for subject, kind in QueuedStatement.objects.filter(subject__in=refs).values_list(
            "subject", "kind"
        ):
            self.queued[subject].add(kind)


def _statement(leaf: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(leaf)["statement"]
        return statement if isinstance(statement, dict) else {}
    except (ValueError, KeyError, TypeError):
        return {}


Finding = tuple[str, str, Any, Any]  # (break kind, detail, expected, actual)


def _order_breaks(order: WindowOrder, facts: _Facts, now: datetime) -> list[Break] | None:
    """The breaks of one order, or None when it cannot be judged yet (a statement it needs is
    still queued for the log). The three facts: the sender's debit, the statements on the
    log, the receiver's credit (its payout leg and its signed confirmation)."""
    ref = str(order.order_id)
    entries = facts.entries.get(ref, [])
    kinds = {kind for kind, _, _ in entries}
    missing = [k for k in EXPECTED_KINDS if k not in kinds]
    if any(k in facts.queued.get(ref, ()) for k in missing):
        return None
    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in facts.transfers.get(ref, []):
        by_code[t["code"]].append(t)
    findings = [
        *_debit_findings(order, by_code),
        *_payout_findings(order, by_code, facts),
    ]
    if missing:
        findings.append(
            (
                K.STATEMENT_MISSING,
                f"not on the log: {', '.join(missing)}",
                list(EXPECTED_KINDS),
                sorted(kinds),
            )
        )
    findings += _statement_findings(order, entries)
    return [
        _break(
            kind,
            ref,
            detail=detail,
            expected=expected,
            actual=actual,
            order_id=order.order_id,
            now=now,
        )
        for kind, detail, expected, actual in findings
    ]


def _debit_findings(order: WindowOrder, by_code: dict[str, list[dict[str, Any]]]) -> list[Finding]:
    """1. The sender's debit: the reservation posted for send + fee, the fee booked."""
    reserve = next((t for t in by_code["order.reserve"] if t["kind"] == "pending"), None)
    post = next(
        (
            t
            for t in by_code["order.post"]
            if t["kind"] == "post_pending" and reserve and t["pending_id"] == reserve["id"]
        ),
        None,
    )
    fee = by_code["order.fee"][0] if by_code["order.fee"] else None
    expected = {
        "debit": money_wire(order.send_minor + order.fee_minor, order.send_currency),
        "fee": money_wire(order.fee_minor, order.send_currency),
    }
    actual = {
        "reserved": money_wire(reserve["amount"], reserve["currency_id"]) if reserve else None,
        "debit": money_wire(post["amount"], post["currency_id"]) if post else None,
        "fee": money_wire(fee["amount"], fee["currency_id"]) if fee else None,
    }
    if order.fee_minor == 0 and fee is None:
        actual["fee"] = expected["fee"]
    if actual == {"reserved": expected["debit"], **expected}:
        return []
    return [(K.DEBIT_MISMATCH, "the posted reservation or fee differs", expected, actual)]


def _payout_findings(
    order: WindowOrder, by_code: dict[str, list[dict[str, Any]]], facts: _Facts
) -> list[Finding]:
    """3a. The payout leg: the receive amount into the receiving institution's position."""
    payout = by_code["order.payout"][0] if by_code["order.payout"] else None
    expected = {
        "credit": money_wire(order.receive_minor, order.receive_currency),
        "account": accounts.position_code(order.receiving_institution.code, order.receive_currency),
    }
    actual = (
        {
            "credit": money_wire(payout["amount"], payout["currency_id"]),
            "account": facts.account_codes.get(payout["credit_account_id"]),
        }
        if payout
        else None
    )
    if actual == expected:
        return []
    return [(K.PAYOUT_MISMATCH, "the payout leg differs", expected, actual)]


def _statement_findings(order: WindowOrder, entries: list[Any]) -> list[Finding]:
    """2. The order's statements on the log agree with it; 3b. the receiver's signed
    confirmation names the order, its payout reference and amount."""
    ref = str(order.order_id)
    sending, receiving = order.sending_institution.code, order.receiving_institution.code
    contradictions: list[dict[str, Any]] = []
    confirmations: list[dict[str, Any]] = []
    for kind, signer, leaf in entries:
        body = _statement(leaf).get("body") or {}
        if not isinstance(body, dict):
            continue
        if kind == "order.credited":
            confirmations.append({"signer": signer, **{k: body.get(k) for k in _CONFIRMED}})
        elif kind.startswith("order."):
            wrong = _contradicted(order, kind, signer, body)
            if wrong:
                contradictions.append(
                    {"kind": kind, "signer": signer, "fields": wrong, "body": body}
                )
    findings: list[Finding] = []
    if contradictions:
        findings.append(
            (
                K.STATEMENT_MISMATCH,
                "a statement on the log contradicts the order",
                {
                    "order_id": ref,
                    "sending_institution": sending,
                    "send_amount": money_wire(order.send_minor, order.send_currency),
                    "fee": money_wire(order.fee_minor, order.send_currency),
                    "receive_amount": money_wire(order.receive_minor, order.receive_currency),
                },
                contradictions,
            )
        )
    expected = {
        "signer": receiving,
        "order_id": ref,
        "payout_reference": order.payout_reference,
        "receive_amount": money_wire(order.receive_minor, order.receive_currency),
    }
    bad = [c for c in confirmations if not _confirms(c, expected)]
    if bad:
        findings.append(
            (
                K.CONFIRMATION_MISMATCH,
                "the credit confirmation differs from the order",
                expected,
                bad,
            )
        )
    return findings


def _contradicted(order: WindowOrder, kind: str, signer: str, body: dict[str, Any]) -> list[str]:
    """The fields of one of the order's statements that contradict the order."""
    wrong = [
        name
        for name, minor, currency in (
            ("send_amount", order.send_minor, order.send_currency),
            ("fee", order.fee_minor, order.send_currency),
            ("receive_amount", order.receive_minor, order.receive_currency),
        )
        if name in body and not _same_amount(body[name], minor, currency)
    ]
    if body.get("order_id", str(order.order_id)) != str(order.order_id):
        wrong.append("order_id")
    if kind == "order.submitted" and signer != order.sending_institution.code:
        wrong.append("signer")
    return wrong


_CONFIRMED = ("order_id", "payout_reference", "receive_amount")


def _confirms(confirmation: dict[str, Any], expected: dict[str, Any]) -> bool:
    """A receiving bank signs the amount only if it wants to; an unsigned amount was checked
    by the orders app against the request, so only a signed one is compared here."""
    for name in ("signer", "order_id", "payout_reference"):
        if confirmation.get(name) != expected[name]:
            return False
    amount = confirmation.get("receive_amount")
    return amount is None or amount == expected["receive_amount"]


def orders_reconcile(*, order_ids: Iterable[uuid.UUID]) -> dict[str, int]:
    """Match the three facts of these credited orders; open a break on any difference.
    Returns counts: matched, broken, deferred (a needed statement is not on the log yet)."""
    ids = list(dict.fromkeys(order_ids))
    counts = {"matched": 0, "broken": 0, "deferred": 0}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        orders = list(
            WindowOrder.objects.filter(order_id__in=chunk).select_related(
                "sending_institution", "receiving_institution"
            )
        )
        if not orders:
            continue
        facts = _Facts([o.order_id for o in orders])
        now = timezone.now()
        breaks: list[Break] = []
        matched: list[uuid.UUID] = []
        broken: list[uuid.UUID] = []
        for order in orders:
            found = _order_breaks(order, facts, now)
            if found is None:
                counts["deferred"] += 1
            elif found:
                breaks.extend(found)
                broken.append(order.order_id)
            else:
                matched.append(order.order_id)
        with transaction.atomic():
            breaks_open(breaks)
            WindowOrder.objects.filter(order_id__in=matched).update(
                recon_status=ReconStatus.MATCHED, reconciled_at=now
            )
            WindowOrder.objects.filter(order_id__in=broken).update(
                recon_status=ReconStatus.BROKEN, reconciled_at=now
            )
        counts["matched"] += len(matched)
        counts["broken"] += len(broken)
    return counts


def reconcile_entries(*, first_seq: int, last_seq: int) -> dict[str, int]:
    """Reconcile every credited order the log entries [first_seq, last_seq] touch, and open
    `credit_without_order` for a credit on the log that no credited order explains."""
    touched: set[uuid.UUID] = set()
    credits: set[uuid.UUID] = set()
    for subject, kind in (
        Entry.objects.filter(seq__gte=first_seq, seq__lte=last_seq)
        .values_list("subject", "kind")
        .distinct()
    ):
        order_id = _uuid(subject)
        if order_id is None:
            continue
        touched.add(order_id)
        if kind == "order.credited":
            credits.add(order_id)
    known: set[uuid.UUID] = set()
    touched_list = list(touched)
    for start in range(0, len(touched_list), BATCH):
        known.update(
            WindowOrder.objects.filter(
                order_id__in=touched_list[start : start + BATCH]
            ).values_list("order_id", flat=True)
        )
    counts = orders_reconcile(order_ids=known)
    now = timezone.now()
    orphans = [
        _break(
            K.CREDIT_WITHOUT_ORDER,
            str(order_id),
            detail="an order.credited statement names no credited order",
            expected=None,
            actual={"order_id": str(order_id), "statement": "order.credited"},
            order_id=order_id,
            now=now,
        )
        for order_id in sorted(credits - known)
    ]
    counts["orphans"] = breaks_open(orphans) if orphans else 0
    return counts


# --- sweep ----------------------------------------------------------------------------------


def reconciliation_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Beat's safety net and SLA watch:
    - log entries past the cursor are reconciled (what a lost real-time task missed);
    - credited orders still unmatched after the SLA are matched again;
    - orders accepted more than SETTLEMENT_CREDIT_SLA_SECONDS ago (within the look-back) with
      no credit, rejection or expiry on the log get a `credit_overdue` break."""
    now = now or timezone.now()
    counts: dict[str, int] = defaultdict(int)
    cursor, _ = ReconCursor.objects.get_or_create(name="log")
    head = Entry.objects.order_by("-seq").values_list("seq", flat=True).first()
    if head is not None and head > cursor.seq:
        start = cursor.seq + 1
        while start <= head:
            end = min(head, start + 9_999)
            for name, value in reconcile_entries(first_seq=start, last_seq=end).items():
                counts[name] += value
            ReconCursor.objects.filter(name="log").update(seq=end)
            start = end + 1
    sla = timedelta(seconds=settings.SETTLEMENT_CREDIT_SLA_SECONDS)
    stale = list(
        WindowOrder.objects.filter(
            recon_status=ReconStatus.PENDING, credited_at__lt=now - sla
        ).values_list("order_id", flat=True)[:10_000]
    )
    if stale:
        for name, value in orders_reconcile(order_ids=stale).items():
            counts[name] += value
    counts["overdue"] = _overdue_open(now=now, sla=sla)
    return dict(counts)


def _overdue_open(*, now: datetime, sla: timedelta) -> int:
    """Accepted, not credited (nor rejected/expired) within the SLA: one set query picks them."""
    entry, queued = Entry._meta.db_table, QueuedStatement._meta.db_table
    horizon = now - timedelta(seconds=settings.SETTLEMENT_RECON_LOOKBACK_SECONDS)
    marks = ", ".join(["%s"] * len(CLOSING_KINDS))
    sql = (
        f"SELECT a.subject, MIN(a.integrated_at) FROM {entry} a "  # noqa: S608
        "WHERE a.kind = 'order.accepted' AND a.integrated_at >= %s AND a.integrated_at < %s "
        f"AND NOT EXISTS (SELECT 1 FROM {entry} e WHERE e.subject = a.subject "
        f"AND e.kind IN ({marks})) "
        f"AND NOT EXISTS (SELECT 1 FROM {queued} q WHERE q.subject = a.subject "
        f"AND q.kind IN ({marks})) GROUP BY a.subject"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [horizon, now - sla, *CLOSING_KINDS, *CLOSING_KINDS])
        rows = cursor.fetchall()
    breaks = [
        _break(
            K.CREDIT_OVERDUE,
            subject,
            detail=f"accepted but not credited within {int(sla.total_seconds())} s",
            expected={"credited_within_seconds": int(sla.total_seconds())},
            actual={"accepted_at": _iso(accepted_at), "credited": None},
            order_id=_uuid(subject),
            now=now,
        )
        for subject, accepted_at in rows
    ]
    return breaks_open(breaks)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# --- people work the queue ------------------------------------------------------------------


class BreakResolved(Conflict):
    code, title = "break_resolved", "The break is already resolved"


@transaction.atomic
def break_assign(*, break_id: int, assignee: Any, actor: str) -> Break:
    brk = Break.objects.select_for_update(of=("self",)).filter(pk=break_id).first()
    if brk is None:
        raise NotFound(f"no break {break_id}")
    if brk.status != BreakStatus.OPEN:
        raise BreakResolved(f"break {break_id} is resolved")
    brk.assigned_to = assignee
    brk.save(update_fields=["assigned_to"])
    BreakEvent.objects.create(
        brk=brk, action="assigned", actor=actor, note=str(assignee) if assignee else "unassigned"
    )
    return brk


@transaction.atomic
def break_resolve(*, break_id: int, reason: str, actor: str) -> Break:
    """Close a break with the reason a person gave; the reason and who gave it are audited."""
    if not reason or not reason.strip():
        raise DomainError("a reason is required to resolve a break")
    brk = Break.objects.select_for_update(of=("self",)).filter(pk=break_id).first()
    if brk is None:
        raise NotFound(f"no break {break_id}")
    if brk.status != BreakStatus.OPEN:
        raise BreakResolved(f"break {break_id} is already resolved")
    brk.status = BreakStatus.RESOLVED
    brk.resolved_at = timezone.now()
    brk.resolution_reason = reason.strip()
    brk.save(update_fields=["status", "resolved_at", "resolution_reason"])
    BreakEvent.objects.create(brk=brk, action="resolved", actor=actor, note=reason.strip())
    return brk
