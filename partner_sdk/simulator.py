"""A receiving partner bank, as a separate process: the other side of the hub's HTTP boundary.

    python -m partner_sdk.simulator --institution TMB-PK --port 8100 \\
        --credentials var/demo/TMB-PK.json [--latency-ms 0] [--reject-rate 0] \\
        [--fail-mode none|timeout|http500|duplicate] [--fail-rate 0.1] [--seed N] \\
        [--no-kyc-check] [--register-webhook]

It receives webhooks at `POST /webhooks`, verifies them with `standardwebhooks` (bad or missing
signature → 401), dedupes on `webhook-id` (seen → 200 without acting again) and answers in
milliseconds: the work happens on worker threads. For `order.submitted` to this bank it asks for
the beneficiary's KYC record (`beneficiary_check`; 404/409/501 tolerated while that API is
unavailable to it), accepts — or rejects with `beneficiary_check_failed` at `--reject-rate` —
credits its own little wallet book (by `beneficiary_kyc_ref`, Decimal strings, persisted to
var/simulator/<CODE>.json) and confirms with `credit` and its own payout reference.
For `name_check.requested` it reads the check (`GET /name-checks/{id}`) and answers with the
title it holds for that number (`account_title`: made up, stable per number; none for a
number ending in 0000).

Failure modes, each at `--fail-rate`: `timeout` (acts, then answers only after the hub's
timeout, so the hub retries and the retry is deduped), `http500` (answers 500 without acting, so
the hub retries), `duplicate` (sends accept and credit twice; the hub must answer the duplicate
with a no-op or 409, and the book credits once).

`GET /healthz` → `{"ok": true, …}`; `GET /book` → the wallet book as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import random
import secrets
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from partner_sdk.client import Conflict, HubClient, HubError, HubUnavailable

logger = logging.getLogger("partner_sdk.simulator")

FAIL_MODES = ("none", "timeout", "http500", "duplicate")
REJECT_REASON = "beneficiary_check_failed"
KYC_TOLERATED = frozenset({404, 409, 501})
MAX_BODY = 1 << 20
SEEN_IDS_KEPT = 100_000
BOOK_FLUSH_SECONDS = 0.5
REGISTER_TRIES = 30


@dataclass
class Config:
    institution: str
    credentials: Path
    host: str = "127.0.0.1"
    port: int = 8100
    book: Path | None = None
    latency_ms: int = 0
    reject_rate: float = 0.0
    fail_mode: str = "none"
    fail_rate: float = 0.1
    timeout_seconds: float = 6.0
    seed: int | None = None
    kyc_check: bool = True
    register_webhook: bool = False
    public_url: str | None = None
    workers: int = 4
    hub_url: str | None = None
    catch_up_seconds: float = 30.0

    @property
    def book_path(self) -> Path:
        return self.book or Path("var") / "simulator" / f"{self.institution}.json"


@dataclass(frozen=True)
class Job:
    webhook_id: str
    event_type: str
    data: dict[str, Any]


@dataclass
class Book:
    """The bank's own ledger of its customers' wallets: balances by beneficiary KYC reference
    (Decimal strings) and one entry per order credited or rejected — so an order is paid at
    most once, whatever the hub sends or resends."""

    path: Path
    institution: str
    wallets: dict[str, Decimal] = field(default_factory=dict)
    credits: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _dirty: bool = False

    @classmethod
    def load(cls, path: Path, institution: str) -> Book:
        book = cls(path=path, institution=institution)
        if path.exists():
            data = json.loads(path.read_text())
            book.wallets = {k: Decimal(v) for k, v in data.get("wallets", {}).items()}
            book.credits = data.get("credits", {})
            book.rejected = data.get("rejected", {})
        return book

    def credit(
        self, *, order_id: str, kyc_ref: str, amount: Decimal, currency: str
    ) -> dict[str, Any]:
        """Pay the beneficiary once per order; returns the entry (with its payout reference),
        existing or new."""
        with self._lock:
            entry = self.credits.get(order_id)
            if entry is not None:
                return entry
            entry = {
                "beneficiary_kyc_ref": kyc_ref,
                "amount": str(amount),
                "currency": currency,
                "payout_reference": f"EP-{secrets.token_hex(6).upper()}",
                "credited_at": datetime.now(UTC).isoformat(),
                "confirmed": False,
            }
            self.credits[order_id] = entry
            self.wallets[kyc_ref] = self.wallets.get(kyc_ref, Decimal("0")) + amount
            self._dirty = True
            return entry

    def reverse(self, order_id: str, reason: str) -> None:
        """The hub refused the confirmation for good: take the money back out of the wallet."""
        with self._lock:
            entry = self.credits.get(order_id)
            if entry is None or entry.get("reversed"):
                return
            ref = entry["beneficiary_kyc_ref"]
            self.wallets[ref] = self.wallets.get(ref, Decimal("0")) - Decimal(entry["amount"])
            entry["reversed"] = reason
            self._dirty = True

    def confirm(self, order_id: str) -> None:
        with self._lock:
            self.credits[order_id]["confirmed"] = True
            self._dirty = True

    def reject(self, order_id: str, reason: str) -> None:
        with self._lock:
            self.rejected[order_id] = reason
            self._dirty = True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "institution": self.institution,
                "wallets": {k: str(v) for k, v in sorted(self.wallets.items())},
                "credits": {k: dict(v) for k, v in self.credits.items()},  # entries are flat
                "rejected": dict(self.rejected),
            }

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
        data = self.snapshot()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # compact: the book is rewritten whole, twice a second while orders flow
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        os.replace(tmp, self.path)


class Simulator:
    """The bank: webhook receiver, worker threads, wallet book, hub client."""

    def __init__(self, config: Config, client: HubClient | None = None) -> None:
        self.config = config
        creds = json.loads(config.credentials.read_text())
        if creds.get("institution") not in (None, config.institution):
            raise SystemExit(f"{config.credentials} is for {creds['institution']}")
        self.client = client or HubClient.from_credentials(
            config.credentials, base_url=config.hub_url
        )
        self.secrets = [creds["webhook_secret"]] if creds.get("webhook_secret") else []
        self.book = Book.load(config.book_path, config.institution)
        # Simulation, not security (S311): seeded so tests and demos are reproducible.
        reject_seed = None if config.seed is None else config.seed + 1
        self._fail_rng = random.Random(config.seed)  # noqa: S311
        self._reject_rng = random.Random(reject_seed)  # noqa: S311
        self._rng_lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._active: set[str] = set()
        self._seen_lock = threading.Lock()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._stop = threading.Event()
        self.stats = {"received": 0, "duplicates": 0, "forged": 0, "failed_on_purpose": 0}
        self.server = _Server((config.host, config.port), _handler(self))
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return self.config.public_url or f"http://{host}:{port}/webhooks"

    # --- lifecycle ---

    def start(self) -> None:
        for n in range(self.config.workers):
            self._spawn(self._work, f"worker-{n}")
        self._spawn(self._flush_book, "book")
        self._spawn(lambda: self.server.serve_forever(poll_interval=0.1), "http")
        if self.config.register_webhook:
            self._spawn(self._register_until_done, "register")
        if self.config.catch_up_seconds > 0:
            self._spawn(self._catch_up_loop, "catch-up")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.server.shutdown()
        self._stop.set()
        for _ in range(self.config.workers):
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self.server.server_close()
        self.book.flush()
        self.client.close()

    def _register_until_done(self) -> None:
        """The hub may still be starting (`make run` starts everything at once)."""
        for _ in range(REGISTER_TRIES):
            try:
                self.register()
                return
            except HubError as exc:
                if not isinstance(exc, HubUnavailable) and exc.status < 500:
                    logger.error("could not register the webhook endpoint: %s", exc)
                    return
            if self._stop.wait(2):
                return
        logger.error("gave up registering the webhook endpoint: the hub did not answer")

    def register(self) -> None:
        """Make sure the hub sends our events here: reuse an enabled endpoint with our URL (its
        secret is the one in the credentials file), else register one and trust its secret."""
        for endpoint in self.client.list_webhooks():
            if endpoint["url"] == self.url and endpoint["enabled"]:
                logger.info("webhook endpoint %s already registered", self.url)
                return
        created = self.client.register_webhook(self.url)
        self.secrets.append(created["secret"])
        logger.info("registered webhook endpoint %s (id %s)", self.url, created["id"])

    # --- receiving ---

    def _chance(self, rng: random.Random, rate: float) -> bool:
        with self._rng_lock:
            return rate > 0 and rng.random() < rate

    def receive(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Handle one webhook POST; returns (status, JSON answer). Runs on the HTTP thread."""
        payload = self._verify(body, headers)
        if payload is None:
            self._count("forged")
            return 401, {"error": "invalid webhook signature"}
        webhook_id = headers["webhook-id"]
        mode = self.config.fail_mode
        if mode == "http500" and self._chance(self._fail_rng, self.config.fail_rate):
            self._count("failed_on_purpose")
            return 500, {"error": "simulated failure"}
        with self._seen_lock:
            if webhook_id in self._seen:
                self.stats["duplicates"] += 1
                return 200, {"status": "duplicate"}
            self._seen[webhook_id] = None
            while len(self._seen) > SEEN_IDS_KEPT:
                self._seen.popitem(last=False)
            self.stats["received"] += 1
        data = payload.get("data") if isinstance(payload, dict) else None
        self._jobs.put(Job(webhook_id, str(payload.get("type")), data or {}))
        if mode == "timeout" and self._chance(self._fail_rng, self.config.fail_rate):
            self._count("failed_on_purpose")
            time.sleep(self.config.timeout_seconds)
        return 200, {"status": "accepted"}

    def _count(self, stat: str) -> None:
        with self._seen_lock:
            self.stats[stat] += 1

    def _verify(self, body: bytes, headers: dict[str, str]) -> Any:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except Exception:  # WebhookVerificationError, malformed headers or JSON
                logger.debug("webhook did not verify under one of our secrets")
                continue
        return None

    # --- catching up (a bank does not rely on webhooks alone) ---

    def _catch_up_loop(self) -> None:
        """At start and every `catch_up_seconds`: `catch_up`. A webhook answered 200 is one the
        hub will not send again, and a crash between that answer and the work (kill -9, power
        loss) would leave the order waiting for its credit deadline; so the bank also asks the
        hub for the orders still waiting on it (the chaos harness, bench/chaos.py, found this)."""
        while not self._stop.is_set():
            try:
                self.catch_up()
            except Exception:
                logger.exception("catching up with the hub failed; next try later")
            if self._stop.wait(self.config.catch_up_seconds):
                return

    def catch_up(self) -> int:
        """Process every order addressed to this bank that is still `submitted` or `accepted`
        at the hub and not being processed here; returns how many. Idempotent with the
        webhook path: the book pays an order at most once and the hub answers a repeat as a
        no-op."""
        done = 0
        for status in ("submitted", "accepted"):
            for order in self.client.iter_orders(status=status):
                if order.get("receiving_institution") != self.config.institution:
                    continue
                order_id = str(order["id"])
                with self._seen_lock:
                    confirmed = self.book.credits.get(order_id, {}).get("confirmed")
                    if order_id in self._active or confirmed or order_id in self.book.rejected:
                        continue
                    self._active.add(order_id)
                try:
                    self._process(order_id, {**order, "order_id": order_id})
                    done += 1
                finally:
                    with self._seen_lock:
                        self._active.discard(order_id)
        if done:
            logger.warning("caught up with %d order(s) no webhook had brought to completion", done)
        return done

    # --- acting (worker threads) ---

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self.handle(job)
            except Exception:
                logger.exception("job for webhook %s failed", job.webhook_id)

    def handle(self, job: Job) -> None:
        data = job.data
        if job.event_type == "name_check.requested":
            self._name_check(str(data.get("check_id", "")))
            return
        if job.event_type != "order.submitted":
            logger.info("%s for %s: noted", job.event_type, data.get("order_id"))
            return
        if data.get("receiving_institution") != self.config.institution:
            return
        order_id = str(data["order_id"])
        with self._seen_lock:
            if order_id in self._active or order_id in self.book.credits:
                return  # the same order under another webhook-id (e.g. a replay)
            if order_id in self.book.rejected:
                return
            self._active.add(order_id)
        try:
            self._process(order_id, data)
        finally:
            with self._seen_lock:
                self._active.discard(order_id)

    def _name_check(self, check_id: str) -> None:
        """Say whose wallet or account it is: the title this simulated bank holds for it
        (`account_title`), or no such account for a number ending in 0000."""
        try:
            check = self.client.get_name_check(check_id)
            identifier = str(check["account"]["identifier"])
            self.client.answer_name_check(check_id, account_title=account_title(identifier))
        except HubError as exc:
            logger.warning("name check %s not answered: %s", check_id, exc)

    def _process(self, order_id: str, data: dict[str, Any]) -> None:
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)
        duplicate = self.config.fail_mode == "duplicate" and self._chance(
            self._fail_rng, self.config.fail_rate
        )
        if not self._beneficiary_ok(data) or self._chance(
            self._reject_rng, self.config.reject_rate
        ):
            refused = self._call(lambda: self.client.reject(order_id, REJECT_REASON), duplicate)
            if refused is None or self._order_status(order_id) == "rejected":
                self.book.reject(order_id, REJECT_REASON)
                logger.info("order %s rejected (%s)", order_id, REJECT_REASON)
            return
        refused = self._call(lambda: self.client.accept(order_id), duplicate)
        if refused is not None and self._order_status(order_id) != "accepted":
            return  # expired, rejected, or not ours after all: nothing to pay
        amount = data["receive_amount"]
        receive_amount = {"amount": str(amount["amount"]), "currency": str(amount["currency"])}
        entry = self.book.credit(
            order_id=order_id,
            kyc_ref=str(data["beneficiary_kyc_ref"]),
            amount=Decimal(receive_amount["amount"]),
            currency=receive_amount["currency"],
        )
        refused = self._call(
            lambda: self.client.credit(order_id, entry["payout_reference"], receive_amount),
            duplicate,
        )
        if refused is None or self._order_status(order_id) in {"credited", "settled"}:
            self.book.confirm(order_id)
            logger.info("order %s credited (%s)", order_id, entry["payout_reference"])
        elif isinstance(refused, HubUnavailable) or refused.status >= 500:
            logger.error("order %s credited here but not confirmed: %s", order_id, refused)
        else:
            self.book.reverse(order_id, f"hub refused the credit: {refused.code}")
            logger.warning("order %s: credit reversed (%s)", order_id, refused.code)

    def _call(self, call: Callable[[], Any], duplicate: bool) -> HubError | None:
        """One signed call to the hub (twice in duplicate mode); the refusal, if any. The
        duplicate's refusal is the hub doing its job and is only logged."""
        try:
            call()
        except HubError as exc:
            logger.warning("hub refused: %s", exc)
            return exc
        if duplicate:
            try:
                call()
                logger.info("duplicate answered as a no-op")
            except Conflict as exc:
                logger.info("duplicate refused as expected: %s", exc.code)
            except HubError as exc:
                logger.warning("duplicate answered unexpectedly: %s", exc)
        return None

    def _order_status(self, order_id: str) -> str | None:
        try:
            return str(self.client.get_order(order_id)["status"])
        except HubError:
            return None

    def _beneficiary_ok(self, data: dict[str, Any]) -> bool:
        if not self.config.kyc_check or not data.get("beneficiary_kyc_ref"):
            return True
        try:
            self.client.request_kyc(
                str(data["beneficiary_kyc_ref"]),
                purpose="beneficiary_check",
                order_ref=str(data["order_id"]),
            )
        except HubError as exc:
            if exc.status in KYC_TOLERATED:
                logger.info("KYC record unavailable (%s); checking by reference only", exc.code)
                return True
            logger.warning("beneficiary check failed: %s", exc)
            return False
        # A real bank would open the sealed record (partner_sdk.kyc.open_sealed_record) and
        # screen it; holding the record is this simulator's whole check.
        return True

    def _flush_book(self) -> None:
        while not self._stop.wait(BOOK_FLUSH_SECONDS):
            self.book.flush()


TITLE_GIVEN = (
    "ALI",
    "BILAL",
    "FATIMA",
    "HAMZA",
    "MARYAM",
    "OMAR",
    "SANA",
    "USMAN",
    "ZARA",
    "AYESHA",
)
TITLE_FAMILY = (
    "RAZA",
    "KHAN",
    "AHMED",
    "IQBAL",
    "SHAH",
    "HUSSAIN",
    "MALIK",
    "BUTT",
    "ANWAR",
    "ASLAM",
)


def account_title(identifier: str) -> str | None:
    """The simulated bank's title for an account: made up, but the same for the same number;
    None (no such account) for a number ending in 0000."""
    digits = "".join(ch for ch in identifier if ch.isdigit())
    if digits.endswith("0000"):
        return None
    n = int(digits[-6:] or "0")
    return f"{TITLE_GIVEN[n % 10]} {TITLE_FAMILY[(n // 10) % 10]}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 drops SYNs under a burst (1 s retransmits)


def _handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the hub's sender reuses connections
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall
        server_version = "partner-simulator/1"

        def do_GET(self) -> None:
            if self.path == "/healthz":
                with sim._seen_lock:
                    stats = dict(sim.stats)
                self._answer(200, {"ok": True, "institution": sim.config.institution, **stats})
            elif self.path == "/book":
                self._answer(200, sim.book.snapshot())
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if self.path != "/webhooks":
                self.rfile.read(min(length, MAX_BODY))
                self._answer(404, {"error": "not found"})
                return
            if length > MAX_BODY:
                self.close_connection = True
                self._answer(413, {"error": "too large"})
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = sim.receive(body, headers)
            self._answer(status, answer)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (e.g. timeout mode); it will retry

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    return Handler


# --- command line --------------------------------------------------------------------------


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m partner_sdk.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--institution", required=True, help="this bank's code, e.g. TMB-PK")
    p.add_argument("--credentials", required=True, type=Path, help="var/demo/<CODE>.json")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    p.add_argument(
        "--public-url", help="webhook URL to register (default http://host:port/webhooks)"
    )
    p.add_argument("--hub-url", help="override the credentials file's hub_url")
    p.add_argument("--book", type=Path, help="wallet book file (default var/simulator/<CODE>.json)")
    p.add_argument("--latency-ms", type=int, default=0, help="bank processing time per order")
    p.add_argument("--reject-rate", type=_rate, default=0.0)
    p.add_argument("--fail-mode", choices=FAIL_MODES, default="none")
    p.add_argument("--fail-rate", type=_rate, default=0.1)
    p.add_argument(
        "--timeout-seconds",
        type=float,
        default=6.0,
        help="how long timeout mode stalls (the hub gives up after 5 s)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument("--no-kyc-check", dest="kyc_check", action="store_false")
    p.add_argument("--register-webhook", action="store_true")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument(
        "--catch-up-seconds",
        type=float,
        default=30.0,
        help="how often to ask the hub for orders still waiting on this bank (0: never)",
    )
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s simulator %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = Config(
        institution=args.institution,
        credentials=args.credentials,
        host=args.host,
        port=args.port,
        book=args.book,
        latency_ms=args.latency_ms,
        reject_rate=args.reject_rate,
        fail_mode=args.fail_mode,
        fail_rate=args.fail_rate,
        timeout_seconds=args.timeout_seconds,
        seed=args.seed,
        kyc_check=args.kyc_check,
        register_webhook=args.register_webhook,
        public_url=args.public_url,
        workers=args.workers,
        hub_url=args.hub_url,
        catch_up_seconds=args.catch_up_seconds,
    )
    simulator = Simulator(config)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    simulator.start()
    # The one line tests and scripts wait for (with --port 0 it names the port picked).
    print(f"simulator {config.institution} listening on {simulator.url}", flush=True)
    stopping.wait()
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
