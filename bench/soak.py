"""Soak (issue 16): orders at half the measured capacity for `--minutes`, the receiving bank's
simulator answering every one, on the same real stack as bench/chaos.py (gunicorn, Celery
worker and beat, simulators, witnesses; PostgreSQL `remit_soak`, Redis db 6, ports 8710-8712).

    .venv/bin/python bench/soak.py [--minutes 30] [--rate N] [--probe-seconds 20]

First a capacity probe: orders as fast as 16 clients can post them for `--probe-seconds`; the
capacity is what was credited per second end to end. Then the soak at half that (or `--rate`).
Per minute: submitted, errors, submit latency p50/p99, end-to-end (created → credited)
p50/p99, and the resident memory (RSS, MiB, summed over the process group) of gunicorn, the
Celery worker, beat and the simulator. A growth trend is flagged when the last minute's memory
is more than 20 % above the second minute's. Output: table + bench/out/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import chaos
from _common import ROOT, machine, percentiles, setup_django

VAR = ROOT / "var" / "soak"


def _rss_mib(pid: int) -> float:
    """RSS of `pid` and every process in its session (gunicorn's workers, Celery's pool)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) != pid:  # session id (field 6) == the leader we started
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=0, help="orders/s; 0: half the probe's")
    parser.add_argument("--probe-seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    chaos.VAR = VAR
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ["REMIT_VAR_DIR"] = str(VAR)
    os.environ["HUB_URL"] = f"http://127.0.0.1:{chaos.HUB_PORT}"
    os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:6379/{chaos.REDIS_DB}"
    os.environ["DEBUG"] = "0"
    os.environ.pop("DATABASE_URL", None)
    setup_django("remit_soak")
    import subprocess

    from django.core.cache import cache
    from django.core.management import call_command

    from partner_sdk.client import HubClient
    from remittance.models import RemittanceOrder
    from webhooks.models import WebhookEndpoint

    subprocess.run(["redis-cli", "-n", chaos.REDIS_DB, "flushdb"], capture_output=True)
    cache.clear()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    for old, new in ((8100, chaos.SIM_PORT), (8101, chaos.SENDER_PORT)):
        for endpoint in WebhookEndpoint.objects.filter(url__contains=f":{old}/"):
            endpoint.url = endpoint.url.replace(f":{old}/", f":{new}/")
            endpoint.save(update_fields=["url"])
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="soak-" + "x" * 60,
        REMIT_KEKS=chaos._keks(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        WEBHOOK_ALLOW_PRIVATE_URLS="true",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/remit_soak",
    )
    shutil.rmtree(VAR / "witness", ignore_errors=True)
    (VAR / "witness").mkdir()
    stack = chaos.Stack(env)
    creds = VAR / "demo" / "PARTNER-MY.json"
    api_key = json.loads(creds.read_text())["api_key"]
    customers = json.loads((VAR / "demo" / "PARTNER-MY.customers.json").read_text())
    hub_url = f"http://127.0.0.1:{chaos.HUB_PORT}"
    minutes: list[dict] = []
    try:
        for name in stack.commands:
            stack.start(name)
        for port in (chaos.HUB_PORT, chaos.SIM_PORT, chaos.SENDER_PORT):
            chaos._wait_http(port)
        signers: dict[int, HubClient] = {}  # one per client thread, as a bank's would be
        lock = threading.Lock()
        sent: list[tuple[float, float, str, int]] = []  # (t, latency ms, id, status)

        def one_order(client: chaos.RetryingClient, i: int) -> None:
            signer = signers.setdefault(
                threading.get_ident(), HubClient.from_credentials(creds, base_url=hub_url)
            )
            q = signer.create_quote(send_amount={"amount": f"{10 + i % 7}.00", "currency": "MYR"})
            order_id = str(uuid.uuid4())
            facts = {"order_id": order_id, "quote_id": q["id"], **customers[i % len(customers)]}
            body = {**facts, **signer.sign("order.submitted", facts)}
            t0 = time.perf_counter()
            status, _ = client.post("/api/v1/orders", body, key=order_id)
            with lock:
                sent.append((time.monotonic(), (time.perf_counter() - t0) * 1000, order_id, status))

        def run(seconds: float, rate: float | None) -> None:
            stop_at = time.monotonic() + seconds
            counter = iter(range(10**9))

            def client_loop() -> None:
                client = chaos.RetryingClient(api_key, log)
                while time.monotonic() < stop_at:
                    t0 = time.monotonic()
                    one_order(client, next(counter))
                    if rate:
                        time.sleep(max(0.0, args.clients / rate - (time.monotonic() - t0)))

            threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        log = chaos.ClientLog()
        # 1. capacity probe
        t_probe = time.monotonic()
        run(args.probe_seconds, None)
        probe_ids = [s[2] for s in sent if 200 <= s[3] < 300]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = RemittanceOrder.objects.filter(pk__in=probe_ids, status="credited").count()
            if done == len(probe_ids):
                break
            time.sleep(0.5)
        capacity = len(probe_ids) / (time.monotonic() - t_probe)
        rate = args.rate or capacity / 2
        print(
            f"capacity probe: {len(probe_ids)} orders credited, {capacity:.1f} orders/s end "
            f"to end; soak at {rate:.1f} orders/s for {args.minutes} min",
            flush=True,
        )
        sent.clear()
        # 2. the soak, sampled per minute
        start = time.monotonic()
        sampler_stop = threading.Event()
        samples: list[tuple[float, dict[str, float]]] = []

        def sample() -> None:
            while not sampler_stop.wait(60 if samples else 1):
                samples.append(
                    (time.monotonic(), {n: _rss_mib(p.pid) for n, p in stack.procs.items()})
                )

        sampler = threading.Thread(target=sample)
        sampler.start()
        run(args.minutes * 60, rate)
        sampler_stop.set()
        sampler.join()
        time.sleep(5)
        from django.db import connection

        connection.close()
        e2e = {
            str(i): (c - a).total_seconds() * 1000
            for i, a, c in RemittanceOrder.objects.filter(
                pk__in=[s[2] for s in sent], credited_at__isnull=False
            ).values_list("id", "created_at", "credited_at")
        }
        for m in range(int(args.minutes + 0.999)):
            lo, hi = start + m * 60, start + (m + 1) * 60
            rows = [s for s in sent if lo <= s[0] < hi]
            ok = [s for s in rows if 200 <= s[3] < 300]
            lat = [s[1] for s in ok] or [0.0]
            ends = [e2e[s[2]] for s in ok if s[2] in e2e] or [0.0]
            mem = next((m_ for t, m_ in samples if t >= hi - 5), samples[-1][1] if samples else {})
            p50, p99 = percentiles(lat)
            e50, e99 = percentiles(ends)
            minutes.append(
                {
                    "minute": m + 1,
                    "submitted": len(ok),
                    "errors": len(rows) - len(ok),
                    "not_credited": sum(1 for s in ok if s[2] not in e2e),
                    "submit_p50_ms": round(p50),
                    "submit_p99_ms": round(p99),
                    "e2e_p50_ms": round(e50),
                    "e2e_p99_ms": round(e99),
                    "rss_mib": {k: round(v) for k, v in mem.items()},
                }
            )
        from remittance.audit.services import audit_run

        audit = audit_run(trigger="soak", full_log=True)
    finally:
        stack.stop_all()
    print(
        "\n| minute | orders | errors | not credited | submit p50/p99 ms | e2e p50/p99 ms | "
        "RSS MiB web / worker / beat / simulator |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in minutes:
        r = m["rss_mib"]
        print(
            f"| {m['minute']} | {m['submitted']} | {m['errors']} | {m['not_credited']} | "
            f"{m['submit_p50_ms']} / {m['submit_p99_ms']} | {m['e2e_p50_ms']} / "
            f"{m['e2e_p99_ms']} | {r.get('web')} / {r.get('worker')} / {r.get('beat')} / "
            f"{r.get('simulator')} |"
        )
    growth = {}
    if len(minutes) >= 3:
        for name in minutes[1]["rss_mib"]:
            a, b = minutes[1]["rss_mib"][name], minutes[-1]["rss_mib"].get(name, 0)
            growth[name] = round((b - a) / a * 100, 1) if a else 0.0
    print(f"memory growth from minute 2 to the last: {growth} (flag above 20 %)")
    print(
        f"client errors: {log.errors or 'none'}; auditor: {'clean' if audit.ok else audit.breaches}"
    )
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(
        json.dumps(
            {
                "rate": rate,
                "capacity": capacity,
                "minutes": minutes,
                "growth": growth,
                "client_errors": log.errors,
                "auditor_clean": audit.ok,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
