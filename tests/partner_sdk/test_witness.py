"""The witness as a real process (`python -m partner_sdk.witness`) against a small test hub:
an HTTP server on a free loopback port serving a log built with partner_sdk's own helpers.
The test hub can lie the three ways a log operator could — rewrite an entry already cosigned,
show one bank a different tree of the same size, truncate the log — and each time the
witnesses must refuse to cosign, keep the evidence, and say so; the tests read the evidence.
Also: catch-up from zero, kill -9 at random moments, a hub that is down."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from partner_sdk import merkle
from partner_sdk.note import (
    Checkpoint,
    NoteVerifier,
    cosigners_verified,
    parse_note,
    sign_checkpoint,
)
from partner_sdk.verify import verify_export
from partner_sdk.wire import (
    encode_b64,
    entry_bytes,
    key_id,
    make_statement,
    raw_public_key,
    sign_statement,
)
from partner_sdk.witness import EXIT_ALERT, state_load

ORIGIN = "hub.test/ledger/v1"
BANKS = ("PARTNER-MY", "TMB-PK")
WAIT = 30.0  # seconds any one expectation may take; every wait below is bounded by it


# --- the test hub ----------------------------------------------------------------------------


@dataclass
class Bank:
    code: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def api_key(self) -> str:
        return f"rk_{self.code.lower()}"

    @property
    def public_key(self) -> bytes:
        return raw_public_key(self.key)


class Log:
    """A log's leaves, built like the hub builds them: the operator's own `institution.joined`
    first, then the banks' announcements, then statements signed by their signers."""

    def __init__(self, operator: Ed25519PrivateKey, banks: dict[str, Bank]) -> None:
        self.operator = operator
        self.banks = banks
        self.leaves: list[bytes] = []
        self._counter = 0
        self.append_statement("HUB", operator, "institution.joined", self._joined("HUB", operator))
        for bank in banks.values():
            self.append_statement(
                "HUB", operator, "institution.joined", self._joined(bank.code, bank.key)
            )

    @staticmethod
    def _joined(code: str, key: Ed25519PrivateKey) -> dict[str, Any]:
        public_key = raw_public_key(key)
        return {
            "institution": code,
            "key_id": key_id(public_key),
            "public_key": encode_b64(public_key),
        }

    def append_statement(self, signer: str, key: Ed25519PrivateKey, kind: str, body: dict) -> None:
        statement = make_statement(
            kind=kind,
            at="2026-12-01T00:00:00.000Z",
            signer=signer,
            key_id=key_id(raw_public_key(key)),
            body=body,
        )
        self.leaves.append(entry_bytes(len(self.leaves), statement, sign_statement(key, statement)))

    def rewrite(self, seq: int, body: dict[str, Any]) -> None:
        """Replace entry `seq` by another statement the operator validly signs."""
        tail = self.leaves[seq + 1 :]
        self.leaves = self.leaves[:seq]
        self.append_statement("HUB", self.operator, "order.accepted", body)
        self.leaves += tail

    def grow(self, count: int, *, tag: str = "") -> None:
        """`count` more statements, alternating the operator and the banks as signers."""
        signers = [("HUB", self.operator)] + [(b.code, b.key) for b in self.banks.values()]
        for _ in range(count):
            self._counter += 1
            signer, key = signers[self._counter % len(signers)]
            body = {
                "order_id": f"{tag}{self._counter:08d}",
                "amount": {"amount": "10.00", "currency": "MYR"},
            }
            self.append_statement(signer, key, "order.accepted", body)

    def copy(self) -> Log:
        clone = Log.__new__(Log)
        clone.operator, clone.banks = self.operator, self.banks
        clone.leaves, clone._counter = list(self.leaves), self._counter
        return clone

    def root(self, size: int | None = None) -> bytes:
        hashes = [merkle.leaf_hash(leaf) for leaf in self.leaves[:size]]
        return merkle.root_from_leaf_hashes(hashes)

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        body = Checkpoint(ORIGIN, size, self.root(size))
        return sign_checkpoint(body, name=ORIGIN, private_key=self.operator)

    def consistency(self, first: int, second: int) -> list[bytes]:
        hashes = [merkle.leaf_hash(leaf) for leaf in self.leaves[:second]]

        def perfect(level: int, index: int) -> bytes:
            return merkle.root_from_leaf_hashes(hashes[index << level : (index + 1) << level])

        return merkle.consistency_proof(first, second, perfect)


class FakeLogHub:
    """The hub's ledger API as a witness uses it. `views` shows a bank another log than the
    common one (split view, rewrites); `down` answers 503 to everything. Cosignatures are
    checked like the real hub does and relayed to the other witnesses (gossip)."""

    def __init__(self) -> None:
        self.operator = Ed25519PrivateKey.generate()
        self.banks = {code: Bank(code) for code in BANKS}
        self.log = Log(self.operator, self.banks)
        self.views: dict[str, Log] = {}
        self.proof_override: dict[str, list[bytes]] = {}
        self.down = False
        self.cosignatures: dict[str, dict[int, tuple[str, str]]] = {code: {} for code in BANKS}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def vkey(self) -> str:
        return NoteVerifier(ORIGIN, raw_public_key(self.operator)).vkey

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def view(self, bank: str | None) -> Log:
        return self.views.get(bank or "", self.log)

    def cosigned(self, bank: str) -> dict[int, tuple[str, str]]:
        with self.lock:
            return dict(self.cosignatures[bank])

    def credentials(self, bank: str, directory: Path) -> Path:
        path = directory / f"{bank}.json"
        path.write_text(
            json.dumps(
                {
                    "institution": bank,
                    "hub_url": self.url,
                    "api_key": self.banks[bank].api_key,
                    "signing_key": base64.b64encode(
                        self.banks[bank].key.private_bytes_raw()
                    ).decode(),
                    "key_id": key_id(self.banks[bank].public_key),
                    "log_key": self.vkey,
                }
            )
        )
        return path

    # --- HTTP ---

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _bank(self) -> str | None:
                token = self.headers.get("authorization", "").removeprefix("Bearer ")
                return next((b.code for b in hub.banks.values() if b.api_key == token), None)

            def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if hub.down:
                    return self._send(503, {"code": "unavailable", "title": "down"})
                url = urlparse(self.path)
                query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
                bank = self._bank()
                log = hub.view(bank)
                if url.path == "/api/v1/ledger/checkpoint":
                    return self._send(200, log.checkpoint(), "text/plain; charset=utf-8")
                if url.path == "/api/v1/ledger/proofs/consistency":
                    first, second = query["first"], query["second"]
                    hashes = hub.proof_override.get(bank or "") or log.consistency(first, second)
                    body = {
                        "first": first,
                        "second": second,
                        "hashes": [encode_b64(h) for h in hashes],
                    }
                    return self._send(200, body)
                if url.path == "/api/v1/ledger/entries":
                    start, limit = query.get("start", 0), min(query.get("limit", 100), 1000)
                    leaves = log.leaves[start : start + limit]
                    entries = [
                        {"seq": start + i, "leaf": leaf.decode()} for i, leaf in enumerate(leaves)
                    ]
                    return self._send(200, {"tree_size": len(log.leaves), "entries": entries})
                if url.path == "/api/v1/ledger/witnesses":
                    return self._send(200, {"witnesses": hub._gossip()})
                return self._send(404, {"code": "not_found", "title": "Not found"})

            def do_POST(self) -> None:
                if hub.down:
                    return self._send(503, {"code": "unavailable", "title": "down"})
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                bank = self._bank()
                if self.path != "/api/v1/ledger/cosignatures" or bank is None:
                    return self._send(404, {"code": "not_found", "title": "Not found"})
                text, line = body["checkpoint"], body["cosignature"]
                note = text + "\n" + line
                if bank not in cosigners_verified(note, {bank: [hub.banks[bank].public_key]}):
                    return self._send(400, {"code": "invalid_signature", "title": "bad"})
                size = int(text.split("\n")[1])
                with hub.lock:
                    hub.cosignatures[bank][size] = (text, line)
                return self._send(201, {"tree_size": size, "witness": bank})

        return Handler

    def _gossip(self) -> list[dict[str, Any]]:
        """Each bank's latest cosigned checkpoint, relayed as the real hub does: the operator's
        line (re-signed over the text) and the bank's line."""
        relayed = []
        with self.lock:
            for bank, cosigned in self.cosignatures.items():
                if not cosigned:
                    continue
                text, line = cosigned[max(cosigned)]
                operator_line = parse_note(self._sign(text))[1][0].format()
                relayed.append(
                    {"institution": bank, "checkpoint": text + "\n" + operator_line + line}
                )
        return relayed

    def _sign(self, text: str) -> str:
        lines = text.split("\n")
        body = Checkpoint(lines[0], int(lines[1]), base64.b64decode(lines[2]))
        return sign_checkpoint(body, name=ORIGIN, private_key=self.operator)


# --- the witness process -----------------------------------------------------------------------


class WitnessProcess:
    def __init__(self, hub: FakeLogHub, bank: str, tmp: Path, *extra: str) -> None:
        self.bank = bank
        self.dir = tmp / f"witness-{bank}"
        self.log = tmp / f"witness-{bank}.log"
        self.credentials = hub.credentials(bank, tmp)
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str) -> WitnessProcess:
        args = [
            sys.executable, "-m", "partner_sdk.witness",
            "--credentials", str(self.credentials), "--state-dir", str(self.dir),
            "--interval", "0.1", "--max-seconds", "120", *self.extra, *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=self.log.open("a"), start_new_session=True
        )
        return self

    def wait(self, timeout: float = WAIT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)

    def state(self) -> Any:
        return state_load(self.dir)

    def evidence(self) -> Path:
        state = self.state()
        assert state is not None and state.halted, self.log.read_text()[-3000:]
        return self.dir / state.halted["evidence"]


def wait_for(predicate: Any, seconds: float = WAIT, *, proc: WitnessProcess | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    log = proc.log.read_text()[-4000:] if proc is not None else ""
    pytest.fail(f"timed out after {seconds} s\n{log}")


@pytest.fixture
def hub():
    test_hub = FakeLogHub()
    yield test_hub
    test_hub.close()


@pytest.fixture
def witnesses(hub, tmp_path):
    started: list[WitnessProcess] = []

    def make(bank: str, *extra: str) -> WitnessProcess:
        started.append(WitnessProcess(hub, bank, tmp_path, *extra))
        return started[-1]

    yield make
    for witness in started:
        witness.stop(signal.SIGKILL)


def checkpoint_of(note: str) -> Checkpoint:
    from partner_sdk.note import parse_checkpoint

    return parse_checkpoint(parse_note(note)[0])


def assert_cosigned_only_what_it_was_shown(hub: FakeLogHub, bank: str, log: Log) -> None:
    """Every cosignature the bank posted is valid and on a prefix of the log it was shown."""
    for size, (text, line) in hub.cosigned(bank).items():
        assert cosigners_verified(text + "\n" + line, {bank: [hub.banks[bank].public_key]})
        assert checkpoint_of(text + "\n" + line).root == log.root(size), size


# --- honest hub ------------------------------------------------------------------------------


def test_catches_up_from_zero_keeps_up_and_its_mirror_verifies(hub, witnesses):
    hub.log.grow(2_500)  # three pages
    size = len(hub.log.leaves)
    witness = witnesses("TMB-PK").start()
    wait_for(lambda: size in hub.cosigned("TMB-PK"), proc=witness)
    for _ in range(3):  # new batches are witnessed as they come
        hub.log.grow(7)
        grown = len(hub.log.leaves)
        wait_for(lambda: grown in hub.cosigned("TMB-PK"), proc=witness)  # noqa: B023
    assert witness.stop() == 0
    assert_cosigned_only_what_it_was_shown(hub, "TMB-PK", hub.log)
    # the state directory is an export the standalone verifier accepts, with its cosignature
    result = verify_export(
        witness.dir, checkpoint_key=NoteVerifier.from_vkey(hub.vkey), min_witnesses=1
    )
    assert (result.size, result.witnesses) == (len(hub.log.leaves), ("TMB-PK",))
    state = witness.state()
    assert state.halted is None and state.pending == []
    assert set(state.verified.keys) == {"HUB", *BANKS}  # learned from the log itself


def test_two_witnesses_cosign_the_same_checkpoints(hub, witnesses):
    """Each also cosigns the other's latest checkpoint once it proved it a prefix of its own,
    so checkpoints signed by both exist even when they poll at different moments."""
    hub.log.grow(50)
    first, second = witnesses("TMB-PK").start(), witnesses("PARTNER-MY").start()
    for _ in range(5):
        hub.log.grow(3)
        time.sleep(0.15)
    size = len(hub.log.leaves)

    def both() -> bool:
        return size in hub.cosigned("TMB-PK") and size in hub.cosigned("PARTNER-MY")

    wait_for(both, proc=first)
    assert first.stop() == 0 and second.stop() == 0
    common = set(hub.cosigned("TMB-PK")) & set(hub.cosigned("PARTNER-MY"))
    assert size in common


def test_kill_9_at_random_moments_resumes_and_never_cosigns_the_unverified(hub, witnesses):
    hub.log.grow(6_000)
    rng = random.Random(15)
    witness = witnesses("PARTNER-MY")
    for _ in range(6):
        witness.start()
        time.sleep(rng.uniform(0.05, 0.8))
        witness.stop(signal.SIGKILL)
        hub.log.grow(rng.randint(0, 40))
        state = witness.state()
        if state is not None:  # whatever it recorded is a prefix of the log
            mirror = (witness.dir / "entries.jsonl").read_bytes()
            assert len(mirror) >= state.progress.mirror_bytes
            recorded = mirror[: state.progress.mirror_bytes].splitlines()
            assert recorded == hub.log.leaves[: len(recorded)]
            assert len(recorded) == state.progress.size
    size = len(hub.log.leaves)
    witness.start()
    wait_for(lambda: size in hub.cosigned("PARTNER-MY"), proc=witness)
    assert witness.stop() == 0
    assert_cosigned_only_what_it_was_shown(hub, "PARTNER-MY", hub.log)
    verify_export(witness.dir, checkpoint_key=NoteVerifier.from_vkey(hub.vkey))


def test_backs_off_while_the_hub_is_down_then_witnesses(hub, witnesses):
    hub.log.grow(20)
    hub.down = True
    witness = witnesses("TMB-PK").start()
    wait_for(lambda: "retry in" in witness.log.read_text(), proc=witness)
    time.sleep(1.0)
    assert witness.proc.poll() is None  # still running, not crashed
    assert not hub.cosigned("TMB-PK")
    hub.down = False
    size = len(hub.log.leaves)
    wait_for(lambda: size in hub.cosigned("TMB-PK"), proc=witness)
    assert witness.stop() == 0


# --- a lying hub -----------------------------------------------------------------------------


def _honest_start(hub: FakeLogHub, witness: WitnessProcess) -> int:
    hub.log.grow(40)
    size = len(hub.log.leaves)
    witness.start()
    wait_for(lambda: size in hub.cosigned(witness.bank), proc=witness)
    return size


def _report(evidence: Path) -> dict[str, Any]:
    return json.loads((evidence / "report.json").read_text())


def test_a_rewritten_entry_already_cosigned_is_refused_with_the_failing_proof(hub, witnesses):
    witness = witnesses("TMB-PK", "--fail-fast")
    cosigned = _honest_start(hub, witness)
    # the hub rewrites seq 5 (a valid statement, signed by the operator) and carries on
    forged = hub.log.copy()
    forged.rewrite(5, {"order_id": "forged", "amount": {"amount": "99.00", "currency": "MYR"}})
    forged.grow(10)
    hub.log = forged
    assert witness.wait() == EXIT_ALERT
    evidence = witness.evidence()
    report = _report(evidence)
    assert report["kind"] == "inconsistent_checkpoint"
    proof = json.loads((evidence / "proof.json").read_text())
    assert (proof["first"], proof["second"]) == (cosigned, len(forged.leaves))
    previous = checkpoint_of((evidence / "previous_checkpoint.txt").read_text())
    new = checkpoint_of((evidence / "new_checkpoint.txt").read_text())
    # what it cosigned and what it was shown, both operator-signed, and the proof fails
    assert previous.size == cosigned and new.size == len(forged.leaves)
    assert not merkle.verify_consistency(
        previous.size,
        new.size,
        previous.root,
        new.root,
        [base64.b64decode(h) for h in proof["hashes"]],
    )
    assert max(hub.cosigned("TMB-PK")) == cosigned  # nothing cosigned after
    assert "ALERT inconsistent_checkpoint" in witness.log.read_text()


def test_new_entries_that_do_not_give_the_checkpoints_root_are_refused(hub, witnesses):
    witness = witnesses("TMB-PK", "--fail-fast")
    cosigned = _honest_start(hub, witness)
    # the checkpoint and proof are of the honest log grown by 30; the entries served are not
    grown = hub.log.copy()
    grown.grow(30)
    shown = hub.log.copy()
    shown.grow(30, tag="other-")
    hub.views["TMB-PK"] = _Mixed(grown, shown)
    assert witness.wait() == EXIT_ALERT
    evidence = witness.evidence()
    assert _report(evidence)["kind"] == "root_mismatch"
    unconfirmed = (evidence / "unconfirmed_entries.jsonl").read_bytes().splitlines()
    assert unconfirmed == shown.leaves[cosigned:]
    assert max(hub.cosigned("TMB-PK")) == cosigned


class _Mixed(Log):
    """Checkpoints and proofs of one log, entries of another."""

    def __init__(self, signed: Log, served: Log) -> None:
        self.__dict__.update(served.__dict__)
        self._signed = signed

    def checkpoint(self, size: int | None = None) -> str:
        return self._signed.checkpoint(size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return self._signed.consistency(first, second)


def test_a_split_view_is_caught_by_comparing_with_the_other_witness(hub, witnesses):
    tmb, partner = witnesses("TMB-PK"), witnesses("PARTNER-MY", "--fail-fast")
    common = _honest_start(hub, tmb)
    partner.start()
    wait_for(lambda: common in hub.cosigned("PARTNER-MY"), proc=partner)
    assert partner.stop() == 0
    # the hub now shows TMB-PK one tree and PARTNER-MY another, of the same size
    for bank, tag in (("TMB-PK", "a-"), ("PARTNER-MY", "b-")):
        view = hub.log.copy()
        view.grow(25, tag=tag)
        hub.views[bank] = view
    size = len(hub.views["TMB-PK"].leaves)
    assert size == len(hub.views["PARTNER-MY"].leaves)
    # alone, TMB-PK cannot tell: its view is a valid extension of what it cosigned
    wait_for(lambda: size in hub.cosigned("TMB-PK"), proc=tmb)
    # PARTNER-MY reads TMB-PK's cosigned checkpoint through the hub before it cosigns its own
    partner.start()
    assert partner.wait() == EXIT_ALERT
    evidence = partner.evidence()
    report = _report(evidence)
    assert report["kind"] == "split_view" and "TMB-PK" in report["reason"]
    theirs = (evidence / "other_checkpoint.txt").read_text()
    mine = (evidence / "new_checkpoint.txt").read_text()
    # two checkpoints of one size, both signed by the operator, different roots: proof that
    # the operator equivocated, and TMB-PK's cosignature says which tree it was shown
    operator = NoteVerifier.from_vkey(hub.vkey)
    from partner_sdk.note import open_checkpoint

    a, b = open_checkpoint(theirs, operator), open_checkpoint(mine, operator)
    assert a.size == b.size == size and a.root != b.root
    assert cosigners_verified(theirs, {"TMB-PK": [hub.banks["TMB-PK"].public_key]})
    assert a.root == hub.views["TMB-PK"].root() and b.root == hub.views["PARTNER-MY"].root()
    assert size not in hub.cosigned("PARTNER-MY")
    assert_cosigned_only_what_it_was_shown(hub, "PARTNER-MY", hub.views["PARTNER-MY"])


def test_a_truncated_log_is_refused_and_the_alert_stands_until_cleared(hub, witnesses):
    witness = witnesses("PARTNER-MY")
    cosigned = _honest_start(hub, witness)
    honest = hub.log
    truncated = honest.copy()
    truncated.leaves = honest.leaves[: cosigned - 10]
    hub.log = truncated
    wait_for(lambda: witness.state().halted, proc=witness)
    evidence = witness.evidence()
    assert _report(evidence)["kind"] == "log_truncated"
    assert checkpoint_of((evidence / "new_checkpoint.txt").read_text()).size == cosigned - 10
    assert checkpoint_of((evidence / "previous_checkpoint.txt").read_text()).size == cosigned
    # halted: up, idle, cosigning nothing — also once the log looks fine again and after a
    # restart — until an operator clears the alert
    assert witness.proc.poll() is None
    hub.log = honest
    honest.grow(5)
    time.sleep(1.0)
    assert witness.stop() == 0
    assert max(hub.cosigned("PARTNER-MY")) == cosigned
    status = subprocess.run(
        [sys.executable, "-m", "partner_sdk.witness", "--state-dir", str(witness.dir), "--status"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert status.returncode == EXIT_ALERT and "log_truncated" in status.stdout
    assert witness.start("--fail-fast").wait() == EXIT_ALERT
    cleared = subprocess.run(
        [
            sys.executable,
            "-m",
            "partner_sdk.witness",
            "--state-dir",
            str(witness.dir),
            "--clear-alert",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert cleared.returncode == 0, cleared.stderr
    witness.start()
    size = len(honest.leaves)
    wait_for(lambda: size in hub.cosigned("PARTNER-MY"), proc=witness)
    assert evidence.exists()  # the evidence stays


def test_an_entry_with_a_bad_signature_is_refused(hub, witnesses):
    witness = witnesses("TMB-PK", "--fail-fast")
    cosigned = _honest_start(hub, witness)
    tampered = hub.log.copy()
    tampered.grow(3)
    bad = tampered.leaves[cosigned + 1]
    signature = json.loads(bad)["sig"]
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    tampered.leaves[cosigned + 1] = bad.replace(signature.encode(), flipped.encode())
    hub.log = tampered
    assert witness.wait() == EXIT_ALERT
    evidence = witness.evidence()
    report = _report(evidence)
    assert report["kind"] == "bad_entry" and f"seq={cosigned + 1}" in report["reason"]
    assert (evidence / "entry.json").read_bytes() == tampered.leaves[cosigned + 1]


# --- keys come from the log ------------------------------------------------------------------


def _checker(operator: Ed25519PrivateKey):
    from partner_sdk.verify import EntryChecker
    from partner_sdk.witness import Snapshot, _LogKeys

    keys = _LogKeys(Snapshot(), raw_public_key(operator))
    return EntryChecker(keys), keys


def test_keys_are_learned_from_the_operators_statements_only():
    from partner_sdk.verify import VerificationError

    hub_key, bank = Ed25519PrivateKey.generate(), Bank("TMB-PK")
    log = Log(hub_key, {"TMB-PK": bank})
    log.grow(3)
    checker, keys = _checker(hub_key)
    for leaf in log.leaves:
        entry = checker.check(leaf)
        keys.learn(entry.statement, entry.seq)
    assert keys.operator == "HUB" and set(keys) == {"HUB", "TMB-PK"}
    # a bank announcing a key for another bank teaches nothing; the key stays unknown
    stranger = Ed25519PrivateKey.generate()
    log.append_statement("TMB-PK", bank.key, "key.rotated", Log._joined("PARTNER-MY", stranger))
    keys.learn(checker.check(log.leaves[-1]).statement, len(log.leaves) - 1)
    assert "PARTNER-MY" not in keys
    log.append_statement("PARTNER-MY", stranger, "order.accepted", {"order_id": "x"})
    with pytest.raises(VerificationError, match="unknown key PARTNER-MY"):
        checker.check(log.leaves[-1])


def test_the_first_entry_must_be_signed_with_the_pinned_operator_key():
    from partner_sdk.verify import VerificationError

    log = Log(Ed25519PrivateKey.generate(), {})
    checker, _ = _checker(Ed25519PrivateKey.generate())  # pinned: some other key
    with pytest.raises(VerificationError, match="seq=0"):
        checker.check(log.leaves[0])


def test_an_announcement_whose_key_id_is_not_its_keys_is_a_failed_check():
    from partner_sdk.verify import VerificationError

    hub_key = Ed25519PrivateKey.generate()
    log = Log(hub_key, {})
    body = Log._joined("TMB-PK", Ed25519PrivateKey.generate())
    body["key_id"] = "00" * 8
    log.append_statement("HUB", hub_key, "institution.joined", body)
    checker, keys = _checker(hub_key)
    keys.learn(checker.check(log.leaves[0]).statement, 0)
    with pytest.raises(VerificationError, match="announces a key"):
        keys.learn(checker.check(log.leaves[1]).statement, 1)
