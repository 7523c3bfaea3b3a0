"""Witness benchmark (issue 15), on PostgreSQL. Prints figures and the machine; not a test.

    .venv/bin/python bench/bench_witness.py catchup [--entries 1000000]
    .venv/bin/python bench/bench_witness.py steady [bench_orders.py arguments …]

catchup: a log of `--entries` distinct statements, each signed by its institution (the
operator, PARTNER-MY, TMB-PK in turn), is sequenced by the real integrator; the hub serves it
under gunicorn (production settings, 2 workers) and one witness process
(`python -m partner_sdk.witness`) catches up from zero, as a bank does at its first start:
every entry fetched over HTTP, parsed, its signature checked, the root recomputed, the
checkpoint cosigned. Reported beside it, in the same run and on the same machine: bare Ed25519
verifies per second on one core (`cryptography`), the standalone verifier over the witness's
own mirror, and the cores the witness and the hub used.

steady: the order benchmark (bench/bench_orders.py, its own stack and database) runs with
TMB-PK's and PARTNER-MY's witnesses beside it, started once its hub answers. Afterwards, from
the hub's own timestamps: for every checkpoint published during the run, how long until each
witness had cosigned it (or a later one), and until one checkpoint covering it carried both;
and the statements per second the log took at its busiest second against the witnesses' rate.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, machine, percentiles, setup_django

HUB_PORT = 8410
VAR = ROOT / "var" / "bench-witness"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children still alive (gunicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # itself, or a child (ppid)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def bare_ed25519_verifies_per_second(seconds: float = 3.0) -> float:
    """One core, `cryptography`, a 300-byte message like a statement: the floor to compare."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    message = os.urandom(300)
    signature, public = key.sign(message), key.public_key()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            public.verify(signature, message)
        count += 500
    return count / (time.perf_counter() - start)


# --- catch-up ------------------------------------------------------------------------------


def _build_log(entries: int) -> dict:
    """The network, then `entries` distinct signed statements queued by COPY and sequenced by
    the integrator. Returns the credentials a witness needs (TMB-PK's)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.db import connection
    from django.utils import timezone

    from core.money import ISO4217
    from institutions import services as inst
    from institutions.models import Currency, SigningKey
    from ledger.selectors.log import checkpoint_verifier
    from ledger.services.log import ledger_integrate
    from ledger.services.witnesses import witness_register
    from partner_sdk.wire import STATEMENT_DOMAIN, canonical_json, format_time

    for code, (minor, name) in ISO4217.items():
        Currency.objects.get_or_create(code=code, defaults={"name": name, "minor_units": minor})
    hub = inst.institution_create(
        code="HUB", name="Hub", country="MY", currency="MYR", is_operator=True
    )
    banks = {
        code: inst.institution_create(code=code, name=code, country=country, currency=currency)
        for code, country, currency in (("PARTNER-MY", "MY", "MYR"), ("TMB-PK", "PK", "PKR"))
    }
    ledger_integrate()
    signers: list[tuple[str, str, Ed25519PrivateKey]] = [
        ("HUB", hub.signing_key.key_id, inst.signing_key_private(signing_key=hub.signing_key))
    ]
    for code, new in banks.items():
        assert new.private_key is not None  # external: its key is handed back once
        signers.append((code, new.signing_key.key_id, new.private_key))
    at = format_time(datetime.now(UTC))
    start = time.perf_counter()
    done = 0
    while done < entries:
        chunk = min(100_000, entries - done)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                "COPY ledger_queuedstatement (statement, signature, kind, signer, subject, "
                "queued_at) FROM STDIN"
            ) as copy,
        ):
            now = timezone.now()
            for i in range(done, done + chunk):
                code, kid, key = signers[i % len(signers)]
                statement = canonical_json(
                    {
                        "v": 1,
                        "kind": "order.accepted",
                        "at": at,
                        "signer": code,
                        "key_id": kid,
                        "body": {"order_id": str(uuid.UUID(int=i, version=4))},
                    }
                )
                copy.write_row(
                    (
                        statement,
                        key.sign(STATEMENT_DOMAIN + statement),
                        "order.accepted",
                        code,
                        "",
                        now,
                    )
                )
        ledger_integrate(batch_size=5000)
        done += chunk
        print(f"    … {done:,} entries signed and sequenced ({time.perf_counter() - start:.0f} s)")
    tmb = banks["TMB-PK"]
    assert tmb.private_key is not None
    _, api_key = inst.api_credential_create(institution=tmb.signing_key.institution, label="bench")
    witness_register(institution=tmb.signing_key.institution)
    assert SigningKey.objects.filter(institution__code="TMB-PK", active=True).exists()
    return {
        "institution": "TMB-PK",
        "hub_url": f"http://127.0.0.1:{HUB_PORT}",
        "api_key": api_key,
        "signing_key": base64.b64encode(tmb.private_key.private_bytes_raw()).decode(),
        "key_id": tmb.signing_key.key_id,
        "log_key": checkpoint_verifier().vkey,
    }


def bench_catchup(entries: int) -> dict:
    import httpx
    from django.db import connection

    from ledger.models import Cosignature
    from ledger.selectors.log import tree_size

    results: dict = {"entries": entries}
    start = time.perf_counter()
    credentials = _build_log(entries)
    size = tree_size()
    print(f"  log built: {size:,} entries in {time.perf_counter() - start:.0f} s")
    connection.close()
    VAR.mkdir(parents=True, exist_ok=True)
    state_dir = VAR / "witness-TMB-PK"
    subprocess.run(["rm", "-rf", str(state_dir)], check=True)
    (VAR / "TMB-PK.json").write_text(json.dumps(credentials))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 60,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13"),
    )
    env["REMIT_KEKS"] = _keks()
    bindir = Path(sys.executable).parent
    web = _spawn(
        [
            str(bindir / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.conf.py",
            "-b", f"127.0.0.1:{HUB_PORT}", "-w", "2", "-k", "gthread", "--threads", "4",
            "--log-level", "warning", "--access-logfile", "/dev/null",
        ],
        env,
        VAR / "gunicorn.log",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{HUB_PORT}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        page = _time_entries_page()
        results["entries_page_ms"] = page
        print(
            f"  the hub serves a page of 1,000 entries in {page:.0f} ms (median of 20, one client)"
        )
        web_cpu0 = _cpu_seconds(web.pid)
        t0 = time.perf_counter()
        witness = _spawn(
            [
                sys.executable, "-m", "partner_sdk.witness",
                "--credentials", str(VAR / "TMB-PK.json"), "--state-dir", str(state_dir),
                "--interval", "0.2", "--log-level", "WARNING",
            ],
            os.environ.copy(),
            VAR / "witness.log",
        )  # fmt: skip
        witness_cpu = 0.0
        while True:
            witness_cpu = _cpu_seconds(witness.pid) or witness_cpu
            if Cosignature.objects.filter(checkpoint__tree_size=size).exists():
                break
            if witness.poll() is not None:
                raise RuntimeError((VAR / "witness.log").read_text()[-2000:])
            time.sleep(0.2)
            connection.close()
        elapsed = time.perf_counter() - t0
        web_cpu = _cpu_seconds(web.pid) - web_cpu0
        _stop(witness)
    finally:
        _stop(web)
    rate = size / elapsed
    results.update(
        catchup_seconds=elapsed,
        catchup_entries_per_s=rate,
        witness_cores=witness_cpu / elapsed,
        hub_cores=web_cpu / elapsed,
        entries_per_witness_cpu_second=size / witness_cpu,
    )
    print(
        f"  witness catch-up from zero: {size:,} entries verified and cosigned in "
        f"{elapsed:.1f} s = {rate:,.0f} entries/s (witness {witness_cpu / elapsed:.2f} cores, "
        f"hub {web_cpu / elapsed:.2f} cores; {size / witness_cpu:,.0f} entries per CPU second "
        "of the witness, which a shared machine does not change)"
    )
    from partner_sdk.note import NoteVerifier
    from partner_sdk.verify import verify_export

    t0 = time.perf_counter()
    verify_export(state_dir, checkpoint_key=NoteVerifier.from_vkey(credentials["log_key"]))
    verify_rate = size / (time.perf_counter() - t0)
    results["verify_mirror_entries_per_s"] = verify_rate
    print(f"  standalone verifier over the witness's mirror: {verify_rate:,.0f} entries/s")
    floor = bare_ed25519_verifies_per_second()
    results["bare_ed25519_verifies_per_s"] = floor
    print(
        f"  bare Ed25519 verify, one core, same run: {floor:,.0f}/s — the witness runs at "
        f"{rate / floor:.0%} of it"
    )
    return results


def _time_entries_page() -> float:
    import httpx

    from institutions.models import ApiCredential  # noqa: F401 (Django is set up)

    credentials = json.loads((VAR / "TMB-PK.json").read_text())
    headers = {"authorization": f"Bearer {credentials['api_key']}"}
    samples = []
    with httpx.Client(base_url=f"http://127.0.0.1:{HUB_PORT}", headers=headers) as client:
        for i in range(21):
            t0 = time.perf_counter()
            client.get("/api/v1/ledger/entries", params={"start": i * 1000, "limit": 1000})
            if i:
                samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _keks() -> str:
    import secrets

    from django.conf import settings

    return f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()},{settings.REMIT_KEKS}"


# --- steady state under the order benchmark -------------------------------------------------


def bench_steady(order_args: list[str]) -> float:
    """bench_orders.py in a child process; the two witnesses beside it once its hub answers."""
    import httpx

    orders_var = ROOT / "var" / "bench-orders"
    VAR.mkdir(parents=True, exist_ok=True)
    started = time.time()
    orders = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bench_orders.py"), *order_args], cwd=ROOT
    )
    witnesses = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and orders.poll() is None:
            try:
                up = httpx.get("http://127.0.0.1:8400/healthz", timeout=1).status_code < 500
            except httpx.HTTPError:
                up = False
            creds = [orders_var / "demo" / f"{code}.json" for code in ("TMB-PK", "PARTNER-MY")]
            if up and all(c.exists() and c.stat().st_mtime >= started for c in creds):
                break
            time.sleep(0.2)
        for code in ("TMB-PK", "PARTNER-MY"):
            state = VAR / f"steady-{code}"
            subprocess.run(["rm", "-rf", str(state)], check=True)
            witnesses.append(
                _spawn(
                    [
                        sys.executable, "-m", "partner_sdk.witness",
                        "--credentials", str(orders_var / "demo" / f"{code}.json"),
                        "--state-dir", str(state), "--hub-url", "http://127.0.0.1:8400",
                        "--log-level", "WARNING",
                    ],
                    os.environ.copy(),
                    VAR / f"steady-{code}.log",
                )
            )  # fmt: skip
        witness_started = time.time()
        orders.wait()
    finally:
        _stop(*witnesses)
        if orders.poll() is None:
            orders.terminate()
    return witness_started


def _steady_figures(since_epoch: float) -> dict:
    from ledger.models import Checkpoint, Cosignature, Entry

    since = datetime.fromtimestamp(since_epoch + 5, UTC)  # after the witnesses' first catch-up
    until = Checkpoint.objects.order_by("-tree_size").values_list("created_at", flat=True).first()
    assert until is not None, "the order benchmark left no log"
    cut = until - timedelta(seconds=2)  # the last checkpoints had nothing after them
    checkpoints = list(
        Checkpoint.objects.filter(created_at__gte=since, created_at__lte=cut)
        .order_by("tree_size")
        .values_list("pk", "tree_size", "created_at")
    )
    cosignatures = list(
        Cosignature.objects.filter(checkpoint__created_at__gte=since)
        .values_list("institution__code", "checkpoint_id", "checkpoint__tree_size", "created_at")
        .order_by("created_at")
    )
    by_witness: dict[str, list[tuple[int, datetime]]] = {}
    both: dict[int, dict[str, datetime]] = {}
    sizes = {}
    for code, checkpoint_id, size, at in cosignatures:
        by_witness.setdefault(code, []).append((size, at))
        both.setdefault(checkpoint_id, {})[code] = at
        sizes[checkpoint_id] = size
    both_events = [(sizes[k], max(v.values())) for k, v in both.items() if len(v) >= 2]

    def coverage(events: list[tuple[int, datetime]]) -> list[float]:
        delays = []
        for _, size, at in checkpoints:
            later = [t for s, t in events if s >= size and t >= at]
            delays.append((min(later) - at).total_seconds() if later else float("inf"))
        return delays

    results: dict = {"checkpoints": len(checkpoints)}
    print(f"  {len(checkpoints):,} checkpoints published while the witnesses ran")
    for label, events in [*sorted(by_witness.items()), ("both, on one checkpoint", both_events)]:
        delays = coverage(events)
        p50, p99 = percentiles(delays)
        results[f"lag_{label}"] = {"p50": p50, "p99": p99, "max": max(delays)}
        print(
            f"  {label}: a checkpoint is cosigned (it or a later one) after p50 {p50:.2f} s, "
            f"p99 {p99:.2f} s, max {max(delays):.2f} s"
        )
    # the log's busiest second against what the witnesses verify
    per_second: dict[int, int] = {}
    for at in Entry.objects.filter(integrated_at__gte=since).values_list(
        "integrated_at", flat=True
    ):
        second = int(at.timestamp())
        per_second[second] = per_second.get(second, 0) + 1
    peak = max(per_second.values(), default=0)
    span = (max(per_second) - min(per_second) + 1) if per_second else 1
    mean = sum(per_second.values()) / span
    results.update(peak_entries_per_s=peak, mean_entries_per_s=mean)
    print(f"  the log took {mean:,.0f} entries/s on average, {peak:,} in its busiest second")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    catchup = sub.add_parser("catchup")
    catchup.add_argument("--entries", type=int, default=1_000_000)
    steady = sub.add_parser("steady")
    steady.add_argument("orders_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    if args.mode == "catchup":
        setup_django("remit_bench_witness")
        results = bench_catchup(args.entries)
        (out / "bench_witness_catchup.json").write_text(json.dumps(results, indent=2))
    else:
        witnesses_started = bench_steady(args.orders_args)
        # the order benchmark's own database, as it left it
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/remit_bench_orders"
        os.environ["REMIT_VAR_DIR"] = str(ROOT / "var" / "bench-orders")
        setup_django("remit_bench_orders")
        results = _steady_figures(witnesses_started)
        (out / "bench_witness_steady.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
