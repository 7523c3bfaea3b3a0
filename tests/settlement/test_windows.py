"""Settlement windows: assignment on credit, close (netting), settle (FX, ledger, statement)."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.db import IntegrityError, transaction

from core import events
from ledger.models import Account, Entry, Transfer
from ledger.services.log import ledger_integrate
from partner_sdk.wire import parse_entry
from settlement.models import (
    NetPosition,
    Obligation,
    SettlementWindow,
    WindowAggregate,
    WindowOrder,
    WindowStatus,
)
from settlement.services import windows
from settlement.services.windows import window_totals_check
from tests.ledger.helpers import witnesses_catch_up

from .conftest import FakeOrder, credited_order

pytestmark = pytest.mark.django_db


def balance(code: str) -> int:
    account = Account.objects.filter(code=code).first()
    return 0 if account is None else account.credits_posted - account.debits_posted


def current(corridor_code: str = "MY-PK") -> SettlementWindow:
    return SettlementWindow.objects.get(
        corridor__code=corridor_code, status__in=("open", "closing")
    )


def test_a_credited_order_lands_in_the_current_window_with_its_facts(corridor):
    order_id = credited_order(corridor, "1000.00", payout_reference="EP-42")
    row = WindowOrder.objects.get(order_id=order_id)
    assert row.window == current()
    assert (row.send_minor, row.fee_minor, row.receive_minor) == (100_000, 1_000, 6_286_500)
    assert row.payout_reference == "EP-42"
    assert row.rate == Decimal("62.865")
    # the order id is the primary key: a second window can never hold it
    with pytest.raises(IntegrityError), transaction.atomic():
        fields = {k: v for k, v in row.__dict__.items() if not k.startswith("_")}
        WindowOrder.objects.create(**fields)


def test_close_nets_opens_the_next_window_and_is_once(corridor):
    first = credited_order(corridor, "1000.00")
    window = current()
    closed = windows.window_close(window_id=window.pk)
    assert closed.status == WindowStatus.CLOSED
    assert (closed.order_count, closed.send_minor, closed.fee_minor) == (1, 100_000, 1_000)
    nxt = current()
    assert nxt.number == window.number + 1
    # closing again changes nothing: closed once
    again = windows.window_close(window_id=window.pk)
    assert again.closed_at == closed.closed_at
    assert Obligation.objects.filter(window=window).count() == 1
    assert SettlementWindow.objects.filter(corridor__code="MY-PK").count() == 2
    # later credits land in the next window only
    second = credited_order(corridor, "500.00")
    assert WindowOrder.objects.get(order_id=second).window == nxt
    assert WindowOrder.objects.get(order_id=first).window == window
    # the close is on the log, signed by the operator
    ledger_integrate()
    closed_entry = Entry.objects.get(kind="settlement.window_closed")
    assert closed_entry.signer == "HUB"
    assert json.loads(bytes(closed_entry.leaf))["statement"]["body"]["orders"] == 1


def test_netting_across_several_institutions_sums_to_zero_per_currency(
    network, my_pk, second_receiver
):
    senders = [network.partner.institution, network.valyou.institution]
    receivers = [network.tmb.institution, second_receiver]
    rng = random.Random(7)
    expected_send: dict[str, int] = defaultdict(int)
    expected_receive: dict[str, int] = defaultdict(int)
    for _ in range(40):
        sender, receiver = rng.choice(senders), rng.choice(receivers)
        send = rng.randint(1_000, 1_000_000)
        receive = send * 62865 // 1000
        order = FakeOrder(sender, receiver, send, 500, receive, Decimal("62.865"), my_pk.pk)
        windows.window_order_record(order=order)
        expected_send[sender.code] += send
        expected_receive[receiver.code] += receive
    window = current()
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(network)  # settling waits for the banks' cosignatures

    assert window_totals_check(window_id=window.pk) == {"MYR": 0, "PKR": 0}
    nets = {
        (p.institution.code, p.currency): p.net_minor
        for p in NetPosition.objects.filter(window=window).select_related("institution")
    }
    for code, amount in expected_send.items():
        assert nets[(code, "MYR")] == -amount  # senders pay in
    for code, amount in expected_receive.items():
        assert nets[(code, "PKR")] == amount  # receivers are paid out
    assert nets[("HUB", "MYR")] == sum(expected_send.values())
    assert nets[("HUB", "PKR")] == -sum(expected_receive.values())

    before = {code: balance(code) for code in ("fx_position:MYR", "settlement_bank:MYR")}
    settled = windows.window_settle(window_id=window.pk, settlement_rate="63.5")
    assert settled.status == WindowStatus.SETTLED
    for code, amount in expected_send.items():
        assert balance(f"position:{code}:MYR") == -amount  # fake orders: pay-in only
    for code, amount in expected_receive.items():
        assert balance(f"position:{code}:PKR") == -amount
    # the FX desk's MYR passes straight through to the settlement bank
    assert balance("fx_position:MYR") == before["fx_position:MYR"]
    # double entry: across all accounts, per currency, posted credits equal posted debits
    for currency in ("MYR", "PKR"):
        accounts = Account.objects.filter(currency_id=currency)
        assert sum(a.credits_posted - a.debits_posted for a in accounts) == 0
    assert Transfer.objects.filter(reference=f"window:{window.pk}").count() == 2 + 2 + 2 + 1


def test_fx_pnl_equals_customer_vs_settlement_rate_difference_to_the_minor_unit(corridor):
    amounts = ["1000.00", "10.01", "333.33", "47.19"]
    ids = [credited_order(corridor, a) for a in amounts]
    window = current()
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for the banks' cosignatures
    settlement_rate = Decimal("63.4871")
    settled = windows.window_settle(window_id=window.pk, settlement_rate=settlement_rate)

    rows = WindowOrder.objects.filter(order_id__in=ids)
    # customer vs settlement rate on every order, plus what rounding each receive amount down
    # kept for the hub (send × customer rate − receive), summed exactly, rounded once
    exact = sum(
        (Decimal(r.send_minor) / 100) * (settlement_rate - r.rate)
        + ((Decimal(r.send_minor) / 100) * r.rate - Decimal(r.receive_minor) / 100)
        for r in rows
    )
    expected_minor = int(((exact + Decimal("0.005")) * 100).to_integral_value(ROUND_FLOOR))
    assert settled.fx_pnl_minor == expected_minor
    assert balance("fx_pnl:PKR") == expected_minor
    # the PKR FX position is flat again after the window settled
    assert balance("fx_position:PKR") == 0
    # fees are already fee income (booked at credit), untouched by settlement
    assert balance("fee_income:PARTNER-MY:MYR") == settled.fee_minor
    # the sending institution's position is cleared; the receiver's too
    assert balance("position:PARTNER-MY:MYR") == 0
    assert balance("position:TMB-PK:PKR") == 0


def test_settlement_is_a_signed_statement_listing_net_obligations(corridor):
    credited_order(corridor, "1000.00")
    window = current()
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for the banks' cosignatures
    settled_events = []

    def listener(**payload):
        settled_events.append(payload)

    events.subscribe("settlement.window_settled", listener)
    windows.window_settle(window_id=window.pk, settlement_rate="63.5")
    again = windows.window_settle(window_id=window.pk, settlement_rate="70")  # no-op
    assert again.settlement_rate == Decimal("63.5")
    ledger_integrate()
    entry = Entry.objects.get(kind="settlement.executed")
    statement = json.loads(bytes(entry.leaf))["statement"]
    assert parse_entry(bytes(entry.leaf)).seq == entry.seq
    assert statement["signer"] == "HUB"
    body = statement["body"]
    assert body["settlement_rate"] == "63.5"
    nets = {
        (n["institution"], n["net"]["currency"]): n["net"]["amount"]
        for n in body["net_obligations"]
    }
    assert nets == {
        ("PARTNER-MY", "MYR"): "-1000.00",
        ("HUB", "MYR"): "1000.00",
        ("TMB-PK", "PKR"): "62865.00",
        ("HUB", "PKR"): "-62865.00",
    }
    assert body["totals"]["fx_pnl"] == {"amount": "635.00", "currency": "PKR"}
    # the orders app is told which orders settled (it moves them credited → settled)
    sent = windows.window_orders_mark_settled(window_id=window.pk, chunk_size=1)
    assert sent == 1
    assert settled_events[-1]["window_id"] == window.pk
    assert settled_events[-1]["order_ids"] == list(
        WindowOrder.objects.filter(window=window).values_list("order_id", flat=True)
    )


def test_settle_refuses_an_open_window_and_a_bad_rate(corridor):
    credited_order(corridor, "100.00")
    window = current()
    with pytest.raises(windows.WindowStateError):
        windows.window_settle(window_id=window.pk, settlement_rate="63.5")
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for the banks' cosignatures
    for rate in ("0", "-1", "abc", "1.00000000001"):
        with pytest.raises(windows.InvalidSettlementRate):
            windows.window_settle(window_id=window.pk, settlement_rate=rate)
    with pytest.raises(windows.InvalidSettlementRate):
        windows.window_settle(window_id=window.pk)  # no rate entered
    windows.window_rate_set(window_id=window.pk, rate="63.1", source="csv:rates.csv")
    assert windows.window_settle(window_id=window.pk).settlement_rate == Decimal("63.1")


def test_failed_settlement_records_the_reason_and_can_be_retried(corridor, monkeypatch):
    from settlement import tasks
    from settlement.services import windows as service

    credited_order(corridor, "100.00")
    window = current()
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)  # settling waits for the banks' cosignatures

    def refuse(**kwargs):
        from ledger.services.money import TransferRefused, TransferResult

        raise TransferRefused(TransferResult(uuid.uuid4(), "exceeds_credits"))

    monkeypatch.setattr(service, "transfers_create_or_raise", refuse)
    assert tasks.settle_window(window.pk, "63.5") == "failed"
    window.refresh_from_db()
    assert window.status == WindowStatus.FAILED
    assert "exceeds_credits" in window.failure_reason
    assert not Transfer.objects.filter(reference=f"window:{window.pk}").exists()
    monkeypatch.undo()
    windows.window_retry(window_id=window.pk)
    assert windows.window_settle(window_id=window.pk, settlement_rate="63.5").status == "settled"


def test_beat_closes_due_windows_with_orders_only(corridor, settings):
    from settlement.tasks import close_due_windows

    settings.SETTLEMENT_WINDOW_SECONDS = 0
    from institutions.models import Corridor

    empty = windows.window_current(corridor=Corridor.objects.get(code="MY-PK"))
    assert close_due_windows() == 0  # nothing credited: stays open
    credited_order(corridor, "100.00")
    assert close_due_windows() == 1
    # (tests run tasks eagerly only after commit; close it as the worker would)
    empty.refresh_from_db()
    assert empty.status == WindowStatus.CLOSING
    windows.window_close(window_id=empty.pk)
    empty.refresh_from_db()
    assert empty.status == WindowStatus.CLOSED


def test_a_batch_of_credits_joins_the_window_once_each_with_exact_totals(
    network, my_pk, second_receiver
):
    """`window_orders_record` (a credit batch's hook): every order once, the running totals
    equal to the sum of the orders per aggregate row (one upsert for many orders of a
    stripe), and recording the same orders again changes nothing."""
    sender = network.partner.institution
    receivers = [network.tmb.institution, second_receiver]
    orders = [
        FakeOrder(
            sending_institution=sender,
            receiving_institution=receivers[n % len(receivers)],
            send_minor=10_000 + n,
            fee_minor=100 + n,
            receive_minor=630_000 + n,
            rate=Decimal("63.0"),
            corridor_id=my_pk.pk,
        )
        for n in range(24)
    ]
    added = windows.window_orders_record(orders=orders)
    assert len(added) == 24
    assert windows.window_orders_record(orders=orders[:5]) == []  # again: nothing changes
    rows = WindowOrder.objects.filter(order_id__in=[o.id for o in orders])
    assert rows.count() == 24 and {r.window_id for r in rows} == {current().pk}
    by_pair: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for aggregate in WindowAggregate.objects.filter(window=current()):
        pair = by_pair[(aggregate.sending_institution_id, aggregate.receiving_institution_id)]
        for n, value in enumerate(
            (
                aggregate.order_count,
                aggregate.send_minor,
                aggregate.fee_minor,
                aggregate.receive_minor,
            )
        ):
            pair[n] += value
    expected: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for o in orders:
        pair = expected[(o.sending_institution.pk, o.receiving_institution.pk)]
        for n, value in enumerate((1, o.send_minor, o.fee_minor, o.receive_minor)):
            pair[n] += value
    assert by_pair == expected


# --- settlement waits for the parties' witnesses ---------------------------------------------


def _cosign(member) -> None:
    import time

    from ledger.selectors.log import checkpoint_latest
    from ledger.services.log import cosignature_add
    from partner_sdk.note import cosign

    checkpoint = checkpoint_latest()
    line = cosign(
        checkpoint.body,
        name=member.code,
        private_key=member.private_key,
        timestamp=int(time.time()),
    )
    cosignature_add(
        institution=member.institution, checkpoint_text=checkpoint.body, cosignature_line=line
    )


def test_settlement_waits_until_every_party_cosigned_one_checkpoint_past_the_close(corridor):
    network = corridor.network
    credited_order(corridor, "1000.00")
    window = current()
    windows.window_close(window_id=window.pk)

    def refused(match: str) -> None:
        with pytest.raises(windows.WindowNotWitnessed, match=match) as caught:
            windows.window_settle(window_id=window.pk, settlement_rate="63.5")
        assert caught.value.code == "window_not_witnessed" and caught.value.status == 409
        window.refresh_from_db()
        assert window.status == WindowStatus.CLOSED  # nothing moved, nothing failed
        assert not Transfer.objects.filter(reference=f"window:{window.pk}").exists()

    refused("its close is not on the log yet")
    ledger_integrate()
    refused(r"PARTNER-MY, TMB-PK")  # on the log, but nobody has verified it
    _cosign(network.tmb)
    refused("every party")  # one of the two banks
    from ledger.services.log import statement_issue

    statement_issue(institution="HUB", kind="test.note", body={"n": 1})
    ledger_integrate()
    _cosign(network.partner)
    refused("every party")  # both, but not the same checkpoint: not the same tree verified
    _cosign(network.tmb)
    settled = windows.window_settle(window_id=window.pk, settlement_rate="63.5")
    assert settled.status == WindowStatus.SETTLED


def test_the_settle_task_defers_a_window_waiting_for_witnesses(corridor, monkeypatch):
    from settlement import tasks

    credited_order(corridor, "100.00")
    window = current()
    windows.window_close(window_id=window.pk)
    monkeypatch.setattr(tasks, "SETTLE_WITNESS_RETRIES", 2)
    # eager retries run at once (no countdown) and must not raise out of the test
    monkeypatch.setitem(tasks.settle_window.app.conf, "task_eager_propagates", False)
    result = tasks.settle_window.apply(args=(window.pk, "63.5"))
    assert result.get() == "waiting_for_witnesses"
    window.refresh_from_db()
    assert window.status == WindowStatus.CLOSED and window.failure_reason == ""
    witnesses_catch_up(corridor.network)
    assert tasks.settle_window.apply(args=(window.pk, "63.5")).get() == "settled"
