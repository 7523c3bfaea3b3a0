"""`orders_submit` and `orders_answer` in process, by batch size: what one batch of partner
submits, and of the receiving bank's accepts and credits, costs the hub (CPU of the web
process and its round trips to PostgreSQL), without HTTP. Prints ms per batch, ms per order
and queries per batch, and the machine; not a test.

    .venv/bin/python bench/bench_submit_batch.py [--sizes 1,8,32,64] [--rounds 5] [--profile 32]

`--profile N` prints a cProfile summary of batches of N (top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import pstats
import sys
import time
import uuid

from _common import ROOT, machine, setup_django

VAR = ROOT / "var" / "bench-submit"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,8,32,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--queries", action="store_true", help="print one batch's SQL")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ["REMIT_VAR_DIR"] = str(VAR)
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
    setup_django("remit_bench_submit")
    from config.celery import app

    app.conf.task_always_eager = False  # tasks go to the broker (nobody consumes them here)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.money import Money
    from institutions.models import Institution
    from partner_sdk.wire import format_time, make_statement, sign_statement
    from remittance.demo import demo_beneficiary, demo_sender
    from remittance.services.orders import (
        AnswerRequest,
        SignedStatement,
        SubmitRequest,
        orders_answer,
        orders_submit,
    )
    from remittance.services.quotes import quote_create

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    creds = json.loads((VAR / "demo" / "PARTNER-MY.json").read_text())
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(creds["signing_key"]))
    partner = Institution.objects.get(code="PARTNER-MY")
    tmb_creds = json.loads((VAR / "demo" / "TMB-PK.json").read_text())
    tmb_key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(tmb_creds["signing_key"]))
    tmb = Institution.objects.get(code="TMB-PK")

    def answer(order, step: str) -> AnswerRequest:
        facts: dict = {"order_id": str(order.pk)}
        amount = Money.from_minor(order.receive_minor, order.receive_currency)
        if step == "credit":
            facts.update(
                payout_reference=f"EP-{str(order.pk)[:8]}", receive_amount=amount.to_wire()
            )
        statement = make_statement(
            kind="order.accepted" if step == "accept" else "order.credited",
            at=format_time(order.created_at),
            signer="TMB-PK",
            key_id=tmb_creds["key_id"],
            body=facts,
        )
        return AnswerRequest(
            step=step,
            institution=tmb,
            order_id=order.pk,
            signed=SignedStatement(statement, sign_statement(tmb_key, statement)),
            payout_reference=facts.get("payout_reference", ""),
            receive_amount=amount if step == "credit" else None,
        )

    people = [
        (
            demo_sender(owner=partner, index=i).kyc_ref,
            demo_beneficiary(owner=partner, index=i).kyc_ref,
        )
        for i in range(args.customers)
    ]
    sizes = [int(s) for s in args.sizes.split(",")]
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

    orders_submit(requests(4))  # warm caches (keys, accounts)
    results: dict = {}
    submitted: list[list] = []
    for size in sizes:
        timings, queries = [], 0
        for _ in range(args.rounds):
            batch = requests(size)
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                answers = orders_submit(batch)
                timings.append(time.perf_counter() - start)
            submitted.append(answers)
            queries = len(captured)
            if args.queries and _ == 0:
                for q in captured.captured_queries:
                    print(f"    {float(q['time']) * 1000:5.1f} ms  {q['sql'][:150]}")
            bad = [a for a in answers if isinstance(a, Exception)]
            if bad:
                sys.exit(f"refused: {bad[0]!r}")
        best = sorted(timings)[len(timings) // 2] * 1000
        results[size] = best
        print(
            f"  submit, batch of {size:3d}: {best:7.1f} ms per batch, {best / size:5.2f} ms "
            f"per order, {queries} queries"
        )
        for step in ("accept", "credit"):
            step_timings = []
            for orders in submitted[-args.rounds :]:
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    answers = orders_answer([answer(o, step) for o in orders])
                    step_timings.append(time.perf_counter() - start)
                bad = [a for a in answers if isinstance(a, Exception)]
                if bad:
                    sys.exit(f"{step} refused: {bad[0]!r}")
                if args.queries and step == "credit" and len(step_timings) == 1:
                    for q in captured.captured_queries:
                        print(f"    {float(q['time']) * 1000:5.1f} ms  {q['sql'][:150]}")
            median = sorted(step_timings)[len(step_timings) // 2] * 1000
            results[f"{step}_{size}"] = median
            print(
                f"  {step}, batch of {size:3d}: {median:7.1f} ms per batch, "
                f"{median / size:5.2f} ms per order, {len(captured)} queries"
            )
    if args.profile:
        batch = requests(args.profile)
        profiler = cProfile.Profile()
        profiler.enable()
        orders_submit(batch)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_submit_batch.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
