"""Settlement windows: assignment of credited orders, close (netting), settle (FX, ledger,
signed statement), and handing settled orders back to the orders app.

What holds:
- Every credited order is in exactly one window: `WindowOrder.order_id` is the primary key, and
  the credit takes a SHARE lock on the current window that the close's UPDATE lock waits for.
- A close is one transaction: the window becomes `closed`, its obligations and net positions are
  written from the incremental aggregates, the next window opens, the operator signs
  `settlement.window_closed`. A crash anywhere leaves the window current, never half closed.
- A settle is one durable transaction: all ledger legs (linked, all or nothing), the liquidity
  consequences and the operator-signed `settlement.executed` statement listing net obligations.
- Per window and currency the net positions sum to zero.

Ledger legs of a settle (ids derived from the window id, so a retried settle moves no money twice):
  pay_in   position:<S>:<SEND>      → fx_position:<SEND>        Σ send of S       (per sender)
  fx_sell  fx_position:<SEND>       → settlement_bank:<SEND>    Σ send
  fx_buy   settlement_bank:<RECV>   → fx_position:<RECV>        Σ send × rate     (converted)
  pay_out  position:<R>:<RECV>      → settlement_bank:<RECV>    Σ receive of R    (per receiver)
  fx_pnl   fx_position:<RECV>       → fx_pnl:<RECV>             converted − Σ receive (a loss
                                                                 runs the other way)
Fees were booked to `fee_income:<S>:<SEND>` per order at credit (`order.fee`); settlement only
reports them.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from core import events
from core.errors import Conflict, DomainError
from core.money import minor_units, money_wire
from core.tasks import task_request_on_commit
from institutions.models import Corridor, Institution
from ledger.models import Account
from ledger.selectors.log import entry_for_statement
from ledger.selectors.witnesses import checkpoint_cosigned_by_all
from ledger.services import accounts
from ledger.services.log import statement_issue
from ledger.services.money import TransferSpec, transfers_create_or_raise
from partner_sdk.wire import format_time
from settlement.locks import current_window_share_lock, liquidity_limits_lock, window_lock
from settlement.models import (
    CURRENT_STATUSES,
    LiquidityLimit,
    NetPosition,
    NetRole,
    Obligation,
    ReconStatus,
    SettlementWindow,
    WindowAggregate,
    WindowOrder,
    WindowStatus,
)

logger = logging.getLogger(__name__)

W = WindowStatus
SETTLEMENT_NAMESPACE = uuid.UUID("0b5e7d8a-3c1f-4e6b-9a2d-5f8c7e1b4a63")
STATEMENT_CLOSED = "settlement.window_closed"
STATEMENT_EXECUTED = "settlement.executed"


class WindowStateError(Conflict):
    code, title = "window_state", "The settlement window is not in a state that allows this"


class InvalidSettlementRate(DomainError):
    code, status, title = "invalid_settlement_rate", 400, "Invalid settlement rate"


class UnknownCorridor(DomainError):
    code, status, title = "unknown_corridor", 422, "No corridor for this order"


class WindowNotWitnessed(Conflict):
    code, title = "window_not_witnessed", "Waiting for the parties' witness cosignatures"


# --- assignment: the `order.credited` hook --------------------------------------------------


def _corridor_id(order: Any) -> int:
    quote = getattr(order, "quote", None)
    corridor_id = getattr(quote, "corridor_id", None) or getattr(order, "corridor_id", None)
    if corridor_id:
        return int(corridor_id)
    sending, receiving = order.sending_institution, order.receiving_institution
    candidates = Corridor.objects.filter(
        source_currency_id=order.send_currency, destination_currency_id=order.receive_currency
    )
    exact = candidates.filter(
        source_country=sending.country, destination_country=receiving.country
    ).first()
    found = exact or candidates.first()
    if found is None:
        raise UnknownCorridor(f"no corridor {order.send_currency}→{order.receive_currency}")
    return found.pk


def _window_open_first(corridor_id: int, now: datetime) -> None:
    """Open the corridor's first (or next) window if it has no current one. Races with another
    opener end in the unique index; the caller looks again either way."""
    corridor = Corridor.objects.get(pk=corridor_id)
    last = SettlementWindow.objects.filter(corridor_id=corridor_id).order_by("-number").first()
    try:
        with transaction.atomic():
            SettlementWindow.objects.create(
                corridor_id=corridor_id,
                number=(last.number + 1) if last else 1,
                status=W.OPEN,
                send_currency=corridor.source_currency_id,
                receive_currency=corridor.destination_currency_id,
                opened_at=now,
            )
    except IntegrityError:
        pass


def window_order_record(*, order: Any) -> WindowOrder | None:
    """Put a credited order in its corridor's current window and add it to the window's running
    totals. Runs inside the credit transaction (the `order.credited` hook), so the order is in a
    window if and only if it is credited. A repeated call for the same order changes nothing
    (returns None). A batch of one: see `window_orders_record`."""
    added = window_orders_record(orders=[order])
    return added[0] if added else None


def window_orders_record(*, orders: Sequence[Any]) -> list[WindowOrder]:
    """`window_order_record` for the credited orders of one batch (the credit batch calls it):
    one SHARE lock per corridor's current window, one INSERT of the window rows, one upsert of
    the running totals — whatever the batch size. Orders already in a window change nothing.
    The totals are summed per aggregate row first and upserted in key order, so concurrent
    batches lock aggregate rows in one order (no deadlock). Returns the entries added."""
    if not orders:
        return []
    now = timezone.now()
    corridor_of = {order.id: _corridor_id(order) for order in orders}
    window_of: dict[int, int] = {}
    for corridor_id in sorted(set(corridor_of.values())):
        window_id = None
        for _ in range(10):
            window_id = current_window_share_lock(corridor_id=corridor_id)
            if window_id is not None:
                break
            _window_open_first(corridor_id, now)
        if window_id is None:
            raise DomainError("could not find the corridor's current settlement window")
        window_of[corridor_id] = window_id
    entries = [
        WindowOrder(
            order_id=order.id,
            window_id=window_of[corridor_of[order.id]],
            sending_institution_id=order.sending_institution.pk,
            receiving_institution_id=order.receiving_institution.pk,
            send_currency=order.send_currency,
            send_minor=order.send_minor,
            fee_minor=order.fee_minor,
            receive_currency=order.receive_currency,
            receive_minor=order.receive_minor,
            rate=order.rate,
            payout_reference=order.payout_reference or "",
            credited_at=order.credited_at or now,
            recon_status=ReconStatus.PENDING,
        )
        for order in orders
    ]
    inserted = _window_orders_insert(entries)
    added = [entry for entry in entries if entry.order_id in inserted]
    _aggregates_add(added)
    return added


_WINDOW_ORDER_COLUMNS = (
    "order_id",
    "window_id",
    "sending_institution_id",
    "receiving_institution_id",
    "send_currency",
    "send_minor",
    "fee_minor",
    "receive_currency",
    "receive_minor",
    "rate",
    "payout_reference",
    "credited_at",
    "recon_status",
)


def _window_orders_insert(entries: list[WindowOrder]) -> set[uuid.UUID]:
    """INSERT … ON CONFLICT (order_id) DO NOTHING; the ids of the orders that were not in a
    window yet."""
    table = WindowOrder._meta.db_table
    fields: list[Any] = [WindowOrder._meta.get_field(name) for name in _WINDOW_ORDER_COLUMNS]
    values: list[Any] = []
    for entry in entries:
        values.extend(
            field.get_db_prep_save(getattr(entry, name), connection)
            for field, name in zip(fields, _WINDOW_ORDER_COLUMNS, strict=True)
        )
    row = "(" + ", ".join(["%s"] * len(_WINDOW_ORDER_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(_WINDOW_ORDER_COLUMNS)}) VALUES "  # noqa: S608
            + ", ".join([row] * len(entries))
            + " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
            values,
        )
        return {uuid.UUID(str(order_id)) for (order_id,) in cursor.fetchall()}


def _aggregates_add(entries: list[WindowOrder]) -> None:
    if not entries:
        return
    table = WindowAggregate._meta.db_table
    stripes = max(1, int(settings.SETTLEMENT_AGGREGATE_STRIPES))
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for entry in entries:
        key = (
            entry.window_id,
            entry.sending_institution_id,
            entry.receiving_institution_id,
            entry.send_currency,
            entry.receive_currency,
            entry.order_id.int % stripes,
        )
        total = totals[key]
        total[0] += 1
        total[1] += entry.send_minor
        total[2] += entry.fee_minor
        total[3] += entry.receive_minor
    values: list[Any] = []
    for key in sorted(totals):
        values.extend((*key, *totals[key]))
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(totals))
    sql = (
        f"INSERT INTO {table} (window_id, sending_institution_id, receiving_institution_id, "  # noqa: S608
        "send_currency, receive_currency, stripe, order_count, send_minor, fee_minor, "
        f"receive_minor) VALUES {rows} "
        "ON CONFLICT (window_id, sending_institution_id, receiving_institution_id, "
        "send_currency, receive_currency, stripe) DO UPDATE SET "
        f"order_count = {table}.order_count + excluded.order_count, "
        f"send_minor = {table}.send_minor + excluded.send_minor, "
        f"fee_minor = {table}.fee_minor + excluded.fee_minor, "
        f"receive_minor = {table}.receive_minor + excluded.receive_minor"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def window_current(*, corridor: Corridor) -> SettlementWindow:
    """The corridor's current window, opened if it has none (e.g. right after the corridor)."""
    found = SettlementWindow.objects.filter(corridor=corridor, status__in=CURRENT_STATUSES).first()
    if found is None:
        _window_open_first(corridor.pk, timezone.now())
        found = SettlementWindow.objects.get(corridor=corridor, status__in=CURRENT_STATUSES)
    return found


# --- close ----------------------------------------------------------------------------------


@transaction.atomic
def window_close_request(*, window_id: int, actor: str = "operator") -> SettlementWindow:
    """Mark a current window `closing` and ask a worker to close it (after commit). The window
    keeps collecting credits until the close commits; a close requested twice is one close."""
    window = window_lock(window_id=window_id)
    if window.status == W.OPEN:
        window.status = W.CLOSING
        window.close_requested_at = timezone.now()
        window.save(update_fields=["status", "close_requested_at"])
        logger.info("close of %s requested by %s", window, actor)
    if window.status == W.CLOSING:
        task_request_on_commit("settlement.tasks.close_window", window_id)
    return window


@transaction.atomic(durable=True)
def window_close(*, window_id: int) -> SettlementWindow:
    """Close a current window: net it and open the next one, all in this one transaction.
    A window that is already closed (or further) is returned unchanged: closed once."""
    window = window_lock(window_id=window_id)
    if window.status not in CURRENT_STATUSES:
        return window
    now = timezone.now()
    window.status = W.CLOSED
    window.closed_at = now
    window.save(update_fields=["status", "closed_at"])
    SettlementWindow.objects.create(
        corridor_id=window.corridor_id,
        number=window.number + 1,
        status=W.OPEN,
        send_currency=window.send_currency,
        receive_currency=window.receive_currency,
        opened_at=now,
    )
    _obligations_write(window)
    obligations = list(Obligation.objects.filter(window=window).order_by("pk"))
    window.order_count = sum(o.order_count for o in obligations)
    window.send_minor = sum(o.send_minor for o in obligations)
    window.fee_minor = sum(o.fee_minor for o in obligations)
    window.receive_minor = sum(o.receive_minor for o in obligations)
    positions = _net_positions_write(window, obligations)
    window.close_statement_ref = statement_issue(
        institution=str(settings.LEDGER_OPERATOR_CODE),
        kind=STATEMENT_CLOSED,
        body={
            "window": _window_wire(window),
            "orders": window.order_count,
            "send": money_wire(window.send_minor, window.send_currency),
            "fee": money_wire(window.fee_minor, window.send_currency),
            "receive": money_wire(window.receive_minor, window.receive_currency),
            "net_positions": [_position_wire(p) for p in positions],
        },
        subject=f"window:{window.pk}",
    ).pk
    window.save(
        update_fields=[
            "order_count",
            "send_minor",
            "fee_minor",
            "receive_minor",
            "close_statement_ref",
        ]
    )
    return window


def _obligations_write(window: SettlementWindow) -> None:
    """Gross bilateral obligations: the aggregate stripes summed, in one INSERT … SELECT."""
    obligation, aggregate = Obligation._meta.db_table, WindowAggregate._meta.db_table
    keys = "sending_institution_id, receiving_institution_id, send_currency, receive_currency"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {obligation} (window_id, {keys}, order_count, send_minor, "  # noqa: S608
            f"fee_minor, receive_minor) SELECT window_id, {keys}, SUM(order_count), "
            f"SUM(send_minor), SUM(fee_minor), SUM(receive_minor) FROM {aggregate} "
            f"WHERE window_id = %s GROUP BY window_id, {keys} HAVING SUM(order_count) > 0",
            [window.pk],
        )


def _net_positions_write(
    window: SettlementWindow, obligations: list[Obligation]
) -> list[NetPosition]:
    """Multilateral netting: each institution's net per currency across all its counterparties,
    with the operator's FX desk taking the send currency in and paying the receive currency
    out. Per currency the positions sum to zero."""
    operator = Institution.objects.get(code=settings.LEDGER_OPERATOR_CODE)
    net: dict[tuple[int, str], int] = defaultdict(int)
    role: dict[tuple[int, str], str] = {}
    for o in obligations:
        for key, amount, who in (
            ((o.sending_institution_id, o.send_currency), -o.send_minor, NetRole.SENDING),
            ((operator.pk, o.send_currency), o.send_minor, NetRole.FX_DESK),
            ((o.receiving_institution_id, o.receive_currency), o.receive_minor, NetRole.RECEIVING),
            ((operator.pk, o.receive_currency), -o.receive_minor, NetRole.FX_DESK),
        ):
            net[key] += amount
            role.setdefault(key, who)
    rows = [
        NetPosition(
            window=window,
            institution_id=institution_id,
            currency=currency,
            role=role[(institution_id, currency)],
            net_minor=amount,
            end_to_end_id=f"W{window.pk}P{n}",
        )
        for n, ((institution_id, currency), amount) in enumerate(sorted(net.items()), start=1)
        if amount != 0
    ]
    NetPosition.objects.bulk_create(rows)
    return list(NetPosition.objects.filter(window=window).select_related("institution"))


def windows_due_for_close(*, now: datetime | None = None) -> list[int]:
    """Current windows older than SETTLEMENT_WINDOW_SECONDS that hold at least one order (an
    empty window stays open: closing it would only make an empty settlement)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.SETTLEMENT_WINDOW_SECONDS)
    return list(
        SettlementWindow.objects.filter(status__in=CURRENT_STATUSES, opened_at__lte=cutoff)
        .filter(Q(status=W.CLOSING) | Q(pk__in=WindowOrder.objects.values("window_id")))
        .values_list("pk", flat=True)
    )


# --- settle ---------------------------------------------------------------------------------


def _rate(value: Decimal | str | None) -> Decimal:
    try:
        rate = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0:
        raise InvalidSettlementRate(f"settlement rate {value!r} is not a positive decimal")
    if rate != rate.quantize(Decimal("1e-10")):
        raise InvalidSettlementRate("a settlement rate has at most 10 decimal places")
    return rate


def convert_minor(amount_minor: int, rate: Decimal, *, from_currency: str, to_currency: str) -> int:
    """`amount_minor` of `from_currency` at `rate`, in minor units of `to_currency`, rounded
    half up once, on the window's total (never per order). Half up on a positive total is
    floor(x + ½), which commutes with subtracting whole minor units: so the FX P&L is exactly
    Σ(send × settlement rate) − Σ receive, rounded half up to the minor unit."""
    with localcontext() as ctx:
        ctx.prec = 80
        major = Decimal(amount_minor).scaleb(-minor_units(from_currency)) * rate
        exponent = Decimal(1).scaleb(-minor_units(to_currency))
        return int(
            major.quantize(exponent, rounding=ROUND_HALF_UP).scaleb(minor_units(to_currency))
        )


@transaction.atomic
def window_rate_set(*, window_id: int, rate: Decimal | str, source: str) -> SettlementWindow:
    """Enter (or import) the settlement rate of a closed window, before it settles."""
    window = window_lock(window_id=window_id)
    if window.status not in (W.OPEN, W.CLOSING, W.CLOSED):
        raise WindowStateError(f"{window} is {window.status}; its rate can no longer change")
    window.settlement_rate = _rate(rate)
    window.rate_source = source[:64]
    window.save(update_fields=["settlement_rate", "rate_source"])
    return window


def _window_witnessed_check(window: SettlementWindow) -> None:
    """No institution settles on a history it has not verified: the window's last entry (its
    `settlement.window_closed` statement, sequenced after every credit in it) must be under a
    checkpoint that every external party to the window cosigned as a witness — one
    checkpoint, so they all verified the same tree. Hosted institutions are not asked: the
    hub holds their keys, so their cosignature would be the hub's own. Raises
    WindowNotWitnessed (nothing has moved; settle again once the witnesses have caught up)."""
    parties = set(
        Obligation.objects.filter(window=window).values_list("sending_institution_id", flat=True)
    ) | set(
        Obligation.objects.filter(window=window).values_list("receiving_institution_id", flat=True)
    )
    witnesses = dict(
        Institution.objects.filter(pk__in=parties, hosted=False, is_operator=False).values_list(
            "pk", "code"
        )
    )
    if not witnesses:
        return
    closed = (
        entry_for_statement(statement_ref=window.close_statement_ref)
        if window.close_statement_ref is not None
        else None
    )
    if closed is None:
        raise WindowNotWitnessed(f"{window}: its close is not on the log yet")
    if checkpoint_cosigned_by_all(after_seq=closed.seq, institution_ids=witnesses) is None:
        codes = ", ".join(sorted(witnesses.values()))
        raise WindowNotWitnessed(
            f"{window}: no checkpoint past seq {closed.seq} (its close) is cosigned yet by "
            f"every party ({codes})"
        )


def _tid(window: SettlementWindow, leg: str) -> uuid.UUID:
    return uuid.uuid5(SETTLEMENT_NAMESPACE, f"window:{window.pk}:{leg}")


def _settlement_legs(
    window: SettlementWindow,
    pay_in: dict[int, int],
    pay_out: dict[int, int],
    *,
    converted: int,
    pnl: int,
) -> list[TransferSpec]:
    """The ledger legs of a settlement: each sending institution pays in its position, the
    FX desk sells the send currency and buys the receive currency, each receiving institution
    is paid out, and the difference is FX gain or loss. Ids derive from the window."""
    send_cur, recv_cur = window.send_currency, window.receive_currency
    parties = Institution.objects.in_bulk([*pay_in, *pay_out])
    named = accounts.accounts_open(
        [
            accounts.fx_position(send_cur),
            accounts.fx_position(recv_cur),
            accounts.settlement_bank(send_cur),
            accounts.settlement_bank(recv_cur),
            accounts.fx_pnl(recv_cur),
            *(accounts.position(parties[pk], send_cur) for pk in pay_in),
            *(accounts.position(parties[pk], recv_cur) for pk in pay_out),
        ]
    )

    def account(name: accounts.AccountName) -> Account:
        return named[name.code]

    fx_send = account(accounts.fx_position(send_cur))
    fx_recv = account(accounts.fx_position(recv_cur))
    bank_send = account(accounts.settlement_bank(send_cur))
    bank_recv = account(accounts.settlement_bank(recv_cur))
    reference = f"window:{window.pk}"
    legs: list[TransferSpec] = []

    def leg(name: str, debit: Account, credit: Account, amount: int, code: str) -> None:
        if amount > 0:
            legs.append(
                TransferSpec(
                    id=_tid(window, name),
                    debit_account_id=debit.pk,
                    credit_account_id=credit.pk,
                    amount=amount,
                    code=code,
                    reference=reference,
                )
            )

    for institution_id, amount in sorted(pay_in.items()):
        party = parties[institution_id]
        position = account(accounts.position(party, send_cur))
        leg(f"pay_in:{party.code}", position, fx_send, amount, "settlement.pay_in")
    leg("fx_sell", fx_send, bank_send, window.send_minor, "settlement.fx_sell")
    leg("fx_buy", bank_recv, fx_recv, converted, "settlement.fx_buy")
    for institution_id, amount in sorted(pay_out.items()):
        party = parties[institution_id]
        position = account(accounts.position(party, recv_cur))
        leg(f"pay_out:{party.code}", position, bank_recv, amount, "settlement.pay_out")
    fx_pnl = account(accounts.fx_pnl(recv_cur))
    if pnl >= 0:
        leg("fx_pnl", fx_recv, fx_pnl, pnl, "settlement.fx_gain")
    else:
        leg("fx_pnl", fx_pnl, fx_recv, -pnl, "settlement.fx_loss")
    return legs


def _settlement_statement(
    window: SettlementWindow, rate: Decimal, legs: list[TransferSpec], *, actor: str
) -> int:
    """The operator-signed `settlement.executed` statement of a settled window; its ref."""
    send_cur, recv_cur = window.send_currency, window.receive_currency
    converted, pnl = window.converted_minor or 0, window.fx_pnl_minor or 0
    positions = list(NetPosition.objects.filter(window=window).select_related("institution"))
    return statement_issue(
        institution=str(settings.LEDGER_OPERATOR_CODE),
        kind=STATEMENT_EXECUTED,
        body={
            "window": _window_wire(window),
            "settlement_rate": format(rate.normalize(), "f"),
            "rate_source": window.rate_source,
            "net_obligations": [_position_wire(p) for p in positions],
            "totals": {
                "orders": window.order_count,
                "send": money_wire(window.send_minor, send_cur),
                "fee": money_wire(window.fee_minor, send_cur),
                "receive": money_wire(window.receive_minor, recv_cur),
                "converted": money_wire(converted, recv_cur),
                "fx_pnl": money_wire(pnl, recv_cur),
            },
            "transfers": [str(spec.id) for spec in legs],
            "settled_by": actor[:64],
        },
        subject=f"window:{window.pk}",
    ).pk


@transaction.atomic(durable=True)
def window_settle(
    *,
    window_id: int,
    settlement_rate: Decimal | str | None = None,
    rate_source: str = "manual",
    actor: str = "operator",
) -> SettlementWindow:
    """Settle a closed window at `settlement_rate` (else the rate entered for it): convert, post
    every ledger leg, book FX P&L, consume prefunding, and queue the operator-signed
    `settlement.executed` statement. Settling a settled window returns it unchanged."""
    window = window_lock(window_id=window_id)
    if window.status == W.SETTLED:
        return window
    if window.status != W.CLOSED:
        raise WindowStateError(f"{window} is {window.status}; only a closed window settles")
    _window_witnessed_check(window)
    if settlement_rate is not None:
        window.settlement_rate = _rate(settlement_rate)
        window.rate_source = rate_source[:64]
    rate = _rate(window.settlement_rate)
    send_cur, recv_cur = window.send_currency, window.receive_currency
    obligations = list(Obligation.objects.filter(window=window).order_by("pk"))
    pay_in: dict[int, int] = defaultdict(int)
    pay_out: dict[int, int] = defaultdict(int)
    for o in obligations:
        pay_in[o.sending_institution_id] += o.send_minor
        pay_out[o.receiving_institution_id] += o.receive_minor
    converted = convert_minor(window.send_minor, rate, from_currency=send_cur, to_currency=recv_cur)
    pnl = converted - window.receive_minor

    # lock order: window → liquidity limits → accounts (transfers_create)
    limits = liquidity_limits_lock(
        limit_ids=list(
            LiquidityLimit.objects.filter(institution_id__in=pay_in, currency=send_cur).values_list(
                "pk", flat=True
            )
        )
    )
    reference = f"window:{window.pk}"
    legs = _settlement_legs(window, pay_in, pay_out, converted=converted, pnl=pnl)
    transfers_create_or_raise(transfers=legs, subject=reference)

    now = timezone.now()
    window.status = W.SETTLED
    window.settled_at = now
    window.converted_minor = converted
    window.fx_pnl_minor = pnl
    window.statement_ref = _settlement_statement(window, rate, legs, actor=actor)
    window.save(
        update_fields=[
            "status",
            "settled_at",
            "settlement_rate",
            "rate_source",
            "converted_minor",
            "fx_pnl_minor",
            "statement_ref",
        ]
    )
    from settlement.services.liquidity import liquidity_after_settlement

    liquidity_after_settlement(limits=list(limits.values()), paid_in=pay_in)
    task_request_on_commit("settlement.tasks.mark_window_orders_settled", window.pk)
    return window


@transaction.atomic(durable=True)
def window_fail(*, window_id: int, reason: str) -> SettlementWindow:
    """A closed window that cannot settle (e.g. the ledger refused a leg): `failed`, with why.
    Nothing moved (the settle rolled back); the operator investigates and may retry."""
    if not reason.strip():
        raise DomainError("a reason is required")
    window = window_lock(window_id=window_id)
    if window.status != W.CLOSED:
        raise WindowStateError(f"{window} is {window.status}; only a closed window can fail")
    window.status = W.FAILED
    window.failure_reason = reason[:200]
    window.save(update_fields=["status", "failure_reason"])
    return window


@transaction.atomic(durable=True)
def window_retry(*, window_id: int) -> SettlementWindow:
    """Put a failed window back to `closed` so it can be settled again."""
    window = window_lock(window_id=window_id)
    if window.status != W.FAILED:
        raise WindowStateError(f"{window} is {window.status}, not failed")
    window.status = W.CLOSED
    window.save(update_fields=["status"])
    return window


def window_orders_mark_settled(*, window_id: int, chunk_size: int = 5000) -> int:
    """Tell the orders app which orders a settled window settled: `settlement.window_settled`
    with `window_id` and a chunk of `order_ids`, each chunk in its own durable transaction (the
    listener moves credited → settled; a repeat is harmless). Returns how many ids were sent."""
    window = SettlementWindow.objects.get(pk=window_id)
    if window.status != W.SETTLED:
        raise WindowStateError(f"{window} is {window.status}, not settled")
    sent, after = 0, None
    while True:
        page = WindowOrder.objects.filter(window_id=window_id).order_by("order_id")
        if after is not None:
            page = page.filter(order_id__gt=after)
        ids = list(page.values_list("order_id", flat=True)[:chunk_size])
        if not ids:
            break
        with transaction.atomic(durable=True):
            events.emit("settlement.window_settled", window_id=window_id, order_ids=ids)
        sent += len(ids)
        after = ids[-1]
    SettlementWindow.objects.filter(pk=window_id).update(orders_marked_at=timezone.now())
    return sent


# --- wire helpers ---------------------------------------------------------------------------


def _window_wire(window: SettlementWindow) -> dict[str, Any]:
    return {
        "id": window.pk,
        "corridor": Corridor.objects.values_list("code", flat=True).get(pk=window.corridor_id),
        "number": window.number,
        "opened_at": format_time(window.opened_at),
        "closed_at": format_time(window.closed_at) if window.closed_at else None,
    }


def _position_wire(position: NetPosition) -> dict[str, Any]:
    return {
        "institution": position.institution.code,
        "role": position.role,
        "net": money_wire(position.net_minor, position.currency),
        "end_to_end_id": position.end_to_end_id,
    }


def window_totals_check(*, window_id: int) -> dict[str, int]:
    """Per-currency sum of a window's net positions (all zero when netting is right)."""
    return {
        row["currency"]: row["total"]
        for row in NetPosition.objects.filter(window_id=window_id)
        .values("currency")
        .annotate(total=Sum("net_minor"))
    }
