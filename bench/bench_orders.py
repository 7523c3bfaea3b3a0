"""Order throughput and latency through the real API (issue 5), on PostgreSQL + Redis with
gunicorn, a Celery worker and the partner-bank simulator, all as separate processes on
loopback. Prints figures and the machine; not a test.

    .venv/bin/python bench/bench_orders.py [--orders 2000] [--concurrency 16]

Phases: (1) quotes are created up front; (2) the load generator submits orders through the
partner API (PARTNER-MY, signed statements) and times each POST; (3) the simulator (TMB-PK)
accepts and credits every order over HTTP; end-to-end = credited_at − created_at from the
database; (4) a paced run at a modest rate for unloaded end-to-end latency; (4b) the submit
path alone: the receiving bank's webhook endpoint switched off, so the same burst competes only
with the log integrator; (5) the bare DRF-insert floor with the same concurrency, so the ratio
shows. Each burst prints the cores each part of the stack used (hub, Celery worker, simulator,
PostgreSQL, load generator), from /proc.

The load generator posts pre-signed bodies (signed with partner_sdk before each burst, as the
bank's own CPU would) over one keep-alive http.client connection per client thread: it
shares the two cores with what it measures, and httpx cost it several times the CPU. The same
generator drives the floor. PARTNER-MY's webhook receiver (a simulator process) runs too:
sending banks are told of accepts and credits.

The hub runs 2 gunicorn workers × 32 threads by default (concurrent submits and answers of one
process share a group commit, so threads are what feed a batch); 64 clients by default, as a
partner bank's integration would post in parallel; 2,000 KYC'd senders so that one sender's
orders (which are serialised by design, for its limits) are as rare in a burst as in life.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from _common import ROOT, machine, percentiles, setup_django

HUB_PORT, FLOOR_PORT, SIM_PORT, SENDER_PORT = 8400, 8401, 8100, 8101
VAR = ROOT / "var" / "bench-orders"


def _spawn(args: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    out = open(VAR / log, "w")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class _Poster:
    """The load generator's HTTP for the timed bursts: one keep-alive connection per client
    thread, a JSON body in, status and JSON out. httpx costs several times the CPU per request,
    and the load generator shares the two cores with the stack it measures; what the bank
    signs is still signed with partner_sdk (HubClient.sign), as a bank would."""

    def __init__(self, port: int, api_key: str | None = None) -> None:
        self._port = port
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict) -> tuple[int, bytes]:
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {**self._headers, "idempotency-key": str(uuid.uuid4())}
        for attempt in range(3):  # a dropped keep-alive connection: reconnect, same key
            try:
                self._conn.request("POST", path, body=data, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self._conn.close()
                self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _run_threads(n: int, target, items: list) -> float:
    chunks = [items[i::n] for i in range(n)]
    threads = [threading.Thread(target=target, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--paced-rate", type=float, default=20.0, help="orders/s in phase 4")
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument(
        "--alone-orders",
        type=int,
        default=2000,
        help="orders for the submit-path-alone phase (receiving bank's webhooks off)",
    )
    parser.add_argument("--workers", type=int, default=2, help="the hub's gunicorn workers")
    parser.add_argument(
        "--sim-workers", type=int, default=32, help="the simulator's answering threads"
    )
    parser.add_argument("--threads", type=int, default=32, help="gunicorn threads per worker")
    parser.add_argument(
        "--customers",
        type=int,
        default=2000,
        help="KYC'd senders of PARTNER-MY the load spreads over (one sender's submits "
        "are serialised by design, as its limits must be)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ["REMIT_VAR_DIR"] = str(VAR)
    os.environ["HUB_URL"] = f"http://127.0.0.1:{HUB_PORT}"
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
    os.environ["DEBUG"] = "0"
    setup_django("remit_bench_orders")
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    cache.clear()
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], capture_output=True)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    _customers(args.customers)
    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS bench_floor")
        c.execute("CREATE TABLE bench_floor (id bigserial primary key, payload text)")
    connection.close()

    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 60,
        REMIT_KEKS=_keks(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        WEBHOOK_ALLOW_PRIVATE_URLS="true",  # the simulator listens on loopback
    )
    py = sys.executable
    bindir = Path(py).parent
    procs = [
        _spawn(
            [
                str(bindir / "gunicorn"),
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{HUB_PORT}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                str(args.threads),
                "--log-level",
                "warning",
            ],
            env,
            "gunicorn.log",
        ),
        _spawn(
            [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
            "worker.log",
        ),
        _spawn(
            [
                py,
                "-m",
                "partner_sdk.simulator",
                "--institution",
                "TMB-PK",
                "--port",
                str(SIM_PORT),
                "--credentials",
                str(VAR / "demo" / "TMB-PK.json"),
                "--no-kyc-check",
                "--log-level",
                "WARNING",
                "--workers",
                str(args.sim_workers),
                "--book",
                str(VAR / "tmb-book.json"),
            ],
            env,
            "simulator.log",
        ),
        # PARTNER-MY's own webhook receiver (order.accepted / order.credited are sent to the
        # sending bank): with nobody listening every such delivery fails and is retried,
        # which is no bank's steady state
        _spawn(
            [
                py,
                "-m",
                "partner_sdk.simulator",
                "--institution",
                "PARTNER-MY",
                "--port",
                str(SENDER_PORT),
                "--credentials",
                str(VAR / "demo" / "PARTNER-MY.json"),
                "--no-kyc-check",
                "--log-level",
                "WARNING",
                "--book",
                str(VAR / "partner-book.json"),
            ],
            env,
            "sender.log",
        ),
        _spawn(
            [
                str(bindir / "gunicorn"),
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{FLOOR_PORT}",
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "8",
                "--log-level",
                "warning",
            ],
            dict(env, DJANGO_SETTINGS_MODULE="bench.floor_settings", PYTHONPATH=str(ROOT)),
            "floor.log",
        ),
    ]
    try:
        _wait_http(f"http://127.0.0.1:{HUB_PORT}/healthz")
        _wait_http(f"http://127.0.0.1:{SIM_PORT}/healthz")
        _wait_http(f"http://127.0.0.1:{SENDER_PORT}/healthz")
        _wait_http(f"http://127.0.0.1:{FLOOR_PORT}/floor")
        results = _measure(args)
    finally:
        _stop(procs)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_orders.json").write_text(json.dumps(results, indent=2))


def _customers(count: int) -> None:
    """Top PARTNER-MY's seeded customers up to `count` (real KYC records, encrypted and
    screened like any other)."""
    from institutions.models import Institution
    from remittance.demo import demo_beneficiary, demo_sender

    path = VAR / "demo" / "PARTNER-MY.customers.json"
    refs = json.loads(path.read_text())
    partner = Institution.objects.get(code="PARTNER-MY")
    for index in range(len(refs), count):
        refs.append(
            {
                "sender_kyc_ref": demo_sender(owner=partner, index=index).kyc_ref,
                "beneficiary_kyc_ref": demo_beneficiary(owner=partner, index=index).kyc_ref,
            }
        )
    path.write_text(json.dumps(refs, indent=2) + "\n")
    print(f"  {len(refs)} KYC'd senders of PARTNER-MY")


def _cpu() -> dict[str, float]:
    """CPU seconds used so far by each part of the stack (Linux /proc), to show where the two
    cores go in a phase: the hub's gunicorn, the Celery worker, the simulator, PostgreSQL, the
    load generator (this process)."""
    tick = os.sysconf("SC_CLK_TCK")
    parts: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if f":{HUB_PORT}" in cmdline:
            part = "hub (gunicorn)"
        elif f":{FLOOR_PORT}" in cmdline:
            part = "floor (gunicorn)"
        elif "celery" in cmdline:
            part = "celery worker"
        elif "partner_sdk.simulator" in cmdline and "PARTNER-MY" in cmdline:
            part = "sender's webhook receiver"
        elif "partner_sdk.simulator" in cmdline:
            part = "simulator"
        elif int(pid) == os.getpid():
            part = "load generator"
        elif "postgres" in cmdline:
            part = "postgresql"
        else:
            continue
        parts[part] = parts.get(part, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return parts


def _cpu_report(before: dict[str, float], elapsed: float) -> dict[str, float]:
    """Cores used per part between `before` and now (CPU seconds / wall seconds)."""
    after = _cpu()
    used = {k: (after.get(k, 0.0) - before.get(k, 0.0)) / elapsed for k in after}
    print(
        "    cores used: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    )
    return used


def _keks() -> str:
    import base64
    import secrets

    from django.conf import settings

    # production settings refuse a dev KEK as the current one; keep it second so the seeded
    # secrets still unwrap
    return f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()},{settings.REMIT_KEKS}"


def _measure(args: argparse.Namespace) -> dict:
    from partner_sdk.client import HubClient
    from remittance.models import RemittanceOrder

    creds = VAR / "demo" / "PARTNER-MY.json"
    customers = json.loads((VAR / "demo" / "PARTNER-MY.customers.json").read_text())
    results: dict = {}

    def client() -> HubClient:
        return HubClient.from_credentials(creds, base_url=f"http://127.0.0.1:{HUB_PORT}")

    # 1. quotes up front
    quotes: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def make_quotes(chunk: list[int]) -> None:
        hub = client()
        for _ in chunk:
            q = hub.create_quote(send_amount={"amount": "10.00", "currency": "MYR"})
            with lock:
                quotes.append((str(uuid.uuid4()), q))

    paced_count = int(args.paced_rate * args.paced_seconds)
    total = args.orders + paced_count + args.alone_orders
    elapsed = _run_threads(args.concurrency, make_quotes, list(range(total)))
    print(f"  quotes: {total} in {elapsed:.1f} s = {total / elapsed:,.0f}/s")
    results["quotes_per_s"] = total / elapsed
    loaded = quotes[: args.orders]
    paced = quotes[args.orders : args.orders + paced_count]
    alone = quotes[args.orders + paced_count :]

    # 2. submit under load
    latencies: list[float] = []
    errors: list[str] = []

    api_key = json.loads(creds.read_text())["api_key"]

    signer = client()

    def signed_bodies(batch: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        """The bank's signed order bodies, made before a burst (signing is the bank's CPU,
        not the hub's; on one machine it would compete with what is measured)."""
        bodies = []
        for i, (order_id, q) in enumerate(batch):
            who = customers[(hash(order_id) + i) % len(customers)]
            facts = {"order_id": order_id, "quote_id": q["id"], **who}
            bodies.append((order_id, {**facts, **signer.sign("order.submitted", facts)}))
        return bodies

    def submit(chunk: list[tuple[str, dict]]) -> None:
        poster = _Poster(HUB_PORT, api_key)
        for _order_id, body in chunk:
            t0 = time.perf_counter()
            try:
                status, payload = poster.post("/api/v1/orders", body)
            except Exception as exc:  # counted and printed
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if status != 201:
                errors.append(f"{status}: {payload[:200]!r}")
                continue
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)

    loaded_bodies = signed_bodies(loaded)
    cpu_before = _cpu()
    elapsed = _run_threads(args.concurrency, submit, loaded_bodies)
    cpu_submit = _cpu_report(cpu_before, elapsed)
    p50, p99 = percentiles(latencies)
    rate = len(latencies) / elapsed
    results.update(orders_per_s=rate, submit_p50_ms=p50, submit_p99_ms=p99, errors=len(errors))
    results["submit_cores"] = cpu_submit
    print(
        f"  submit through the API, {args.concurrency} clients: {len(latencies)} orders in "
        f"{elapsed:.1f} s = {rate:,.0f} orders/s; latency p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
        f"errors {len(errors)}" + (f" (first: {errors[0]})" if errors else "")
    )

    # 3. wait for the simulator to credit them all
    ids = [oid for oid, _ in loaded]
    deadline = time.monotonic() + 300
    cpu_before, drain_start = _cpu(), time.monotonic()
    while time.monotonic() < deadline:
        done = RemittanceOrder.objects.filter(pk__in=ids, status="credited").count()
        if done >= len(latencies):
            break
        time.sleep(0.5)
    drained = time.monotonic() - drain_start
    print(f"  after the burst, {drained:.1f} s until every order was credited")
    results["drain_s"] = drained
    results["drain_cores"] = _cpu_report(cpu_before, max(drained, 0.001))
    e2e = _e2e(ids)
    if e2e:
        p50, p99 = percentiles(e2e)
        results.update(loaded_e2e_p50_ms=p50, loaded_e2e_p99_ms=p99, credited=len(e2e))
        print(
            f"  order → credited under that load: {len(e2e)} credited; p50 {p50:.0f} ms, "
            f"p99 {p99:.0f} ms (includes queueing behind the burst)"
        )

    # 4. paced run: unloaded end-to-end latency
    hub = client()
    gap = 1.0 / args.paced_rate
    start = time.perf_counter()
    for n, (order_id, q) in enumerate(paced):
        target = start + n * gap
        if (delay := target - time.perf_counter()) > 0:
            time.sleep(delay)
        hub.submit_order(order_id=order_id, quote_id=q["id"], **customers[n % len(customers)])
    pids = [oid for oid, _ in paced]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and RemittanceOrder.objects.filter(
        pk__in=pids, status="credited"
    ).count() < len(pids):
        time.sleep(0.2)
    e2e = _e2e(pids)
    if e2e:
        p50, p99 = percentiles(e2e)
        results.update(paced_e2e_p50_ms=p50, paced_e2e_p99_ms=p99)
        print(
            f"  order → credited at {args.paced_rate:.0f} orders/s: {len(e2e)}/{len(pids)} "
            f"credited; p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )

    # 4b. the submit path alone: the receiving bank's webhook endpoint is disabled, so no
    # webhook is sent and nobody answers; submits compete only with the log integrator
    if alone:
        from webhooks.models import WebhookEndpoint

        WebhookEndpoint.objects.filter(institution__code="TMB-PK").update(enabled=False)
        latencies.clear()
        errors.clear()
        alone_bodies = signed_bodies(alone)
        cpu_before = _cpu()
        elapsed = _run_threads(args.concurrency, submit, alone_bodies)
        alone_cores = _cpu_report(cpu_before, elapsed)
        WebhookEndpoint.objects.filter(institution__code="TMB-PK").update(enabled=True)
        p50, p99 = percentiles(latencies)
        rate = len(latencies) / elapsed
        results.update(
            alone_orders_per_s=rate,
            alone_p50_ms=p50,
            alone_p99_ms=p99,
            alone_errors=len(errors),
            alone_cores=alone_cores,
        )
        print(
            f"  submit alone (no webhooks, nobody answering), {args.concurrency} clients: "
            f"{len(latencies)} orders in {elapsed:.1f} s = {rate:,.0f} orders/s; latency p50 "
            f"{p50:.0f} ms, p99 {p99:.0f} ms; errors {len(errors)}"
            + (f" (first: {errors[0]})" if errors else "")
        )

    # 5. the floor
    floor_lat: list[float] = []

    def floor(chunk: list[int]) -> None:
        poster = _Poster(FLOOR_PORT)  # the same load generator as the order bursts
        for n in chunk:
            t0 = time.perf_counter()
            status, payload = poster.post("/floor", {"n": n})
            if status != 201:
                raise RuntimeError(f"floor answered {status}: {payload[:200]!r}")
            with lock:
                floor_lat.append((time.perf_counter() - t0) * 1000)

    elapsed = _run_threads(args.concurrency, floor, list(range(args.orders)))
    p50, p99 = percentiles(floor_lat)
    floor_rate = len(floor_lat) / elapsed
    results.update(floor_per_s=floor_rate, floor_p50_ms=p50, floor_p99_ms=p99)
    print(
        f"  bare DRF insert floor, same concurrency: {floor_rate:,.0f}/s; p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms → orders run at {results['orders_per_s'] / floor_rate:.0%} of it"
    )
    return results


def _e2e(ids: list[str]) -> list[float]:
    from remittance.models import RemittanceOrder

    rows = RemittanceOrder.objects.filter(pk__in=ids, credited_at__isnull=False).values_list(
        "created_at", "credited_at"
    )
    return [(credited - created).total_seconds() * 1000 for created, credited in rows]


if __name__ == "__main__":
    main()
