"""Idempotency-Key on order submits and answers, claimed inside the batch's own transaction
(institutions/idempotency.py `Claim`): the key's record commits with the order or not at all,
a refusal is stored and replayed like a success, and concurrent requests with one key get one
order between them."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import pytest
from django.db import connection

from institutions.idempotency import Claim, IdempotencyRecord, Replay
from ledger.models import Account
from remittance.models import RemittanceOrder
from remittance.services.orders import answers as order_answers
from remittance.services.orders import batch as order_batch
from remittance.services.orders import orders_answer, orders_submit
from tests.conftest import requires_postgres

from .conftest import signed
from .test_answer_batch import accept_request, submitted_orders
from .test_orders_api import balance, order_body, post, quote
from .test_submit_batch import partner_quote, partner_request

ORDERS = "/api/v1/orders"


@pytest.mark.django_db
def test_a_refused_submit_is_stored_and_replayed_even_after_its_cause_is_gone(corridor):
    partner = corridor.network.partner
    Account.objects.filter(code="prefund:PARTNER-MY:MYR").update(
        debits_must_not_exceed_credits=True, credits_posted=0
    )
    body = order_body(corridor, quote(corridor))
    refused = post(partner, ORDERS, body, key="k-funds")
    assert refused.status_code == 422 and refused.json()["code"] == "insufficient_funds"
    record = IdempotencyRecord.objects.get(key="k-funds")
    assert record.response_status == 422 and record.completed_at is not None

    Account.objects.filter(code="prefund:PARTNER-MY:MYR").update(credits_posted=10_000_000)
    replay = post(partner, ORDERS, body, key="k-funds")
    assert replay.status_code == 422 and replay["Idempotent-Replayed"] == "true"
    assert replay["content-type"].startswith("application/problem+json")
    assert replay.json() == refused.json()
    # a new key is a new request: judged again, and now it goes through
    assert post(partner, ORDERS, body, key="k-funds-2").status_code == 201
    assert RemittanceOrder.objects.count() == 1


@pytest.mark.django_db
def test_a_submit_stores_its_key_with_the_order_it_created(corridor):
    partner = corridor.network.partner
    first = post(partner, ORDERS, order_body(corridor, quote(corridor)), key="k-ok")
    assert first.status_code == 201
    record = IdempotencyRecord.objects.get(key="k-ok")
    assert (record.actor, record.response_status) == ("institution:PARTNER-MY", 201)
    assert record.response_body == first.json()


@pytest.mark.django_db
def test_one_key_twice_in_one_batch_runs_the_first_only(corridor):
    def claim(body: str) -> Claim:
        return Claim(
            actor="institution:PARTNER-MY",
            key="same",
            request_hash=body,
            respond=lambda result: (201, {"id": str(getattr(result, "pk", ""))}),
        )

    one = partner_request(corridor, partner_quote(corridor))
    other = partner_request(corridor, partner_quote(corridor))
    retry = partner_request(corridor, partner_quote(corridor))
    answers = orders_submit(
        [
            replace(one, claim=claim("a")),
            replace(other, claim=claim("b")),
            replace(retry, claim=claim("a")),
        ]
    )
    assert isinstance(answers[0], RemittanceOrder)
    assert getattr(answers[1], "code", None) == "idempotency_key_reused"
    assert getattr(answers[2], "code", None) == "request_in_progress"
    assert RemittanceOrder.objects.count() == 1
    # the same key afterwards answers what the first got
    again = orders_submit([replace(retry, claim=claim("a"))])[0]
    assert isinstance(again, Replay) and again.body == {"id": str(answers[0].pk)}
    assert RemittanceOrder.objects.count() == 1


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_order(corridor):
    """Real threads through the API (each its own connection, through the group commit):
    the same body under one key from 6 threads, and 6 different bodies under another key.
    One order per key; the others replay it or are told the key is taken."""
    partner = corridor.network.partner
    same_body = order_body(corridor, quote(corridor))
    other_bodies = [order_body(corridor, quote(corridor)) for _ in range(6)]
    statuses: dict[str, list[tuple[int, str]]] = {"same": [], "other": []}
    lock = threading.Lock()
    start = threading.Barrier(12)

    def send(label: str, body: dict, key: str) -> None:
        try:
            start.wait()
            response = post(partner, ORDERS, body, key=key)
            if response.status_code >= 400:
                outcome = response.json()["code"]
            else:
                outcome = "replayed" if response.has_header("Idempotent-Replayed") else "created"
            with lock:
                statuses[label].append((response.status_code, outcome))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=("same", same_body, "k-same")) for _ in range(6)]
    threads += [threading.Thread(target=send, args=("other", b, "k-other")) for b in other_bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    same_orders = RemittanceOrder.objects.filter(pk=same_body["order_id"]).count()
    other_orders = RemittanceOrder.objects.filter(
        pk__in=[b["order_id"] for b in other_bodies]
    ).count()
    assert (same_orders, other_orders) == (1, 1)
    # the same body: every answer is the order (created once, replayed) or "in progress"
    assert all(
        status == 201 or (status == 409 and code == "request_in_progress")
        for status, code in statuses["same"]
    ), statuses["same"]
    assert sum(1 for status, _ in statuses["same"] if status == 201) >= 1
    # other bodies under one key: one created, the rest refused with a 409
    created = [s for s, _ in statuses["other"] if s == 201]
    assert len(created) == 1, statuses["other"]
    assert all(s == 409 for s, _ in statuses["other"] if s != 201), statuses["other"]
    assert IdempotencyRecord.objects.filter(key__in=["k-same", "k-other"]).count() == 2
    two_orders_reserved = 10_000_000, 2 * 101_000
    assert balance("prefund:PARTNER-MY:MYR") == two_orders_reserved


@pytest.mark.django_db
def test_retried_accepts_and_credits_replay_their_first_answer_and_move_money_once(corridor):
    tmb = corridor.network.tmb
    q = quote(corridor)
    order_id = order_body(corridor, q)["order_id"]
    assert post(corridor.network.partner, ORDERS, order_body(corridor, q, order_id)).status_code
    accept_body = signed(tmb, "order.accepted", {"order_id": order_id})
    accept_url = f"{ORDERS}/{order_id}/accept"
    accepted = post(tmb, accept_url, accept_body, key="acc-1")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

    credit_fields = {"payout_reference": "EP-9", "receive_amount": q["receive_amount"]}
    credit_body = {
        **credit_fields,
        **signed(tmb, "order.credited", {"order_id": order_id, **credit_fields}),
    }
    credit_url = f"{ORDERS}/{order_id}/credit"
    credited = post(tmb, credit_url, credit_body, key="cred-1")
    assert credited.status_code == 200 and credited.json()["status"] == "credited"
    after_credit = balance("position:TMB-PK:PKR")

    again = post(tmb, credit_url, credit_body, key="cred-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == credited.json()
    # the first accept's answer, not "already credited": a retry learns what it was told
    late = post(tmb, accept_url, accept_body, key="acc-1")
    assert late["Idempotent-Replayed"] == "true" and late.json() == accepted.json()
    # without the key's record the same credit is a duplicate answer: 409, nothing moves
    duplicate = post(tmb, credit_url, credit_body, key="cred-2")
    assert duplicate.status_code == 409
    assert balance("position:TMB-PK:PKR") == after_credit
    reused = post(tmb, accept_url, credit_body, key="cred-1")
    assert reused.status_code in (400, 409)
    assert IdempotencyRecord.objects.filter(key__in=["acc-1", "cred-1"]).count() == 2


@pytest.mark.django_db
def test_a_retry_that_missed_its_first_attempt_commit_answers_that_order(corridor, monkeypatch):
    """The first attempt commits between the retry's read of stored order ids and its quote
    lock (another batch, another process): the retry answers the stored order, not
    `quote_used`. The interleaving is made deterministic by hiding the order from that read."""
    request = partner_request(corridor, partner_quote(corridor))
    [first] = orders_submit([request])
    real_in_bulk = RemittanceOrder.objects.in_bulk
    hidden: list[bool] = []

    def in_bulk_before_the_commit(ids, *args, **kwargs):
        if not hidden:
            hidden.append(True)
            return {}
        return real_in_bulk(ids, *args, **kwargs)

    monkeypatch.setattr(RemittanceOrder.objects, "in_bulk", in_bulk_before_the_commit)
    [retry] = orders_submit([request])
    assert hidden, "the interleaving did not happen; the test would prove nothing"
    assert isinstance(retry, RemittanceOrder) and retry.pk == first.pk
    other = replace(request, order_id=uuid.uuid4())  # the same quote for another order
    hidden.clear()
    [refused] = orders_submit([other])
    assert getattr(refused, "code", None) == "quote_used"
    assert RemittanceOrder.objects.count() == 1


# --- found in review: keys read before a concurrent first attempt committed ------------------


def _accept_claim(key: str) -> Claim:
    return Claim(
        actor="institution:TMB-PK",
        key=key,
        request_hash="h-" + key,
        respond=lambda r: (
            r.status if isinstance(r, Exception) else 200,
            {"id": str(getattr(r, "pk", ""))},
        ),
    )


@pytest.mark.django_db
def test_a_lone_retry_that_read_its_key_before_the_first_commit_replays(corridor, monkeypatch):
    """The retry's batch changes nothing (the first attempt accepted the order while it waited
    for the lock), so its own answer would be "already accepted": it answers the first
    attempt's stored answer instead. Deterministic: the retry's first key read sees nothing."""
    [order] = submitted_orders(corridor, "100.00")
    request = replace(accept_request(order, corridor.network.tmb), claim=_accept_claim("acc-K"))
    [first] = orders_answer([request])
    assert first.status == "accepted"
    real = order_batch.claims_resolve
    calls: list[int] = []

    def before_the_commit(claims):
        calls.append(1)
        return [None] * len(claims) if len(calls) == 1 else real(claims)

    monkeypatch.setattr(order_batch, "claims_resolve", before_the_commit)
    [alone] = orders_answer([request])
    assert calls, "the interleaving did not happen"
    assert isinstance(alone, Replay), f"got {type(alone).__name__}: {alone}"
    assert alone.body == {"id": str(order.pk)}


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_from_another_process_waiting_on_the_order_lock_replays(corridor, monkeypatch):
    """Real threads: A holds the order's lock; B (same key, same body) has read the keys and
    waits for the lock; when A commits, B answers A's answer, not a 409."""
    [order] = submitted_orders(corridor, "100.00")
    request = replace(accept_request(order, corridor.network.tmb), claim=_accept_claim("acc-T"))
    real_write = order_answers._write
    go = threading.Event()

    def slow_write(answered):
        real_write(answered)
        if threading.current_thread().name == "A":
            go.wait(10)

    monkeypatch.setattr(order_answers, "_write", slow_write)
    out: dict[str, object] = {}

    def run(name):
        try:
            out[name] = orders_answer([request])[0]
        except BaseException as exc:
            out[name] = exc
        finally:
            connection.close()

    a = threading.Thread(target=run, args=("A",), name="A")
    a.start()
    time.sleep(0.5)
    b = threading.Thread(target=run, args=("B",), name="B")
    b.start()
    time.sleep(0.5)  # B has read the keys and waits on the order's row lock
    go.set()
    a.join(20)
    b.join(20)
    assert getattr(out["A"], "status", None) == "accepted"
    assert isinstance(out["B"], Replay), f"B got {type(out['B']).__name__}: {out['B']}"


@pytest.mark.django_db
def test_a_key_twice_in_a_batch_whose_first_is_refused_by_the_ledger(corridor):
    """X (key K) is refused at the write stage and the batch runs again without it: X's key
    still decides for Y (another body under K), which stays `idempotency_key_reused`."""
    Account.objects.filter(code="prefund:PARTNER-MY:MYR").update(
        debits_must_not_exceed_credits=True,
        credits_posted=50_000,  # RM 500.00
    )

    def claim(body: str) -> Claim:
        return Claim(
            actor="institution:PARTNER-MY",
            key="K",
            request_hash=body,
            respond=lambda r: (r.status if isinstance(r, Exception) else 201, {}),
        )

    x = replace(partner_request(corridor, partner_quote(corridor, "1000.00")), claim=claim("a"))
    y = replace(partner_request(corridor, partner_quote(corridor, "100.00")), claim=claim("b"))
    answers = orders_submit([x, y])
    assert [getattr(a, "code", a) for a in answers] == [
        "insufficient_funds",
        "idempotency_key_reused",
    ]
    assert RemittanceOrder.objects.count() == 0
    assert IdempotencyRecord.objects.get(key="K").response_status == 422
