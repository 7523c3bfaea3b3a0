"""End to end over real HTTP: the hub (live server), a real Celery worker on Redis, and the
partner-bank simulator as its own process. PARTNER-MY quotes and submits through the API;
the hub notifies TMB-PK by webhook; the simulator accepts and credits over HTTP; balances are
posted and the log verifies. PostgreSQL only (a live server needs a transactional test)."""

from __future__ import annotations

import base64
import json
import socket
import sys
import uuid

import pytest
from django.core.management import call_command

from ledger.models import Account, QueuedStatement
from partner_sdk.client import HubClient
from remittance.models import RemittanceOrder
from tests.conftest import celery_worker_args, requires_postgres, spawn, stop, wait_for
from webhooks import services as hooks

pytestmark = [pytest.mark.postgres, requires_postgres]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, seconds: float = 45.0) -> bool:
    return wait_for(predicate, seconds, interval=0.2)


@pytest.fixture
def stack(request, live_server, corridor, tmp_path, real_celery):
    extra = getattr(request, "param", [])
    network = corridor.network
    port = _free_port()
    _endpoint, secret = hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url=f"http://127.0.0.1:{port}/webhooks"
    )
    credentials = tmp_path / "TMB-PK.json"
    credentials.write_text(
        json.dumps(
            {
                "institution": "TMB-PK",
                "hub_url": live_server.url,
                "api_key": network.tmb.api_key,
                "signing_key": base64.b64encode(
                    network.tmb.private_key.private_bytes_raw()
                ).decode(),
                "key_id": network.tmb.key_id,
                "webhook_secret": secret,
            }
        )
    )
    procs = [
        spawn(
            celery_worker_args(
                "--pool",
                "threads",
                "--concurrency",
                "4",
                # beat drives webhook retries and the integration safety net
                "--beat",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            )
        ),
        spawn(
            [
                sys.executable,
                "-m",
                "partner_sdk.simulator",
                "--institution",
                "TMB-PK",
                "--port",
                str(port),
                "--credentials",
                str(credentials),
                "--book",
                str(tmp_path / "book.json"),
                "--no-kyc-check",
                "--log-level",
                "WARNING",
                *extra,
            ]
        ),
    ]
    partner = HubClient(
        live_server.url,
        network.partner.api_key,
        institution="PARTNER-MY",
        signing_key=network.partner.private_key,
        key_id=network.partner.key_id,
    )
    try:
        yield corridor, partner, port
    finally:
        partner.close()
        stop(*procs)


@pytest.mark.django_db(transaction=True)
def test_quote_order_webhook_accept_credit_over_http_with_worker_and_simulator(stack):
    corridor, partner, port = stack
    import httpx

    assert _wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 30), "simulator did not start"
    orders = []
    for amount in ("1000.00", "250.50"):
        quote = partner.create_quote(send_amount={"amount": amount, "currency": "MYR"})
        order_id = str(uuid.uuid4())
        created = partner.submit_order(
            order_id=order_id,
            quote=quote,  # sign the amounts and rate too
            quote_id=quote["id"],
            sender_kyc_ref=corridor.sender_ref,
            beneficiary_kyc_ref=corridor.beneficiary_ref,
        )
        assert created["status"] == "submitted"
        orders.append((order_id, quote))

    def all_credited() -> bool:
        return all(partner.get_order(oid)["status"] == "credited" for oid, _ in orders)

    assert _wait(all_credited, 60), [partner.get_order(oid)["status"] for oid, _ in orders]
    for order_id, quote in orders:
        order = partner.get_order(order_id)
        assert order["receive_amount"] == quote["receive_amount"]
        assert order["payout_reference"]
    # money: reservations posted, receiving bank's PKR position holds both payouts
    prefund = Account.objects.get(code="prefund:PARTNER-MY:MYR")
    assert prefund.debits_pending == 0
    assert prefund.debits_posted == 101_000 + 25_050 + 500 + 125  # sends + fees (5.00+0.5%)
    tmb = Account.objects.get(code="position:TMB-PK:PKR")
    assert tmb.credits_posted == 6_286_500 + 1_574_768
    # the simulator's own book shows the beneficiary paid, once per order
    book = httpx.get(f"http://127.0.0.1:{port}/book", timeout=5).json()
    assert book["wallets"] == {corridor.beneficiary_ref: "78612.68"}  # 62,865.00 + 15,747.68
    assert sorted(book["credits"]) == sorted(oid for oid, _ in orders)
    # the worker sequenced everything; the log verifies and replays
    assert _wait(lambda: not QueuedStatement.objects.exists(), 30)
    call_command("ledger", "verify")
    call_command("ledger", "replay")
    assert RemittanceOrder.objects.filter(status="credited").count() == 2


def _up(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    "stack",
    [
        ["--fail-mode", "duplicate", "--fail-rate", "1"],
        ["--reject-rate", "1"],
    ],
    indirect=True,
    ids=["duplicate-answers", "rejects"],
)
@pytest.mark.django_db(transaction=True)
def test_simulator_failure_modes_never_move_money_twice(stack):
    corridor, partner, port = stack
    assert _wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 30), "simulator did not start"
    quote = partner.create_quote(send_amount={"amount": "1000.00", "currency": "MYR"})
    order_id = str(uuid.uuid4())
    partner.submit_order(
        order_id=order_id,
        quote_id=quote["id"],
        sender_kyc_ref=corridor.sender_ref,
        beneficiary_kyc_ref=corridor.beneficiary_ref,
    )
    final = {"credited", "refunded"}
    assert _wait(lambda: partner.get_order(order_id)["status"] in final, 60)
    status = partner.get_order(order_id)["status"]
    prefund = Account.objects.get(code="prefund:PARTNER-MY:MYR")
    assert prefund.debits_pending == 0
    if status == "credited":
        assert prefund.debits_posted == 101_000  # once, however many answers arrived
        assert Account.objects.get(code="position:TMB-PK:PKR").credits_posted == 6_286_500
    else:
        assert prefund.debits_posted == 0
        assert partner.get_order(order_id)["reason_code"] == "beneficiary_check_failed"
    assert _wait(lambda: not QueuedStatement.objects.exists(), 30)
    call_command("ledger", "verify")
    call_command("ledger", "replay")


@pytest.mark.parametrize(
    "stack", [["--fail-mode", "http500", "--fail-rate", "1"]], indirect=True, ids=["webhook-500s"]
)
@pytest.mark.django_db(transaction=True)
def test_a_bank_answering_500_gets_the_same_webhook_again_and_nothing_moves(stack):
    from webhooks.models import WebhookAttempt, WebhookDelivery

    corridor, partner, port = stack
    assert _wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 30), "simulator did not start"
    quote = partner.create_quote(send_amount={"amount": "1000.00", "currency": "MYR"})
    order_id = str(uuid.uuid4())
    partner.submit_order(
        order_id=order_id,
        quote_id=quote["id"],
        sender_kyc_ref=corridor.sender_ref,
        beneficiary_kyc_ref=corridor.beneficiary_ref,
    )
    delivery = WebhookDelivery.objects.get(event_type="order.submitted")
    # first attempt at once, the retry 5 s later (+ jitter), same webhook-id each time
    assert _wait(lambda: WebhookAttempt.objects.filter(delivery=delivery).count() >= 2, 30)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempt_count >= 2
    assert set(
        WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)
    ) == {500}
    assert partner.get_order(order_id)["status"] == "submitted"
    prefund = Account.objects.get(code="prefund:PARTNER-MY:MYR")
    assert (prefund.debits_pending, prefund.debits_posted) == (101_000, 0)
