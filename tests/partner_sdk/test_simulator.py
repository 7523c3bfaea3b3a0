"""The partner-bank simulator as a real process on a free loopback port, fed signed webhooks
over HTTP, answering a (fake) hub through partner_sdk.client."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from partner_sdk import simulator
from tests.partner_sdk.test_client import Bank, FakeHub, problem

START_TIMEOUT = 15


class Sim:
    def __init__(self, proc: subprocess.Popen, url: str, book: Path, log: Path) -> None:
        self.proc, self.url, self.book_path, self.log = proc, url, book, log
        self.base = url.removesuffix("/webhooks")

    def book(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/book").json()

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/healthz").json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tmb() -> Bank:
    return Bank("TMB-PK", "rk_tmb_secret")


@pytest.fixture
def hub(tmb):
    fake = FakeHub(tmb, Bank("VALYOU-MY", "rk_valyou_secret"))
    yield fake
    fake.close()


@pytest.fixture
def start(hub, tmb, tmp_path):
    started: list[Sim] = []

    def start(*args: str) -> Sim:
        if "--catch-up-seconds" not in args:  # webhooks only, unless the test is about it
            args = (*args, "--catch-up-seconds", "0")
        credentials = tmp_path / "TMB-PK.json"
        credentials.write_text(json.dumps(tmb.credentials(hub)))
        book, log = tmp_path / "book.json", tmp_path / f"sim{len(started)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "partner_sdk.simulator", "--institution", "TMB-PK",
             "--port", "0", "--credentials", str(credentials), "--book", str(book), *args],
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )  # fmt: skip
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        if "listening on" not in line:
            proc.kill()
            pytest.fail(f"simulator did not start: {line!r}\n{log.read_text()}")
        started.append(Sim(proc, line.split("listening on ")[1].strip(), book, log))
        return started[-1]

    yield start
    for sim in started:
        sim.stop()


def send(
    sim: Sim,
    secret: str,
    data: dict[str, Any],
    *,
    event_type: str = "order.submitted",
    msg_id: str | None = None,
    timeout: float = 5,
) -> httpx.Response:
    """What the hub's sender does: a Standard Webhooks POST."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    payload = json.dumps(
        {"type": event_type, "timestamp": "2026-11-22T00:00:00.000Z", "data": data}
    )
    now = datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, payload),
        "content-type": "application/json",
    }
    return httpx.post(sim.url, content=payload, headers=headers, timeout=timeout)


def webhook_data(order: dict[str, Any]) -> dict[str, Any]:
    keys = ("sending_institution", "receiving_institution", "send_amount", "receive_amount",
            "beneficiary_kyc_ref", "status")  # fmt: skip
    return {
        "order_id": order["id"],
        **{k: order[k] for k in keys},
        "payout_method": "mobile_wallet",
    }


def eventually(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def steps(hub: FakeHub, order_id: str) -> list[str]:
    prefix = f"/api/v1/orders/{order_id}/"
    return [c.path.removeprefix(prefix) for c in hub.calls if c.path.startswith(prefix)]


def test_accepts_credits_and_books_an_order_exactly_once(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start()

    started = time.monotonic()
    first = send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_1")
    answered_in = time.monotonic() - started

    assert first.status_code == 200 and answered_in < 0.5  # the work happens off the handler
    assert eventually(lambda: sim.book()["credits"].get(order["id"], {}).get("confirmed"))
    assert hub.orders[order["id"]]["status"] == "credited"
    assert steps(hub, order["id"]) == ["accept", "credit"]
    (kyc,) = [c for c in hub.calls if c.path.startswith("/api/v1/kyc/")]
    assert kyc.path == "/api/v1/kyc/kyc_ben_1/access"  # asked, 404 tolerated
    assert kyc.body == {"purpose": "beneficiary_check", "order_ref": order["id"]}
    book = sim.book()
    entry = book["credits"][order["id"]]
    assert book["wallets"] == {"kyc_ben_1": "59120.00"}
    assert entry["payout_reference"].startswith("EP-")
    assert hub.orders[order["id"]]["payout_reference"] == entry["payout_reference"]
    assert [s["kind"] for s in hub.statements] == ["order.accepted", "order.credited"]

    calls = len(hub.calls)
    again = send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_1")
    replayed = send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_2")
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert replayed.status_code == 200
    time.sleep(0.3)
    assert len(hub.calls) == calls
    assert sim.book()["wallets"] == {"kyc_ben_1": "59120.00"}
    assert sim.health()["duplicates"] == 1

    sim.stop()
    on_disk = json.loads(sim.book_path.read_text())
    assert on_disk["wallets"] == {"kyc_ben_1": "59120.00"}


def test_after_a_crash_it_catches_up_with_orders_whose_webhook_it_had_answered(hub, tmb, start):
    """A webhook answered 200 is not sent again; if the bank died before acting on it (the
    chaos harness kills it with -9), the order would wait for its credit deadline. At start
    and every --catch-up-seconds the bank asks the hub for orders still waiting on it, and
    pays each at most once."""
    waiting = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    half_done = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK", status="accepted")
    not_ours = hub.add_order(sender="VALYOU-MY", receiver="OTHER-PK")
    sim = start("--catch-up-seconds", "1")
    assert eventually(lambda: all(
        sim.book()["credits"].get(o["id"], {}).get("confirmed") for o in (waiting, half_done)
    ))  # fmt: skip
    assert hub.orders[waiting["id"]]["status"] == "credited"
    assert hub.orders[half_done["id"]]["status"] == "credited"
    assert not steps(hub, not_ours["id"])
    time.sleep(1.5)  # another round finds nothing left to do
    assert steps(hub, waiting["id"]) == ["accept", "credit"]
    assert sim.book()["wallets"] == {"kyc_ben_1": "118240.00"}


def test_forged_and_unsigned_webhooks_are_401_and_do_nothing(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start()
    forger = "whsec_" + "A" * 32

    forged = send(sim, forger, webhook_data(order))
    tampered_body = webhook_data(order) | {"receive_amount": {"amount": "1.00", "currency": "PKR"}}
    good = json.dumps({"type": "order.submitted", "data": webhook_data(order)})
    now = datetime.now(UTC)
    signature = Webhook(tmb.webhook_secret).sign("msg_t", now, good)
    tampered = httpx.post(
        sim.url,
        content=json.dumps({"type": "order.submitted", "data": tampered_body}),
        headers={"webhook-id": "msg_t", "webhook-timestamp": str(int(now.timestamp())),
                 "webhook-signature": signature},
    )  # fmt: skip
    unsigned = httpx.post(sim.url, json={"type": "order.submitted", "data": webhook_data(order)})
    stale = httpx.post(
        sim.url,
        content=good,
        headers={"webhook-id": "msg_old", "webhook-timestamp": "1000000000",
                 "webhook-signature": Webhook(tmb.webhook_secret).sign(
                     "msg_old", datetime.fromtimestamp(1_000_000_000, UTC), good)},
    )  # fmt: skip

    assert [r.status_code for r in (forged, tampered, unsigned, stale)] == [401] * 4
    time.sleep(0.3)
    assert hub.calls == []
    assert sim.health()["forged"] == 4
    assert httpx.get(f"{sim.base}/nope").status_code == 404


def test_reject_rate_one_rejects_with_the_reason_code(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start("--reject-rate", "1.0", "--no-kyc-check")

    assert send(sim, tmb.webhook_secret, webhook_data(order)).status_code == 200

    assert eventually(lambda: hub.orders[order["id"]]["status"] == "rejected")
    assert hub.orders[order["id"]]["reason_code"] == "beneficiary_check_failed"
    assert hub.statements[-1]["body"] == {
        "order_id": order["id"],
        "reason_code": "beneficiary_check_failed",
    }
    assert not [c for c in hub.calls if c.path.startswith("/api/v1/kyc/")]
    assert eventually(lambda: order["id"] in sim.book()["rejected"])
    assert sim.book()["wallets"] == {}


def test_an_erased_beneficiary_record_fails_the_check(hub, tmb, start):
    hub.kyc_answer = problem(410, "kyc_record_erased", "erased")
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start()

    send(sim, tmb.webhook_secret, webhook_data(order))

    assert eventually(lambda: hub.orders[order["id"]]["status"] == "rejected")
    assert sim.book()["wallets"] == {}


def test_orders_for_other_banks_and_other_events_are_acknowledged_and_ignored(hub, tmb, start):
    theirs = hub.add_order(sender="VALYOU-MY", receiver="OTHER-PK")
    ours = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK", status="credited")
    sim = start()

    assert send(sim, tmb.webhook_secret, webhook_data(theirs)).status_code == 200
    credited = webhook_data(ours) | {"status": "credited"}
    assert send(sim, tmb.webhook_secret, credited, event_type="order.credited").status_code == 200

    time.sleep(0.3)
    assert hub.calls == []


def test_http500_mode_makes_the_sender_retry_and_acts_once(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    # Seed 1 draws 0.13 then 0.85: the first delivery fails, the retry goes through.
    sim = start("--fail-mode", "http500", "--fail-rate", "0.5", "--seed", "1")

    statuses = []
    for _ in range(5):
        statuses.append(
            send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_r").status_code
        )
        if statuses[-1] == 200:
            break

    assert statuses == [500, 200]
    assert eventually(lambda: hub.orders[order["id"]]["status"] == "credited")
    assert steps(hub, order["id"]) == ["accept", "credit"]
    assert sim.health()["failed_on_purpose"] == 1


def test_timeout_mode_acts_once_although_the_sender_gives_up(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start("--fail-mode", "timeout", "--fail-rate", "1.0", "--timeout-seconds", "1.0")

    with pytest.raises(httpx.ReadTimeout):
        send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_to", timeout=0.3)
    retry = send(sim, tmb.webhook_secret, webhook_data(order), msg_id="msg_to", timeout=0.3)

    assert retry.status_code == 200 and retry.json() == {"status": "duplicate"}
    assert eventually(lambda: hub.orders[order["id"]]["status"] == "credited")
    assert steps(hub, order["id"]) == ["accept", "credit"]


def test_duplicate_mode_answers_twice_and_nothing_moves_twice(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start("--fail-mode", "duplicate", "--fail-rate", "1.0")

    send(sim, tmb.webhook_secret, webhook_data(order))

    assert eventually(lambda: len(steps(hub, order["id"])) == 4)
    assert steps(hub, order["id"]) == ["accept", "accept", "credit", "credit"]
    keys = [c.headers["idempotency-key"] for c in hub.calls if c.path.startswith("/api/v1/orders/")]
    assert len(set(keys)) == 4  # real second calls, not retries the hub could replay
    assert hub.orders[order["id"]]["status"] == "credited"
    assert eventually(lambda: sim.book()["credits"].get(order["id"], {}).get("confirmed"))
    assert sim.book()["wallets"] == {"kyc_ben_1": "59120.00"}
    assert [s["kind"] for s in hub.statements] == ["order.accepted", "order.credited"]


def test_register_webhook_registers_its_url_and_trusts_the_new_secret(hub, tmb, start):
    order = hub.add_order(sender="VALYOU-MY", receiver="TMB-PK")
    sim = start("--register-webhook")

    assert eventually(lambda: len(hub.webhook_secrets) == 1)
    assert [e["url"] for e in hub.webhooks] == [sim.url]
    assert send(sim, hub.webhook_secrets[0], webhook_data(order)).status_code == 200
    assert eventually(lambda: hub.orders[order["id"]]["status"] == "credited")


def test_the_command_line_refuses_nonsense():
    with pytest.raises(SystemExit):
        simulator._parser().parse_args(
            ["--institution", "X", "--credentials", "c", "--reject-rate", "2"]
        )
    with pytest.raises(SystemExit):
        simulator._parser().parse_args(
            ["--institution", "X", "--credentials", "c", "--fail-mode", "explode"]
        )
