"""Ledger benchmark (issue 3), on PostgreSQL. Prints figures and the machine; not a test.

    .venv/bin/python bench/bench_ledger.py [--proof-entries 1000000] [--quick]

1. statements integrated per second at batch sizes 1, 100, 1000 (and 5000)
2. the naive design in the same run: lock a head row, append one hash-chained entry per
   transaction (1 writer and 8 writers)
3. inclusion / consistency proof latency with the log at --proof-entries entries
4. export + standalone verify, entries per second
5. two-phase transfers per second (pending + post, batched 100 per call)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _common import machine, percentiles, setup_django


def _queue_copies(n: int) -> None:
    """Queue n statements (one real operator-signed statement repeated: the integrator neither
    verifies nor cares about content, and each copy gets its own seq, so leaves differ)."""
    from ledger.models import Entry
    from partner_sdk.wire import canonical_json

    first = json.loads(bytes(Entry.objects.order_by("seq").first().leaf))
    statement, signature = canonical_json(first["statement"]), base64.b64decode(first["sig"])
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY ledger_queuedstatement (statement, signature, kind, signer, subject, queued_at) "
            "FROM STDIN"
        ) as copy,
    ):
        from django.utils import timezone

        now = timezone.now()
        for _ in range(n):
            copy.write_row((statement, signature, "bench.note", "HUB", "", now))


def bench_integration(results: dict) -> None:
    from ledger.services.log import ledger_integrate

    for batch, n in [(1, 300), (100, 10_000), (1000, 50_000), (5000, 50_000)]:
        _queue_copies(n)
        start = time.perf_counter()
        done = ledger_integrate(batch_size=batch)
        elapsed = time.perf_counter() - start
        assert done == n, (done, n)
        rate = n / elapsed
        results[f"integrate_batch_{batch}"] = rate
        print(
            f"  integration, batch {batch:>5}: {n:>7} statements in {elapsed:6.2f} s = "
            f"{rate:>9,.0f} statements/s"
        )


def bench_naive(results: dict) -> None:
    """The design DESIGN.md §4 rules out: every writer locks the head row and appends one
    hash-chained entry in its own transaction."""
    from django.db import connection, transaction

    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS bench_naive_entry, bench_naive_head")
        c.execute("CREATE TABLE bench_naive_head (id int primary key, seq bigint, hash bytea)")
        c.execute("INSERT INTO bench_naive_head VALUES (1, -1, %s)", [b"\0" * 32])
        c.execute("CREATE TABLE bench_naive_entry (seq bigint primary key, leaf bytea, hash bytea)")
    leaf = b'{"seq":0,"sig":"x","statement":{"kind":"bench.note"}}' * 4

    def append_one() -> None:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SELECT seq, hash FROM bench_naive_head WHERE id = 1 FOR UPDATE")
            seq, prev = c.fetchone()
            digest = hashlib.sha256(bytes(prev) + leaf).digest()
            c.execute("INSERT INTO bench_naive_entry VALUES (%s, %s, %s)", [seq + 1, leaf, digest])
            c.execute(
                "UPDATE bench_naive_head SET seq = %s, hash = %s WHERE id = 1", [seq + 1, digest]
            )

    for writers, per_writer in [(1, 2000), (8, 400)]:

        def run(count: int) -> None:
            try:
                for _ in range(count):
                    append_one()
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(per_writer,)) for _ in range(writers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        rate = writers * per_writer / elapsed
        results[f"naive_{writers}_writers"] = rate
        print(
            f"  naive head-row lock, {writers} writer(s): {writers * per_writer} appends in "
            f"{elapsed:5.2f} s = {rate:>7,.0f} appends/s"
        )


def bench_proofs(results: dict, target: int) -> None:
    from ledger.selectors.log import consistency_proof, inclusion_proof, tree_size
    from ledger.services.log import ledger_integrate
    from partner_sdk import merkle

    size = tree_size()
    if size < target:
        start = time.perf_counter()
        remaining = target - size
        while remaining:
            chunk = min(remaining, 100_000)
            _queue_copies(chunk)
            ledger_integrate(batch_size=5000)
            remaining -= chunk
        print(f"  (filled the log to {target:,} entries in {time.perf_counter() - start:.1f} s)")
    size = tree_size()
    rng = random.Random(7)
    samples = []
    for _ in range(1000):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        proof = inclusion_proof(index=index, size=size)
        samples.append((time.perf_counter() - t0) * 1000)
        assert len(proof.hashes) <= size.bit_length()
    p50, p99 = percentiles(samples)
    results["inclusion_proof_ms"] = (p50, p99)
    print(
        f"  inclusion proof at {size:,} entries: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(1000 random leaves, selector incl. DB round trips)"
    )
    samples = []
    for _ in range(300):
        first = rng.randrange(1, size)
        t0 = time.perf_counter()
        consistency_proof(first=first, second=size)
        samples.append((time.perf_counter() - t0) * 1000)
    p50, p99 = percentiles(samples)
    results["consistency_proof_ms"] = (p50, p99)
    print(f"  consistency proof to {size:,}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    # one proof checked end to end against the stored checkpoint root
    from ledger.models import Checkpoint, Entry

    cp = Checkpoint.objects.get(tree_size=size)
    proof = inclusion_proof(index=size // 3, size=size)
    leaf = bytes(Entry.objects.get(seq=size // 3).leaf)
    assert merkle.verify_inclusion(
        merkle.leaf_hash(leaf), size // 3, size, proof.hashes, bytes(cp.root_hash)
    )


def bench_export_verify(results: dict, verify_entries: int) -> None:
    from django.core.management import call_command

    from ledger.selectors.log import tree_size
    from partner_sdk.testing import build_export
    from partner_sdk.verify import verify_export

    out = Path(tempfile.mkdtemp(prefix="ledger-export-"))
    size = tree_size()
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("ledger", "export", "--out", str(out), stdout=quiet)
    elapsed = time.perf_counter() - start
    results["export_per_s"] = size / elapsed
    print(f"  export: {size:,} entries in {elapsed:.1f} s = {size / elapsed:,.0f} entries/s")
    # Verification speed is per entry and independent of the log's length (streaming), so it
    # is measured on an export of distinct, individually signed statements.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    records = [
        (
            "VALYOU-MY",
            key,
            "order.submitted",
            {
                "order_id": f"ord_{i:012d}",
                "send": {"amount": "1000.00", "currency": "MYR"},
                "kyc_ref": "kyc_01jbench0000000000000000",
                "commitment": "ab" * 32,
            },
        )
        for i in range(verify_entries)
    ]
    vdir = Path(tempfile.mkdtemp(prefix="ledger-verify-"))
    build_export(vdir, records)
    start = time.perf_counter()
    verify_export(vdir)
    elapsed = time.perf_counter() - start
    results["verify_per_s"] = verify_entries / elapsed
    print(
        f"  verify (partner_sdk, one process): {verify_entries:,} signed entries in "
        f"{elapsed:.1f} s = {verify_entries / elapsed:,.0f} entries/s"
    )
    sample = b"x" * 300
    t0 = time.perf_counter()
    sig = key.sign(sample)
    pub = key.public_key()
    for _ in range(2000):
        pub.verify(sig, sample)
    ed = 2000 / (time.perf_counter() - t0)
    results["ed25519_verify_per_s"] = ed
    print(f"  (bare Ed25519 verify on this core: {ed:,.0f}/s)")


def bench_transfers(results: dict) -> None:
    from institutions.models import Currency
    from ledger.models import AccountKind
    from ledger.services.money import TransferSpec, account_create, transfers_create

    myr = Currency.objects.get(code="MYR")
    funding = account_create(
        code=f"funding:bench:{uuid.uuid4().hex[:6]}", kind=AccountKind.FUNDING, currency=myr
    )
    wallets = [
        account_create(
            code=f"wallet:bench:{uuid.uuid4().hex[:12]}",
            kind=AccountKind.WALLET,
            currency=myr,
            debits_must_not_exceed_credits=True,
        )
        for _ in range(200)
    ]
    position = account_create(
        code=f"position:bench:{uuid.uuid4().hex[:6]}", kind=AccountKind.POSITION, currency=myr
    )
    transfers_create(
        transfers=[
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=funding.pk,
                credit_account_id=w.pk,
                amount=10_000_000,
            )
            for w in wallets
        ]
    )
    for batch, n in ((100, 20_000), (1000, 20_000)):
        _two_phase(results, wallets, position, batch, n)


def _two_phase(results: dict, wallets: list, position, batch: int, n: int) -> None:
    import uuid

    from ledger.services.money import TransferSpec, transfers_create

    start = time.perf_counter()
    for b in range(n // batch):
        pendings = [
            TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=wallets[(b * batch + i) % 200].pk,
                credit_account_id=position.pk,
                amount=100_00,
                kind="pending",
                timeout_seconds=3600,
            )
            for i in range(batch)
        ]
        transfers_create(transfers=pendings)
        transfers_create(
            transfers=[
                TransferSpec(
                    id=uuid.uuid4(),
                    debit_account_id=p.debit_account_id,
                    credit_account_id=p.credit_account_id,
                    amount=p.amount,
                    kind="post_pending",
                    pending_id=p.id,
                )
                for p in pendings
            ]
        )
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    results[f"two_phase_per_s_batch_{batch}"] = rate
    print(
        f"  two-phase transfers (pending, then post), calls of {batch}: {n:,} in "
        f"{elapsed:.1f} s = {rate:,.0f} two-phase/s = {2 * rate:,.0f} transfers/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proof-entries", type=int, default=1_000_000)
    parser.add_argument("--verify-entries", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=["transfers"], help="run one section")
    args = parser.parse_args()
    if args.quick:
        args.proof_entries, args.verify_entries = 20_000, 2_000
    print(f"machine: {machine()}")
    setup_django("remit_bench")
    from institutions import services as inst
    from ledger.services.log import ledger_integrate

    inst.institution_create(code="HUB", name="Hub", country="MY", currency="MYR", is_operator=True)
    ledger_integrate()
    results: dict = {}
    if args.only == "transfers":
        bench_transfers(results)
        return
    print("1. integration (single sequencer, COPY, one signed checkpoint per batch)")
    bench_integration(results)
    print("2. naive design, same database")
    bench_naive(results)
    print(
        f"   ratio at batch 1000 vs naive 8 writers: "
        f"{results['integrate_batch_1000'] / results['naive_8_writers']:.1f}x"
    )
    print("3. proofs")
    bench_proofs(results, args.proof_entries)
    print("4. export and verify")
    bench_export_verify(results, args.verify_entries)
    print("5. money ledger")
    bench_transfers(results)
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_ledger.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
