"""Run every benchmark in turn (`make bench`): each script in its own process with this
interpreter, its output streamed as it comes; exits 1 if any of them failed. Not a test.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]

`--quick` passes each script its smallest sensible sizes, for a smoke run (figures from a
quick run are not comparable with docs/benchmarks.md). The scripts need PostgreSQL on
127.0.0.1 (each creates its own database); bench_orders.py also needs Redis, and its partner
simulator receives webhooks on http://127.0.0.1, so `WEBHOOK_ALLOW_PRIVATE_URLS` defaults to
true for the benchmarks (the hub runs with production settings there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# In order; per script, the arguments `--quick` adds (from each script's own argparse).
SCRIPTS: dict[str, list[str]] = {
    "bench_ledger.py": ["--quick"],
    "bench_kyc.py": [],  # no sizes to choose: ~15 s either way
    "bench_settlement.py": ["--orders", "10000", "--lines", "10000"],
    "bench_submit_batch.py": ["--rounds", "2", "--sizes", "1,32"],
    "bench_orders.py": ["--orders", "200", "--paced-seconds", "3"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest sensible sizes")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(SCRIPTS),
        metavar="NAME",
        help=f"run only these, in the usual order ({', '.join(SCRIPTS)})",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("WEBHOOK_ALLOW_PRIVATE_URLS", "true")

    results: list[tuple[str, int, float]] = []
    for script, quick_args in SCRIPTS.items():
        if args.only and script not in args.only:
            continue
        command = [sys.executable, str(BENCH / script), *(quick_args if args.quick else [])]
        print(f"\n=== {script} {' '.join(command[2:])}".rstrip(), flush=True)
        started = time.monotonic()
        try:
            returncode = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        except KeyboardInterrupt:
            print(f"\n=== {script}: interrupted", flush=True)
            return 130
        results.append((script, returncode, time.monotonic() - started))

    print("\n=== summary")
    for script, returncode, elapsed in results:
        verdict = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
        print(f"{script:<22} {verdict:<20} {elapsed:7.1f} s")
    return 1 if any(returncode != 0 for _, returncode, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
