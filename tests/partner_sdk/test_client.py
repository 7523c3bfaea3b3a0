"""partner_sdk.client against a hub over real HTTP on loopback.

`FakeHub` implements just enough of the partner API contract (quotes, orders and their signed
steps, idempotency, problem JSON, webhook endpoints) to hold the client to it; it verifies
every statement the client signs with partner_sdk.wire, as the real hub does. The last test
runs the client against the real hub (Django's live server) for the APIs that already exist.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from partner_sdk import client as sdk
from partner_sdk.client import HubClient, HubError
from partner_sdk.wire import (
    decode_b64,
    key_id,
    parse_time,
    raw_public_key,
    verify_statement,
)
from tests.conftest import requires_postgres

# --- a fake hub --------------------------------------------------------------------------


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default 5 drops SYNs under a burst


@dataclass
class Bank:
    code: str
    api_key: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    webhook_secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(uuid.uuid4().bytes * 2).decode()
    )

    @property
    def key_id(self) -> str:
        return key_id(raw_public_key(self.private_key))

    def client(self, hub: FakeHub, **kwargs: Any) -> HubClient:
        return HubClient(
            hub.url,
            self.api_key,
            institution=self.code,
            signing_key=self.private_key,
            key_id=self.key_id,
            **kwargs,
        )

    def credentials(self, hub: FakeHub) -> dict[str, str]:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {
            "institution": self.code,
            "hub_url": hub.url,
            "api_key": self.api_key,
            "signing_key": base64.b64encode(raw).decode(),
            "key_id": self.key_id,
            "webhook_secret": self.webhook_secret,
        }


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


def problem(status: int, code: str, detail: str = "") -> tuple[int, dict]:
    return status, {"type": f"https://docs.remit.example/problems/{code}", "title": code,
                    "status": status, "code": code, "detail": detail or code}  # fmt: skip


NEXT_STATE = {"accept": ("submitted", "accepted"), "credit": ("accepted", "credited"),
              "reject": ("submitted", "rejected")}  # fmt: skip
SIGNED_KIND = {"accept": "order.accepted", "credit": "order.credited", "reject": "order.rejected"}


class FakeHub:
    """The hub's partner API as the lead specified it, in memory, over real HTTP.

    `script[(method, path)]` holds canned answers `(status, body, delay_seconds, headers)`
    served (and consumed) before the real behaviour, to inject 5xx, 429 and slow answers."""

    def __init__(self, *banks: Bank) -> None:
        self.banks = {b.api_key: b for b in banks}
        self.by_code = {b.code: b for b in banks}
        self.calls: list[Call] = []
        self.script: dict[tuple[str, str], list[tuple[int, Any, float, dict]]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.quotes: dict[str, dict[str, Any]] = {}
        self.statements: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.webhook_secrets: list[str] = []
        self.kyc_answer: tuple[int, dict] = problem(404, "not_found", "no such KYC record")
        self._idem: dict[tuple[str, str], tuple[str, int, Any]] = {}
        self.lock = threading.RLock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = hub.handle(method, self.path, self.headers, raw)
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                kind = "text/plain" if isinstance(body, str) else "application/json"
                if status >= 400 and not isinstance(body, str):
                    kind = "application/problem+json"
                try:
                    self.send_response(status)
                    self.send_header("content-type", kind)
                    self.send_header("content-length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    def add_order(self, *, sender: str, receiver: str, **overrides: Any) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        order = {
            "id": overrides.pop("id", f"ord_{uuid.uuid4().hex[:12]}"),
            "status": "submitted",
            "sending_institution": sender,
            "receiving_institution": receiver,
            "send_amount": {"amount": "1000.00", "currency": "MYR"},
            "fee": {"amount": "10.00", "currency": "MYR"},
            "receive_amount": {"amount": "59120.00", "currency": "PKR"},
            "rate": "59.12",
            "sender_kyc_ref": "kyc_sender_1",
            "beneficiary_kyc_ref": "kyc_ben_1",
            "payout_reference": None,
            "reason_code": None,
            "created_at": now,
            "updated_at": now,
            **overrides,
        }
        with self.lock:
            self.orders[order["id"]] = order
        return order

    # --- request handling ---

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any, dict]:
        split = urlsplit(target)
        body = json.loads(raw) if raw else None
        call = Call(method, split.path, parse_qs(split.query),
                    {k.lower(): v for k, v in headers.items()}, body)  # fmt: skip
        with self.lock:
            self.calls.append(call)
            canned = self.script.get((method, split.path))
            if canned:
                status, answer, delay, extra = canned.pop(0)
            else:
                canned = None
        if canned is not None:
            time.sleep(delay)
            return status, answer, extra
        if split.path == "/api/v1/ledger/checkpoint":
            return 200, "fake/log\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n", {}
        auth = call.headers.get("authorization", "")
        bank = self.banks.get(auth.removeprefix("Bearer "))
        if bank is None:
            return (*problem(401, "not_authenticated"), {})
        if method != "POST":
            return (*self.route(method, split.path, call, bank), {})
        key = call.headers.get("idempotency-key")
        if not key:
            return (*problem(400, "idempotency_key_required"), {})
        digest = hashlib.sha256(f"{split.path}\n{raw.decode()}".encode()).hexdigest()
        with self.lock:
            seen = self._idem.get((bank.code, key))
            if seen is not None:
                if seen[0] != digest:
                    return (*problem(409, "idempotency_key_reused"), {})
                return seen[1], seen[2], {"idempotent-replayed": "true"}
            status, answer = self.route(method, split.path, call, bank)
            if status < 500:
                self._idem[(bank.code, key)] = (digest, status, answer)
        return status, answer, {}

    def route(self, method: str, path: str, call: Call, bank: Bank) -> tuple[int, Any]:
        with self.lock:
            if (method, path) == ("POST", "/api/v1/quotes"):
                return self.quote_create(call.body)
            if m := re.fullmatch(r"/api/v1/quotes/([\w-]+)", path):
                quote = self.quotes.get(m[1])
                return (200, quote) if quote else problem(404, "not_found")
            if (method, path) == ("POST", "/api/v1/orders"):
                return self.order_submit(call.body, bank)
            if (method, path) == ("GET", "/api/v1/orders"):
                return self.orders_page(call.query, bank)
            if m := re.fullmatch(r"/api/v1/orders/([\w-]+)", path):
                order = self.visible(m[1], bank)
                return (200, order) if order else problem(404, "not_found")
            if m := re.fullmatch(r"/api/v1/orders/([\w-]+)/(accept|reject|credit)", path):
                return self.order_step(m[1], m[2], call.body, bank)
            if re.fullmatch(r"/api/v1/kyc/[\w-]+/access", path):
                return self.kyc_answer
            if (method, path) == ("POST", "/api/v1/webhook-endpoints"):
                endpoint = {
                    "id": len(self.webhooks) + 1,
                    "url": call.body["url"],
                    "event_types": call.body.get("event_types", []),
                    "enabled": True,
                }
                self.webhooks.append(endpoint)
                secret = "whsec_" + base64.b64encode(uuid.uuid4().bytes * 2).decode()
                self.webhook_secrets.append(secret)
                return 201, {**endpoint, "secret": secret}
            if (method, path) == ("GET", "/api/v1/webhook-endpoints"):
                return 200, {"results": self.webhooks, "next": None}
        return problem(404, "not_found")

    def quote_create(self, body: dict) -> tuple[int, Any]:
        if ("send_amount" in body) == ("receive_amount" in body):
            return problem(400, "validation_error", "send_amount or receive_amount")
        send = body.get("send_amount") or {"amount": "1000.00", "currency": "MYR"}
        quote = {
            "id": f"q_{uuid.uuid4().hex[:12]}",
            "corridor": body["corridor"],
            "payout_method": body["payout_method"],
            "send_amount": send,
            "receive_amount": body.get("receive_amount")
            or {"amount": "59120.00", "currency": "PKR"},
            "rate": "59.12",
            "fee": {"amount": "10.00", "currency": "MYR"},
            "total_to_pay": {"amount": "1010.00", "currency": "MYR"},
            "expires_at": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        }
        self.quotes[quote["id"]] = quote
        return 201, quote

    def verify(self, body: dict, bank: Bank, kind: str, facts: dict) -> tuple[int, Any] | None:
        """None if `body` carries a statement `bank` signed for exactly `facts`."""
        statement, signature = body.get("statement"), body.get("signature")
        if not isinstance(statement, dict) or not isinstance(signature, str):
            return problem(400, "validation_error", "statement and signature required")
        if statement.get("signer") != bank.code or statement.get("key_id") != bank.key_id:
            return problem(400, "invalid_signature", "not signed by the caller's key")
        if not verify_statement(raw_public_key(bank.private_key), statement, decode_b64(signature)):
            return problem(400, "invalid_signature", "signature does not verify")
        if statement.get("kind") != kind or statement.get("body") != facts:
            return problem(400, "statement_mismatch", "statement does not match the request")
        return None

    def order_submit(self, body: dict, bank: Bank) -> tuple[int, Any]:
        facts = {k: body.get(k) for k in ("order_id", "quote_id", "sender_kyc_ref",
                                          "beneficiary_kyc_ref")}  # fmt: skip
        refused = self.verify(body, bank, "order.submitted", facts)
        if refused:
            return refused
        if body["quote_id"] not in self.quotes:
            return problem(404, "not_found", "no such quote")
        if body["order_id"] in self.orders:
            return problem(409, "conflict", "order id already used")
        self.statements.append(body["statement"])
        quote = self.quotes[body["quote_id"]]
        order = self.add_order(
            id=body["order_id"], sender=bank.code, receiver="TMB-PK",
            sender_kyc_ref=body["sender_kyc_ref"], beneficiary_kyc_ref=body["beneficiary_kyc_ref"],
            send_amount=quote["send_amount"], receive_amount=quote["receive_amount"],
        )  # fmt: skip
        return 201, order

    def visible(self, order_id: str, bank: Bank) -> dict | None:
        order = self.orders.get(order_id)
        if order and bank.code in (order["sending_institution"], order["receiving_institution"]):
            return order
        return None

    def orders_page(self, query: dict, bank: Bank) -> tuple[int, Any]:
        mine = [o for o in self.orders.values() if self.visible(o["id"], bank)]
        if query.get("status"):
            mine = [o for o in mine if o["status"] == query["status"][0]]
        start = int(query.get("cursor", ["0"])[0])
        page = mine[start : start + 2]
        return 200, {"results": page, "next": str(start + 2) if start + 2 < len(mine) else None}

    def order_step(self, order_id: str, step: str, body: dict, bank: Bank) -> tuple[int, Any]:
        order = self.visible(order_id, bank)
        if order is None:
            return problem(404, "not_found")
        if bank.code != order["receiving_institution"]:
            return problem(403, "permission_denied", "only the receiving institution answers")
        facts: dict[str, Any] = {"order_id": order_id}
        if step == "reject":
            facts["reason_code"] = body.get("reason_code")
        if step == "credit":
            facts.update(payout_reference=body.get("payout_reference"),
                         receive_amount=body.get("receive_amount"))  # fmt: skip
        refused = self.verify(body, bank, SIGNED_KIND[step], facts)
        if refused:
            return refused
        before, after = NEXT_STATE[step]
        if order["status"] != before:
            return problem(409, "conflict", f"order is {order['status']}; cannot {step}")
        if step == "credit" and body["receive_amount"] != order["receive_amount"]:
            return problem(400, "amount_mismatch")
        order["status"] = after
        self.statements.append(body["statement"])  # on the log only when the step happened
        order["updated_at"] = datetime.now(UTC).isoformat()
        if step == "credit":
            order["payout_reference"] = body["payout_reference"]
        if step == "reject":
            order["reason_code"] = body["reason_code"]
        return 200, order


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def tmb() -> Bank:
    return Bank("TMB-PK", "rk_tmb_secret")


@pytest.fixture
def partner() -> Bank:
    return Bank("PARTNER-MY", "rk_partner_secret")


@pytest.fixture
def hub(tmb, partner):
    fake = FakeHub(tmb, partner)
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(sdk, "BACKOFF_BASE", 0.005)


# --- tests ---------------------------------------------------------------------------------


def test_a_quote_order_accept_credit_round_trip_speaks_the_contract(hub, tmb, partner):
    sending, receiving = partner.client(hub), tmb.client(hub)

    quote = sending.create_quote(send_amount=sdk.money("1000.00", "MYR"))
    assert sending.get_quote(quote["id"]) == quote
    order = sending.submit_order(
        order_id="ord_rt1",
        quote_id=quote["id"],
        sender_kyc_ref="kyc_s",
        beneficiary_kyc_ref="kyc_b",
    )
    assert order["status"] == "submitted"
    assert receiving.accept("ord_rt1")["status"] == "accepted"
    credited = receiving.credit("ord_rt1", "EP-1", order["receive_amount"])

    assert credited["status"] == "credited" and credited["payout_reference"] == "EP-1"
    assert sending.get_order("ord_rt1") == credited
    (submit,) = hub.calls_to("POST", "/api/v1/orders")
    assert set(submit.body) == {
        "order_id", "quote_id", "sender_kyc_ref", "beneficiary_kyc_ref", "statement", "signature",
    }  # fmt: skip
    (quote_call,) = hub.calls_to("POST", "/api/v1/quotes")
    assert quote_call.body == {
        "corridor": "MY-PK",
        "send_amount": {"amount": "1000.00", "currency": "MYR"},
        "payout_method": "mobile_wallet",
    }
    (credit_call,) = hub.calls_to("POST", "/api/v1/orders/ord_rt1/credit")
    assert set(credit_call.body) == {"payout_reference", "receive_amount", "statement", "signature"}
    assert [s["kind"] for s in hub.statements] == [
        "order.submitted",
        "order.accepted",
        "order.credited",
    ]
    keys = [c.headers["idempotency-key"] for c in hub.calls if c.method == "POST"]
    assert len(set(keys)) == len(keys) == 4
    assert all("idempotency-key" not in c.headers for c in hub.calls if c.method == "GET")


def test_reject_carries_the_reason_in_body_and_statement(hub, tmb):
    hub.add_order(id="ord_rj", sender="PARTNER-MY", receiver="TMB-PK")
    rejected = tmb.client(hub).reject("ord_rj", "beneficiary_check_failed")
    assert (
        rejected["status"] == "rejected" and rejected["reason_code"] == "beneficiary_check_failed"
    )
    assert hub.statements[-1]["body"] == {
        "order_id": "ord_rj",
        "reason_code": "beneficiary_check_failed",
    }


def test_sign_produces_statements_that_verify_with_the_wire_format(hub, tmb):
    before = datetime.now(UTC) - timedelta(seconds=1)
    signed = tmb.client(hub).sign("order.accepted", {"order_id": "ord_1"})

    statement = signed["statement"]
    assert statement["signer"] == "TMB-PK" and statement["key_id"] == tmb.key_id
    assert statement["kind"] == "order.accepted" and statement["v"] == 1
    assert before <= parse_time(statement["at"]) <= datetime.now(UTC)
    public = raw_public_key(tmb.private_key)
    assert verify_statement(public, statement, decode_b64(signed["signature"]))
    tampered = {**statement, "body": {"order_id": "ord_2"}}
    assert not verify_statement(public, tampered, decode_b64(signed["signature"]))


def test_503_is_retried_with_the_same_idempotency_key(hub, partner):
    hub.script[("POST", "/api/v1/quotes")] = [
        (503, {"code": "unavailable"}, 0, {}),
        (502, "bad gateway", 0, {}),
    ]
    client = partner.client(hub)

    quote = client.create_quote(send_amount=sdk.money("1000.00", "MYR"))
    again = client.create_quote(send_amount=sdk.money("1000.00", "MYR"))

    calls = hub.calls_to("POST", "/api/v1/quotes")
    assert len(calls) == 4
    assert len({c.headers["idempotency-key"] for c in calls[:3]}) == 1
    assert calls[3].headers["idempotency-key"] != calls[0].headers["idempotency-key"]
    assert quote["id"] != again["id"]


def test_a_timed_out_post_is_retried_and_the_hub_replays_the_first_answer(hub, tmb):
    hub.add_order(id="ord_slow", sender="PARTNER-MY", receiver="TMB-PK")
    real_route = hub.route
    slow = threading.Event()

    def slow_first(method, path, call, bank):
        answer = real_route(method, path, call, bank)
        if not slow.is_set():
            slow.set()
            time.sleep(0.6)  # acted, but answers after the client gave up
        return answer

    hub.route = slow_first
    accepted = tmb.client(hub, timeout=0.3).accept("ord_slow")

    calls = hub.calls_to("POST", "/api/v1/orders/ord_slow/accept")
    assert len(calls) >= 2
    assert len({c.headers["idempotency-key"] for c in calls}) == 1
    assert accepted["status"] == "accepted"  # the replay, not a 409 for a second accept


def test_429_honours_retry_after_and_is_retried(hub, partner):
    hub.script[("GET", "/api/v1/orders")] = [
        (429, {"code": "throttled", "title": "Too many requests"}, 0, {"retry-after": "0.05"})
    ]
    started = time.monotonic()
    page = partner.client(hub).list_orders()
    assert page == {"results": [], "next": None}
    assert time.monotonic() - started >= 0.05
    assert len(hub.calls_to("GET", "/api/v1/orders")) == 2


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "validation_error", sdk.ValidationFailed),
        (400, "invalid_signature", sdk.InvalidSignature),
        (409, "conflict", sdk.Conflict),
        (404, "not_found", sdk.NotFound),
        (409, "quote_expired", sdk.QuoteExpired),
        (422, "insufficient_funds", sdk.InsufficientFunds),
        (403, "limit_exceeded", sdk.LimitExceeded),
        (410, "kyc_record_erased", sdk.Gone),
    ],
)
def test_4xx_problems_are_raised_with_their_code_and_never_retried(
    hub, partner, status, code, error
):
    hub.script[("POST", "/api/v1/quotes")] = [(*problem(status, code, "told you so"), 0, {})]
    with pytest.raises(error) as raised:
        partner.client(hub).create_quote(send_amount=sdk.money("1", "MYR"))
    assert isinstance(raised.value, HubError)
    assert raised.value.status == status and raised.value.code == code
    assert raised.value.detail == "told you so" and raised.value.body["code"] == code
    assert len(hub.calls_to("POST", "/api/v1/quotes")) == 1


def test_real_refusals_from_the_hub(hub, tmb, partner):
    hub.add_order(id="ord_theirs", sender="VALYOU-MY", receiver="OTHER-PK")
    hub.add_order(id="ord_done", sender="PARTNER-MY", receiver="TMB-PK", status="credited")
    with pytest.raises(sdk.NotFound):
        partner.client(hub).get_order("ord_theirs")
    with pytest.raises(sdk.Conflict) as conflict:
        tmb.client(hub).accept("ord_done")
    assert conflict.value.code == "conflict" and "credited" in conflict.value.detail
    impostor = HubClient(hub.url, tmb.api_key, institution="TMB-PK",
                         signing_key=Ed25519PrivateKey.generate(), key_id=tmb.key_id)  # fmt: skip
    hub.add_order(id="ord_new", sender="PARTNER-MY", receiver="TMB-PK")
    with pytest.raises(sdk.InvalidSignature):
        impostor.accept("ord_new")
    with pytest.raises(sdk.AuthenticationFailed):
        HubClient(hub.url, "rk_nobody", institution="X", signing_key=tmb.private_key,
                  key_id=tmb.key_id).get_order("ord_new")  # fmt: skip
    assert hub.orders["ord_new"]["status"] == "submitted"


def test_an_unreachable_hub_raises_after_the_retries(tmb):
    client = HubClient("http://127.0.0.1:9", "rk", institution="TMB-PK",
                       signing_key=tmb.private_key, key_id=tmb.key_id, retries=2)  # fmt: skip
    with pytest.raises(sdk.HubUnavailable) as raised:
        client.get_order("ord_1")
    assert "ConnectError" in raised.value.detail


def test_list_orders_pages_with_the_cursor(hub, tmb):
    for n in range(5):
        hub.add_order(id=f"ord_p{n}", sender="PARTNER-MY", receiver="TMB-PK")
    hub.add_order(id="ord_p9", sender="PARTNER-MY", receiver="TMB-PK", status="credited")
    client = tmb.client(hub)

    first = client.list_orders(status="submitted")
    assert [o["id"] for o in first["results"]] == ["ord_p0", "ord_p1"] and first["next"]
    assert [o["id"] for o in client.iter_orders(status="submitted")] == [
        f"ord_p{n}" for n in range(5)
    ]
    since = datetime(2026, 1, 1, tzinfo=UTC)
    client.list_orders(since=since)
    assert hub.calls[-1].query["since"] == ["2026-01-01T00:00:00.000Z"]


def test_kyc_request_and_webhook_registration_bodies(hub, tmb):
    client = tmb.client(hub)
    with pytest.raises(sdk.NotFound):
        client.request_kyc("kyc_b", purpose="beneficiary_check", order_ref="ord_1")
    assert hub.calls[-1].path == "/api/v1/kyc/kyc_b/access"
    assert hub.calls[-1].body == {"purpose": "beneficiary_check", "order_ref": "ord_1"}

    created = client.register_webhook("http://127.0.0.1:8100/webhooks", ["order.submitted"])
    assert created["secret"].startswith("whsec_")
    assert hub.calls[-1].body == {
        "url": "http://127.0.0.1:8100/webhooks",
        "event_types": ["order.submitted"],
    }
    assert [e["url"] for e in client.list_webhooks()] == ["http://127.0.0.1:8100/webhooks"]


def test_from_credentials_reads_the_onboarding_file(hub, tmb, tmp_path):
    path = tmp_path / "TMB-PK.json"
    path.write_text(json.dumps(tmb.credentials(hub)))
    hub.add_order(id="ord_c", sender="PARTNER-MY", receiver="TMB-PK")

    client = HubClient.from_credentials(path)

    assert client.institution == "TMB-PK" and client.key_id == tmb.key_id
    assert client.accept("ord_c")["status"] == "accepted"
    assert hub.statements[-1]["signer"] == "TMB-PK"


def test_quote_needs_exactly_one_amount_and_no_floats(hub, partner):
    client = partner.client(hub)
    with pytest.raises(ValueError):
        client.create_quote()
    with pytest.raises(TypeError):
        sdk.money(10.5, "MYR")  # type: ignore[arg-type]
    assert hub.calls == []


# --- against the real hub ------------------------------------------------------------------


@requires_postgres  # a live server needs a transactional test; SQLite's flush trips the
@pytest.mark.django_db(transaction=True)  # append-only ledger triggers (PostgreSQL truncates)
def test_webhook_registration_and_cosigning_against_the_real_hub(live_server, network):
    """The APIs that exist already, through the real hub: endpoint management and witnessing."""
    from ledger.models import Cosignature
    from ledger.services.log import ledger_integrate
    from webhooks.models import WebhookEndpoint

    ledger_integrate()
    tmb = network.tmb
    client = HubClient(live_server.url, tmb.api_key, institution=tmb.code,
                       signing_key=tmb.private_key, key_id=tmb.key_id)  # fmt: skip
    try:
        created = client.register_webhook("http://127.0.0.1:8100/webhooks")
        endpoint = WebhookEndpoint.objects.get(pk=created["id"])
        from webhooks.services import webhook_endpoint_secret

        assert webhook_endpoint_secret(endpoint=endpoint) == created["secret"]
        signed = Webhook(created["secret"]).sign("msg_1", datetime.now(UTC), "{}")
        assert signed.startswith("v1,")
        assert [e["id"] for e in client.list_webhooks()] == [created["id"]]
        with pytest.raises(sdk.ValidationFailed):
            client.register_webhook("ftp://nope")

        answer = client.cosign_latest()
        assert answer["witness"] == "TMB-PK"
        assert Cosignature.objects.filter(institution=tmb.institution).count() == 1
        assert "\u2014 TMB-PK " in client.checkpoint()

        client.delete_webhook(created["id"])
        with pytest.raises(sdk.NotFound):
            client.delete_webhook(created["id"])
    finally:
        client.close()
