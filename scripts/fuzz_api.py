"""Fuzz the partner API against its own OpenAPI schema with Schemathesis (`make fuzz`).

A live hub on a fresh PostgreSQL database: migrate, `seed_demo`, gunicorn on a free loopback
port (API calls run in the web process; tasks they queue wait in Redis, no worker needed).
Schemathesis then sends requests generated from `/api/v1/schema/` (valid and invalid ones)
with PARTNER-MY's API key, and fails on any 5xx and on any response the schema does not
describe: an undocumented status, a body not matching its schema, a wrong content type.

Bounded and repeatable: a fixed seed, deterministic generation, a cap on examples per
operation, a timeout per request and one for the whole run. Prints one summary line (requests
the hub served and how many were 5xx, counted from its access log) and exits non-zero on any
failure. Needs PostgreSQL and Redis (`.ci/run` starts them); the database it creates and
drops is its own (`FUZZ_DATABASE`), as is the Redis database it flushes (`FUZZ_REDIS_URL`).

    .venv/bin/python scripts/fuzz_api.py [--max-examples 20] [--seed 20261202]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


def _arguments() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        default=env("FUZZ_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL, without a database name",
    )
    parser.add_argument("--database", default=env("FUZZ_DATABASE", "remit_fuzz"))
    parser.add_argument(
        "--redis", default=env("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/14"), help="flushed"
    )
    parser.add_argument("--max-examples", type=int, default=int(env("FUZZ_MAX_EXAMPLES", "100")))
    parser.add_argument("--seed", type=int, default=int(env("FUZZ_SEED", "20261202")))
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument(
        "--time-limit", type=float, default=float(env("FUZZ_TIME_LIMIT", "210")), help="seconds"
    )
    # one: with more, hypothesis parses lambdas from several threads, which CPython 3.11's
    # ast.parse does not survive ("AST constructor recursion depth mismatch")
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers")
    parser.add_argument("--keep", action="store_true", help="keep the database and var dir")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database(server: str, name: str, *, create: bool) -> None:
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"database name {name!r}: use lowercase letters, digits, _")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def _redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


@contextlib.contextmanager
def _hub(env: dict[str, str], port: int, var: Path) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn serving the hub on 127.0.0.1:port until the block ends."""
    log = (var / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--threads=8",
            "--timeout=60",
            f"--access-logfile={var / 'access.log'}",
            # the raw request line: one log line per request, whatever the path decodes to
            "--access-logformat=%(s)s %(r)s",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/schema/?format=json", timeout=5
                ) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the hub did not start; see {var / 'gunicorn.log'}")
            time.sleep(0.5)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _order_submit(var: Path) -> str:
    """One order from PARTNER-MY, so order lists and reads answer a real order (and the
    schema's order shapes are checked against it). Signed as a bank signs, with partner_sdk."""
    from partner_sdk.client import HubClient

    hub = HubClient.from_credentials(var / "demo" / "PARTNER-MY.json")
    customer = json.loads((var / "demo" / "PARTNER-MY.customers.json").read_text())[0]
    quote = hub.create_quote(send_amount={"amount": "100.00", "currency": "MYR"})
    order = hub.submit_order(
        order_id=str(uuid.uuid4()), quote_id=quote["id"], quote=quote, **customer
    )
    return str(order["id"])


def _served(var: Path) -> tuple[int, int]:
    """(API requests served, of which 5xx) from gunicorn's access log."""
    total = errors = 0
    for line in (var / "access.log").read_text(errors="replace").splitlines():
        status, _, request_line = line.partition(" ")
        if " /api/v1/schema/" in request_line:
            continue  # the schema fetches (readiness and schemathesis's own)
        total += 1
        errors += status.startswith("5")
    return total, errors


def main() -> int:
    args = _arguments()
    started = time.monotonic()
    var = ROOT / "var" / f"fuzz-{args.database}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    port = _free_port()
    hub_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",  # problem JSON for every error, as in production; no debug pages
        "WEBHOOK_ALLOW_PRIVATE_URLS": "0",
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "CELERY_BROKER_URL": args.redis,
        "REMIT_VAR_DIR": str(var),
        "HUB_URL": hub_url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    _database(args.postgres, args.database, create=True)
    _redis_flush(args.redis)
    try:
        python = str(BIN / "python")
        _run([python, "manage.py", "migrate", "--no-input", "-v", "0"], env)
        _run([python, "manage.py", "seed_demo"], env)
        api_key = json.loads((var / "demo" / "PARTNER-MY.json").read_text())["api_key"]
        with _hub(env, port, var):
            _order_submit(var)
            command = [
                str(BIN / "schemathesis"),
                "run",
                f"{hub_url}/api/v1/schema/?format=json",
                f"--url={hub_url}",
                f"--header=Authorization: Bearer {api_key}",
                "--generation-with-security-parameters=false",
                f"--checks={','.join(CHECKS)}",
                f"--max-examples={args.max_examples}",
                f"--seed={args.seed}",
                f"--request-timeout={args.request_timeout}",
                f"--workers={args.workers}",
                "--suppress-health-check=all",
                "--continue-on-failure",
                "--no-color",
                "--report=junit",
                f"--report-dir={var / 'report'}",
            ]
            remaining = args.time_limit - (time.monotonic() - started)
            try:
                fuzz = subprocess.run(  # noqa: S603
                    command,
                    cwd=var,  # its cache (.schemathesis/) starts empty every run
                    env={**env, "SCHEMATHESIS_HOOKS": str(ROOT / "scripts" / "fuzz_hooks.py")},
                    timeout=remaining,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                output, returncode = fuzz.stdout, fuzz.returncode
            except subprocess.TimeoutExpired as exc:
                output = (exc.output or b"").decode(errors="replace")
                output += f"\nschemathesis did not finish within {args.time_limit:.0f} s\n"
                returncode = 124
            print(output, flush=True)
        requests, server_errors = _served(var)
        generated = re.search(r"(\d+) generated", output)
        print(
            f"fuzz: {generated.group(1) if generated else '?'} test cases generated, "
            f"{requests} API requests served, {server_errors} 5xx, schemathesis exit "
            f"{returncode}, {time.monotonic() - started:.0f} s (seed {args.seed}, "
            f"at most {args.max_examples} examples per operation)"
        )
        if server_errors:
            print(f"5xx tracebacks: {var / 'gunicorn.log'}")
            print((var / "gunicorn.log").read_text(errors="replace")[-6000:])
        return 1 if returncode or server_errors else 0
    finally:
        if not args.keep:
            _database(args.postgres, args.database, create=False)
            _redis_flush(args.redis)


if __name__ == "__main__":
    sys.exit(main())
