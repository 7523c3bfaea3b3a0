"""Submit throughput with transaction monitoring on and off, side by side in one run.

`orders_submit` batches (partner-signed, as bench_submit_batch.py) alternate between no rule
enabled and the 20 standard rules enabled (compliance migration 0002), so both see the same
database, caches and machine load. Prints ms per order and orders per second for each, and
their ratio (the goal: with rules, at least 80 % of the throughput without). Not a test.

    .venv/bin/python bench/bench_monitoring.py [--sizes 1,64] [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid

from _common import ROOT, machine, setup_django

VAR = ROOT / "var" / "bench-monitoring"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--customers", type=int, default=400)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ["REMIT_VAR_DIR"] = str(VAR)
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    setup_django(os.environ.get("BENCH_DB", "remit_bench_monitoring"))
    from config.celery import app

    app.conf.task_always_eager = False
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compliance.models import Alert, Rule
    from core.money import Money
    from institutions.models import Institution
    from partner_sdk.wire import format_time, make_statement, sign_statement
    from remittance.demo import demo_beneficiary, demo_sender
    from remittance.services.orders import SignedStatement, SubmitRequest, orders_submit
    from remittance.services.quotes import quote_create

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    creds = json.loads((VAR / "demo" / "PARTNER-MY.json").read_text())
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(creds["signing_key"]))
    partner = Institution.objects.get(code="PARTNER-MY")
    people = [
        (
            demo_sender(owner=partner, index=i).kyc_ref,
            demo_beneficiary(owner=partner, index=i).kyc_ref,
        )
        for i in range(args.customers)
    ]
    turn = 0

    def requests(n: int) -> list[SubmitRequest]:
        nonlocal turn
        out = []
        for _ in range(n):
            sender, beneficiary = people[turn % len(people)]
            turn += 1
            quote = quote_create(
                institution=partner,
                corridor_code="MY-PK",
                payout_method="mobile_wallet",
                send_amount=Money.parse("10.00", "MYR"),
            )
            order_id = uuid.uuid4()
            facts = {
                "order_id": str(order_id),
                "quote_id": quote.pk,
                "sender_kyc_ref": sender,
                "beneficiary_kyc_ref": beneficiary,
            }
            statement = make_statement(
                kind="order.submitted",
                at=format_time(quote.created_at),
                signer="PARTNER-MY",
                key_id=creds["key_id"],
                body=facts,
            )
            out.append(
                SubmitRequest(
                    sending_institution=partner,
                    order_id=order_id,
                    quote_id=quote.pk,
                    sender_kyc_ref=sender,
                    beneficiary_kyc_ref=beneficiary,
                    signed=SignedStatement(statement, sign_statement(key, statement)),
                )
            )
        return out

    def rules(on: bool) -> None:
        Rule.objects.update(enabled=on)

    all_rules = Rule.objects.count()
    orders_submit(requests(4))  # warm caches
    results: dict = {"rules": all_rules}
    for size in [int(s) for s in args.sizes.split(",")]:
        timings: dict[bool, list[float]] = {False: [], True: []}
        queries: dict[bool, int] = {}
        for n in range(args.rounds * 2):
            on = n % 2 == 1
            rules(on)
            batch = requests(size)
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                answers = orders_submit(batch)
                timings[on].append(time.perf_counter() - start)
            queries[on] = len(captured)
            bad = [a for a in answers if isinstance(a, Exception)]
            if bad:
                sys.exit(f"refused: {bad[0]!r}")
        rows = {}
        for on in (False, True):
            median = sorted(timings[on])[len(timings[on]) // 2]
            rows[on] = size / median
            print(
                f"  batch of {size:3d}, {'20 rules on ' if on else 'rules off   '}: "
                f"{median * 1000 / size:6.2f} ms per order, {size / median:7.0f} orders/s, "
                f"{queries[on]} queries per batch"
            )
        ratio = rows[True] / rows[False]
        print(f"  batch of {size:3d}: rules on / off = {ratio:.0%} of the throughput")
        results[size] = {"off_per_s": rows[False], "on_per_s": rows[True], "ratio": ratio}
    rules(False)
    print(f"  alerts raised during the run: {Alert.objects.count()}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_monitoring.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
