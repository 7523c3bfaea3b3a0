"""A witness: a partner bank's own verified copy of the log, cosigning only what it checked.

    python -m partner_sdk.witness --credentials var/demo/TMB-PK.json \\
        --state-dir var/witness/TMB-PK [--log-key <name>+<hex id>+<base64 key>] \\
        [--hub-url URL] [--interval 1] [--fail-fast] [--once] [--max-seconds N]
    python -m partner_sdk.witness --state-dir var/witness/TMB-PK --status
    python -m partner_sdk.witness --state-dir var/witness/TMB-PK --clear-alert

No server imports: HTTP through `HubClient`, proofs and notes through `partner_sdk.merkle` and
`partner_sdk.note`, entries through the verifier's `EntryChecker` — a bank's own code.

On each new checkpoint the witness checks, in this order, and cosigns only if all hold:

1. the operator's signature, under the key pinned at first start (`--log-key`, or `log_key`
   in the credentials file), and the origin; the size never goes below a checkpoint it saw,
   and one size never has two roots;
2. the RFC 9162 consistency proof from its last cosigned checkpoint to the new one;
3. every new entry: canonical, contiguous seq, a v1 statement signed by a key the log itself
   announced (`institution.joined` / `key.rotated` signed by the operator; the first
   statement must be the operator's, under the pinned key);
4. the root recomputed from its mirror's frontier plus those entries is the checkpoint's;
5. gossip: every other witness's latest cosigned checkpoint (read from the hub, its line
   verified under that witness's key as the log announced it) agrees with the new one — the
   same size must have the same root, a smaller one must be a prefix (consistency proof).

Then it cosigns (C2SP tlog-cosignature: its institution code as cosigner name, its signing
key) and posts the line. It also cosigns the other witnesses' latest checkpoints once it has
proved them prefixes of its own, so the hub gathers checkpoints that every witness signed.

State (``--state-dir``), every file replaced atomically (temp file, fsync, rename, fsync of
the directory):

- ``state.json``: the pinned key; the last verified checkpoint (``verified``: its note, its
  size and frontier, the keys the log had announced, the mirror's length) and this witness's
  cosignature on it; ``progress`` past it during a catch-up (entries checked, not yet under a
  verified checkpoint); the largest checkpoint seen; cosignatures not yet acknowledged by the
  hub; ``halted`` once a check failed;
- ``entries.jsonl``, ``keys.json``, ``checkpoint.txt``: the mirror in the export format, so
  ``python -m partner_sdk.verify STATE_DIR --trusted-key …`` re-checks it (when caught up);
- ``evidence/<time>-<kind>/``: what a failed check saw (``report.json``, the checkpoints,
  the failing proof or entry).

Crash safety: entries are appended and fsynced before ``state.json`` counts them, and a start
truncates ``entries.jsonl`` to the length ``state.json`` records. A cosignature is made only
after every check passed and is written to ``state.json`` before it is posted (after a crash
it is posted again; the hub takes the same line twice as once). So kill -9 anywhere leaves a
state to resume from, and never a cosignature on something not verified.

A failed check halts the witness: it writes the evidence, logs ``ALERT``, records ``halted``
and cosigns nothing more — after a restart too — until an operator has looked and runs
``--clear-alert``. With ``--fail-fast`` it exits with status 3 so that monitoring can page;
without, it stays up and idle, repeating the alert every few minutes. A hub that is down or
answers 5xx is not a failed check: the witness backs off (up to a minute) and retries.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fcntl
import functools
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from partner_sdk.client import Conflict, HubClient, HubError, NotFound
from partner_sdk.merkle import CompactRange, verify_consistency
from partner_sdk.note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    cosign,
    cosigners_verified,
    open_checkpoint,
    parse_note,
)
from partner_sdk.verify import (
    CHECKPOINT_FILE,
    ENTRIES_FILE,
    KEYS_FILE,
    EntryChecker,
    VerificationError,
)
from partner_sdk.wire import WireFormatError, decode_b64, encode_b64, key_id

logger = logging.getLogger("partner_sdk.witness")

STATE_FILE = "state.json"
EVIDENCE_DIR = "evidence"
STATE_VERSION = 1
PAGE = 1000  # the hub's largest entries page
FLUSH_SECONDS = 2.0  # during a catch-up, progress is recorded at least this often
BACKOFF_BASE = 0.5
BACKOFF_CAP = 60.0
ALERT_REPEAT_SECONDS = 300.0
GOSSIP_IDLE_SECONDS = 5.0  # with no new checkpoint, compare with the other witnesses this often
COSIGNED_REMEMBERED = 64
EXIT_OK, EXIT_USAGE, EXIT_ALERT = 0, 2, 3
KEY_STATEMENTS = frozenset({"institution.joined", "key.rotated"})
_jitter = random.SystemRandom()
T = TypeVar("T")


class CheckFailed(Exception):
    """The hub showed something a witness must not cosign. ``evidence`` maps file names to
    their contents (text, or JSON-able), written under ``evidence/`` with a report."""

    def __init__(self, kind: str, reason: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.evidence = evidence or {}


class Transient(Exception):
    """The hub cannot answer usefully now (down, 5xx, a malformed answer, a page it lacks)."""


class Stopping(Exception):
    """SIGTERM or SIGINT arrived during a catch-up; progress so far is recorded."""


# --- durable files -------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a crash leaves the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _lock(directory: Path) -> IO[str]:
    """An exclusive lock on the state directory, held while the returned file is open."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / ".lock", "w")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SystemExit(f"another witness is using {directory}") from None
    return handle


# --- state ---------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The mirror at some size: its frontier, its length in ``entries.jsonl``, the statement
    keys the log had announced by then, and the operator's code (None before its first
    statement)."""

    size: int = 0
    frontier: list[bytes] = field(default_factory=list)
    mirror_bytes: int = 0
    keys: dict[str, dict[str, bytes]] = field(default_factory=dict)
    operator: str | None = None

    def tree(self) -> CompactRange:
        return CompactRange.from_hashes(self.size, self.frontier)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "frontier": [encode_b64(h) for h in self.frontier],
            "mirror_bytes": self.mirror_bytes,
            "keys": _keys_json(self.keys),
            "operator": self.operator,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            size=int(data["size"]),
            frontier=[decode_b64(h) for h in data["frontier"]],
            mirror_bytes=int(data["mirror_bytes"]),
            keys={
                code: {kid: decode_b64(pk) for kid, pk in by_id.items()}
                for code, by_id in data["keys"].items()
            },
            operator=data["operator"],
        )

    def copy(self) -> Snapshot:
        return Snapshot.from_json(self.to_json())


def _keys_json(keys: dict[str, dict[str, bytes]]) -> dict[str, dict[str, str]]:
    return {
        code: {kid: encode_b64(pk) for kid, pk in by_id.items()} for code, by_id in keys.items()
    }


@dataclass
class State:
    """What the witness knows, as ``state.json`` holds it. Invariants: verified.size ≤
    progress.size ≤ the size of ``seen_note``; ``verified_note`` is the operator-signed
    checkpoint of verified.size (None until one is verified) and ``verified_line`` this
    witness's cosignature on it."""

    institution: str
    log_key: str
    verified: Snapshot = field(default_factory=Snapshot)
    verified_note: str | None = None
    verified_line: str | None = None
    progress: Snapshot = field(default_factory=Snapshot)
    seen_note: str | None = None
    pending: list[dict[str, str]] = field(default_factory=list)
    cosigned: list[int] = field(default_factory=list)
    gossip: dict[str, str] = field(default_factory=dict)
    halted: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "institution": self.institution,
            "log_key": self.log_key,
            "verified": self.verified.to_json(),
            "verified_note": self.verified_note,
            "verified_line": self.verified_line,
            "progress": self.progress.to_json(),
            "seen_note": self.seen_note,
            "pending": self.pending,
            "cosigned": self.cosigned,
            "gossip": self.gossip,
            "halted": self.halted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        return cls(
            institution=data["institution"],
            log_key=data["log_key"],
            verified=Snapshot.from_json(data["verified"]),
            verified_note=data["verified_note"],
            verified_line=data["verified_line"],
            progress=Snapshot.from_json(data["progress"]),
            seen_note=data["seen_note"],
            pending=list(data["pending"]),
            cosigned=[int(n) for n in data["cosigned"]],
            gossip=dict(data["gossip"]),
            halted=data["halted"],
        )


def state_load(directory: Path) -> State | None:
    path = directory / STATE_FILE
    if not path.exists():
        return None
    return State.from_json(json.loads(path.read_bytes()))


def state_save(directory: Path, state: State) -> None:
    data = json.dumps(state.to_json(), indent=1, sort_keys=True).encode() + b"\n"
    atomic_write(directory / STATE_FILE, data)


def mirror_truncate(directory: Path, length: int) -> None:
    """Cut ``entries.jsonl`` back to ``length`` bytes (what ``state.json`` vouches for)."""
    mirror = directory / ENTRIES_FILE
    mirror.touch()
    size = mirror.stat().st_size
    if size < length:
        raise SystemExit(f"{mirror} is shorter than state.json records; restore it")
    if size > length:
        with open(mirror, "r+b") as fh:
            fh.truncate(length)
            fh.flush()
            os.fsync(fh.fileno())


class _LogKeys(dict[str, dict[str, bytes]]):
    """Statement keys as the log announced them (code → key id → raw key), for
    `EntryChecker`. Until the operator's first statement, every signer is looked up as the
    operator: only the pinned key verifies, so the first entry must be the operator's, and
    its signer is the operator's code."""

    def __init__(self, snapshot: Snapshot, pinned: bytes) -> None:
        super().__init__({code: dict(by_id) for code, by_id in snapshot.keys.items()})
        self.operator = snapshot.operator
        self.pinned = pinned

    def get(self, code: str, default: Any = None) -> Any:  # type: ignore[override]
        if self.operator is None:
            return {key_id(self.pinned): self.pinned}
        return super().get(code, default)

    def learn(self, statement: dict[str, Any], seq: int) -> None:
        """Take what a verified statement says about keys: the first one names the operator;
        the operator's `institution.joined` and `key.rotated` add an institution's key."""
        signer = statement["signer"]
        if self.operator is None:
            self.operator = signer
            self.setdefault(signer, {})[key_id(self.pinned)] = self.pinned
        if signer != self.operator or statement["kind"] not in KEY_STATEMENTS:
            return
        body = statement["body"]
        try:
            code = body["institution"]
            announced = body.get("key_id") or body.get("new_key_id")
            public_key = decode_b64(body["public_key"])
            valid = isinstance(code, str) and bool(code) and key_id(public_key) == announced
        except (KeyError, TypeError, AttributeError, WireFormatError):
            valid = False
        if not valid:
            raise VerificationError(seq, f"{statement['kind']} announces a key that is not its id")
        self.setdefault(code, {})[announced] = public_key


# --- the witness ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """An operator-signed checkpoint as fetched: ``note`` keeps the operator's line only."""

    note: str
    checkpoint: Checkpoint

    @property
    def text(self) -> str:
        return self.checkpoint.text()


def _size_root(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.size}:{encode_b64(checkpoint.root)}"


class Witness:
    """One institution's witness over one state directory (locked against a second one)."""

    def __init__(
        self,
        client: HubClient,
        state_dir: Path,
        *,
        log_key: NoteVerifier | None = None,
        interval: float = 1.0,
        fail_fast: bool = False,
    ) -> None:
        self.client = client
        self.dir = state_dir
        self.interval = interval
        self.fail_fast = fail_fast
        self.stop_event = threading.Event()
        self._lock = _lock(state_dir)
        self.state = self._load(log_key)
        self.pinned = NoteVerifier.from_vkey(self.state.log_key)
        mirror_truncate(self.dir, self.state.progress.mirror_bytes)
        self._export_files()
        self._last_alert = 0.0
        self._last_gossip = 0.0

    def _load(self, log_key: NoteVerifier | None) -> State:
        state = state_load(self.dir)
        if state is not None:
            if state.institution != self.client.institution:
                raise SystemExit(
                    f"{self.dir} holds {state.institution}'s witness state, not "
                    f"{self.client.institution}'s"
                )
            if log_key is not None and log_key.vkey != state.log_key:
                raise SystemExit(
                    "the log key given differs from the one this state pinned; a new operator "
                    "key is pinned deliberately, in a new state directory"
                )
            return state
        if log_key is None:
            raise SystemExit("pin the operator's key: --log-key, or log_key in the credentials")
        state = State(institution=self.client.institution, log_key=log_key.vkey)
        state_save(self.dir, state)
        return state

    def _save(self) -> None:
        state_save(self.dir, self.state)

    def _export_files(self) -> None:
        """keys.json and checkpoint.txt beside the mirror, for ``partner_sdk.verify``: the
        verified checkpoint with this witness's cosignature, and the keys the log announced."""
        if self.state.verified_note is None:
            return
        keys = {
            "origin": open_checkpoint(self.state.verified_note, self.pinned).origin,
            "checkpoint_key": {
                "name": self.pinned.name,
                "public_key": encode_b64(self.pinned.public_key_raw),
            },
            "institutions": _keys_json(self.state.verified.keys),
        }
        atomic_write(self.dir / KEYS_FILE, json.dumps(keys, indent=1, sort_keys=True).encode())
        note = self.state.verified_note + (self.state.verified_line or "")
        atomic_write(self.dir / CHECKPOINT_FILE, note.encode())

    # --- the loop ---

    def run(self, *, once: bool = False, max_seconds: float | None = None) -> int:
        """Witness until stopped (SIGTERM/SIGINT), `max_seconds` passed, or — with `once` —
        after one cycle. Returns the exit status."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        failures = 0
        while not self.stop_event.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if self.state.halted:
                self._alert_repeat()
                if self.fail_fast or once:
                    return EXIT_ALERT
                self._wait(deadline, ALERT_REPEAT_SECONDS / 10)
                continue
            started = time.monotonic()
            try:
                catching_up = self.cycle()
                failures = 0
            except CheckFailed as failure:
                self._halt(failure)
                continue
            except Stopping:
                break
            except (Transient, HubError) as exc:
                failures += 1
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures - 1, 10))
                delay += delay * _jitter.uniform(0, 0.25)
                logger.warning(
                    "hub not answering usefully (%s); retry in %.1f s", _brief(exc), delay
                )
                if once:
                    break
                self._wait(deadline, delay)
                continue
            if once:
                break
            if not catching_up:  # poll at a steady rate; a catch-up goes on at once
                self._wait(deadline, self.interval - (time.monotonic() - started))
        return EXIT_OK

    def _wait(self, deadline: float | None, seconds: float) -> None:
        if deadline is not None:
            seconds = max(0.0, min(seconds, deadline - time.monotonic()))
        self.stop_event.wait(seconds)

    def cycle(self) -> bool:
        """One round: post pending cosignatures, verify and cosign the latest checkpoint if it
        is new, compare with the other witnesses (each round with a new checkpoint, else every
        GOSSIP_IDLE_SECONDS). True while catching up (a page or more was new): the next round
        should start at once rather than after the poll interval."""
        self._post_pending()
        seen = self._fetch_checkpoint()
        new = 0 if seen is None else seen.checkpoint.size - self.state.verified.size
        if seen is not None and new > 0:
            self._advance(seen)
        if new > 0 or time.monotonic() - self._last_gossip >= GOSSIP_IDLE_SECONDS:
            self._gossip()
            self._last_gossip = time.monotonic()
        self._post_pending()
        return new >= PAGE

    def _hub(self, call: Callable[[], T]) -> T:
        """A hub call whose malformed answer (missing field, bad base64) is a glitch to retry,
        not evidence: only what verifies or fails verification counts."""
        try:
            return call()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Transient(f"malformed answer: {exc!r}") from None

    # --- checkpoints ---

    def _fetch_checkpoint(self) -> Seen | None:
        try:
            note = self._hub(self.client.checkpoint)
        except NotFound:
            return None  # the log is empty
        seen = self._open(note, "the checkpoint")
        self._check_against_known(seen)
        return seen

    def _open(self, note: str, label: str) -> Seen:
        """The operator-signed checkpoint in `note`, keeping the operator's line only."""
        try:
            checkpoint = open_checkpoint(note, self.pinned)
            text, lines = parse_note(note)
        except NoteError as exc:
            raise CheckFailed(
                "bad_checkpoint_signature",
                f"{label} is not signed by the pinned operator key: {exc}",
                {"new_checkpoint.txt": note, **self._known_evidence()},
            ) from None
        if self.state.verified_note is not None:
            origin = open_checkpoint(self.state.verified_note, self.pinned).origin
            if checkpoint.origin != origin:
                raise CheckFailed(
                    "origin_changed",
                    f"{label} has origin {checkpoint.origin!r}, not {origin!r}",
                    {"new_checkpoint.txt": note, **self._known_evidence()},
                )
        own = "".join(line.format() for line in lines if self.pinned.matches(line))
        return Seen(text + "\n" + own, checkpoint)

    def _known_evidence(self) -> dict[str, str]:
        evidence = {}
        if self.state.verified_note:
            evidence["previous_checkpoint.txt"] = self.state.verified_note + (
                self.state.verified_line or ""
            )
        if self.state.seen_note and self.state.seen_note != self.state.verified_note:
            evidence["seen_checkpoint.txt"] = self.state.seen_note
        return evidence

    def _check_against_known(self, seen: Seen) -> None:
        """A log never shrinks below a checkpoint it signed, and one size has one root."""
        for label, note in (("cosigned", self.state.verified_note), ("seen", self.state.seen_note)):
            if note is None:
                continue
            known = open_checkpoint(note, self.pinned)
            evidence = {"new_checkpoint.txt": seen.note, **self._known_evidence()}
            if seen.checkpoint.size < known.size:
                raise CheckFailed(
                    "log_truncated",
                    f"the hub serves size {seen.checkpoint.size}, below the {label} "
                    f"checkpoint of size {known.size}",
                    evidence,
                )
            if seen.checkpoint.size == known.size and seen.checkpoint.root != known.root:
                raise CheckFailed(
                    "split_view",
                    f"two operator-signed checkpoints of size {known.size} with different "
                    f"roots (the {label} one and the one served now)",
                    evidence,
                )

    def _consistency(
        self, old: Checkpoint, new: Checkpoint, kind: str, evidence: dict[str, Any]
    ) -> None:
        """Fetch and verify the proof that `old` is a prefix of `new`, or CheckFailed."""
        if old.size == 0 or old.size == new.size:
            return
        proof = self._hub(lambda: self.client.consistency_proof(old.size, new.size))
        if not verify_consistency(old.size, new.size, old.root, new.root, proof):
            raise CheckFailed(
                kind,
                f"the consistency proof from size {old.size} to {new.size} does not verify",
                {
                    **evidence,
                    "proof.json": {
                        "first": old.size,
                        "second": new.size,
                        "first_root": encode_b64(old.root),
                        "second_root": encode_b64(new.root),
                        "hashes": [encode_b64(h) for h in proof],
                    },
                },
            )

    def _advance(self, seen: Seen) -> None:
        """Verify everything between the verified checkpoint and `seen`; then cosign it."""
        state = self.state
        evidence = {"new_checkpoint.txt": seen.note, **self._known_evidence()}
        for note in dict.fromkeys(n for n in (state.verified_note, state.seen_note) if n):
            known = open_checkpoint(note, self.pinned)
            self._consistency(known, seen.checkpoint, "inconsistent_checkpoint", evidence)
        if state.seen_note is None or (
            seen.checkpoint.size > open_checkpoint(state.seen_note, self.pinned).size
        ):
            state.seen_note = seen.note
            self._save()
        self._catch_up(seen, evidence)
        self._gossip_check(seen, evidence)
        state.verified = state.progress.copy()
        state.verified_note = seen.note
        state.verified_line = None
        self._cosign(seen)
        logger.info("verified and cosigned size %d", seen.checkpoint.size)

    def _catch_up(self, seen: Seen, evidence: dict[str, Any]) -> None:
        """Check entries [progress.size, seen.size) into the mirror; the root they give must
        be the checkpoint's."""
        progress = self.state.progress
        keys = _LogKeys(progress, self.pinned.public_key_raw)
        checker = EntryChecker(keys, start=progress.tree())
        target = seen.checkpoint.size
        written = progress.mirror_bytes
        with open(self.dir / ENTRIES_FILE, "ab") as mirror:
            buffered: list[bytes] = []
            last_flush = time.monotonic()
            for leaves in self._pages(checker.size, target):
                for leaf in leaves:
                    try:
                        entry = checker.check(leaf)
                        keys.learn(entry.statement, entry.seq)
                    except VerificationError as exc:
                        raise CheckFailed(
                            "bad_entry",
                            str(exc),
                            {**evidence, "entry.json": leaf.decode("utf-8", "replace")},
                        ) from None
                    buffered.append(leaf)
                stopping = self.stop_event.is_set()
                if stopping or checker.size == target or time.monotonic() - last_flush > 2:
                    written = self._flush(mirror, written, buffered, checker, keys)
                    buffered, last_flush = [], time.monotonic()
                if stopping and checker.size < target:
                    raise Stopping()
        if checker.root() != seen.checkpoint.root:
            raise CheckFailed(
                "root_mismatch",
                f"the entries served up to size {target} do not give the checkpoint's root",
                {
                    **evidence,
                    "recomputed_root.txt": encode_b64(checker.root()) + "\n",
                    "unconfirmed_entries.jsonl": self._mirror_unconfirmed(),
                },
            )

    def _pages(self, start: int, end: int) -> Iterator[list[bytes]]:
        """Entry pages of [start, end) in order; the next page is fetched while the caller
        checks this one, so the hub's time overlaps the signature checks."""
        if start >= end:
            return

        def fetch(at: int) -> list[bytes]:
            return self._hub(lambda: self.client.entries(at, min(PAGE, end - at)))

        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="witness-fetch") as pool:
            position = start
            future = pool.submit(fetch, position)
            while position < end:
                leaves = future.result()[: end - position]
                if not leaves:
                    raise Transient(f"the hub has no entries from seq {position} yet")
                position += len(leaves)
                if position < end:
                    future = pool.submit(fetch, position)
                yield leaves

    def _flush(
        self,
        mirror: IO[bytes],
        written: int,
        leaves: list[bytes],
        checker: EntryChecker,
        keys: _LogKeys,
    ) -> int:
        """Append checked entries to the mirror and fsync, then record the progress."""
        data = b"".join(leaf + b"\n" for leaf in leaves)
        if data:
            mirror.write(data)
            mirror.flush()
            os.fsync(mirror.fileno())
        progress = self.state.progress
        progress.size = checker.size
        progress.frontier = list(checker.frontier)
        progress.mirror_bytes = written + len(data)
        progress.keys = {code: dict(by_id) for code, by_id in keys.items()}
        progress.operator = keys.operator
        self._save()
        return progress.mirror_bytes

    def _mirror_unconfirmed(self) -> str:
        start = self.state.verified.mirror_bytes
        with open(self.dir / ENTRIES_FILE, "rb") as fh:
            fh.seek(start)
            data = fh.read(self.state.progress.mirror_bytes - start)
        return data.decode("utf-8", "replace")

    # --- cosigning ---

    def _cosign(self, seen: Seen) -> None:
        """Cosign a verified checkpoint (ours, or another witness's proven a prefix of ours):
        the line is in state.json before anything is posted."""
        state = self.state
        if seen.checkpoint.size in state.cosigned or any(
            p["checkpoint"] == seen.text for p in state.pending
        ):
            self._save()
            return
        line = cosign(
            seen.text,
            name=self.client.institution,
            private_key=self.client.signing_key,
            timestamp=int(time.time()),
        )
        state.pending.append({"checkpoint": seen.text, "line": line})
        if state.verified_note == seen.note:
            state.verified_line = line
        self._save()
        self._export_files()

    def _post_pending(self) -> None:
        while self.state.pending:
            item = self.state.pending[0]
            try:
                self._hub(
                    functools.partial(
                        self.client.cosignature_submit, item["checkpoint"], item["line"]
                    )
                )
            except Conflict as exc:
                if exc.code == "inconsistent_checkpoint":
                    raise CheckFailed(
                        "checkpoint_disowned",
                        "the hub says it never published a checkpoint signed with its key",
                        {"new_checkpoint.txt": item["checkpoint"], **self._known_evidence()},
                    ) from None
                if exc.code != "conflict":
                    raise
                # the hub holds another line of ours on it (a timestamp from before a crash)
            size = int(item["checkpoint"].split("\n")[1])
            self.state.pending.pop(0)
            self.state.cosigned = [*self.state.cosigned, size][-COSIGNED_REMEMBERED:]
            self._save()

    # --- gossip ---

    def _others(self) -> list[tuple[str, Seen, str]]:
        """Other witnesses' latest cosigned checkpoints whose cosignature verifies under that
        witness's key as the log announced it, and the operator's line under the pinned key
        (anything else the hub relays is no evidence of anything, and is skipped)."""
        # progress: the keys of every entry checked so far (≥ the verified ones)
        operator = self.state.progress.operator
        cosigner_keys = {
            code: list(by_id.values())
            for code, by_id in self.state.progress.keys.items()
            if code not in (self.client.institution, operator)
        }
        try:
            relayed = self._hub(self.client.witnesses)
        except NotFound:
            return []  # a hub without the gossip endpoint
        found = []
        for item in relayed:
            code, note = item.get("institution"), item.get("checkpoint")
            if not isinstance(note, str) or code not in cosigner_keys:
                continue
            try:
                if code not in cosigners_verified(note, {code: cosigner_keys[code]}):
                    continue
                found.append((code, self._open(note, f"{code}'s cosigned checkpoint"), note))
            except (NoteError, CheckFailed) as exc:
                logger.warning("skipping what the hub relays for %s: %s", code, exc)
        return found

    def _gossip_check(self, mine: Seen, evidence: dict[str, Any]) -> list[Seen]:
        """Every other witness's cosigned checkpoint must agree with `mine`; returns those
        that are prefixes of it (or it)."""
        prefixes = []
        for code, other, relayed in self._others():
            theirs = other.checkpoint
            context = {**evidence, "other_checkpoint.txt": relayed, "other_witness.txt": code}
            if theirs.size == mine.checkpoint.size and theirs.root != mine.checkpoint.root:
                raise CheckFailed(
                    "split_view",
                    f"{code} cosigned a different tree of size {theirs.size}",
                    {**context, "new_checkpoint.txt": mine.note},
                )
            if theirs.size > mine.checkpoint.size:
                continue  # we are behind: checked once we get there
            if self.state.gossip.get(code) != _size_root(theirs):
                self._consistency(theirs, mine.checkpoint, "split_view", context)
                self.state.gossip[code] = _size_root(theirs)
            prefixes.append(other)
        return prefixes

    def _gossip(self) -> None:
        """Compare the verified checkpoint with the other witnesses' and cosign theirs that
        are prefixes of it, so the hub gathers checkpoints every witness signed."""
        if self.state.verified_note is None:
            return
        mine = Seen(
            self.state.verified_note, open_checkpoint(self.state.verified_note, self.pinned)
        )
        evidence = {"new_checkpoint.txt": mine.note, **self._known_evidence()}
        for other in self._gossip_check(mine, evidence):
            if other.checkpoint.size not in self.state.cosigned:
                self._cosign(other)

    # --- alerts ---

    def _halt(self, failure: CheckFailed) -> None:
        path = evidence_write(self.dir, failure, self.client.institution)
        self.state.halted = {
            "kind": failure.kind,
            "reason": failure.reason,
            "evidence": str(path.relative_to(self.dir)),
            "at": datetime.now(UTC).isoformat(),
        }
        self._save()
        self._last_alert = time.monotonic()
        logger.critical(
            "ALERT %s: %s; cosigning nothing; evidence in %s", failure.kind, failure.reason, path
        )

    def _alert_repeat(self) -> None:
        if self._last_alert and time.monotonic() - self._last_alert < ALERT_REPEAT_SECONDS:
            return
        self._last_alert = time.monotonic()
        halted = self.state.halted or {}
        logger.critical(
            "ALERT %s: %s (since %s); cosigning nothing; evidence in %s; after review: "
            "python -m partner_sdk.witness --state-dir %s --clear-alert",
            halted.get("kind"),
            halted.get("reason"),
            halted.get("at"),
            self.dir / str(halted.get("evidence", "")),
            self.dir,
        )


def _brief(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def evidence_write(directory: Path, failure: CheckFailed, institution: str) -> Path:
    """Write `failure`'s evidence into a new directory under ``evidence/``, whole or not at
    all (written under a temporary name, then renamed)."""
    now = datetime.now(UTC)
    name = f"{now:%Y%m%dT%H%M%S.%fZ}-{failure.kind}"
    final = directory / EVIDENCE_DIR / name
    tmp = directory / EVIDENCE_DIR / f".{name}.tmp"
    tmp.mkdir(parents=True)
    report = {
        "kind": failure.kind,
        "reason": failure.reason,
        "witness": institution,
        "at": now.isoformat(),
        "files": sorted(failure.evidence),
    }
    for file_name, content in {"report.json": report, **failure.evidence}.items():
        if isinstance(content, dict | list):
            data = json.dumps(content, indent=1, sort_keys=True).encode() + b"\n"
        else:
            data = str(content).encode()
        with open(tmp / file_name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return final


# --- command line ----------------------------------------------------------------------------


def status(directory: Path) -> tuple[int, dict[str, Any]]:
    """What a monitor asks: sizes, pending cosignatures, the alert. Exit 3 when halted."""
    state = state_load(directory)
    if state is None:
        return EXIT_USAGE, {"error": f"no witness state in {directory}"}

    def size(note: str | None) -> int | None:
        return None if note is None else int(parse_note(note)[0].split("\n")[1])

    summary = {
        "institution": state.institution,
        "verified_size": state.verified.size if state.verified_note else None,
        "progress_size": state.progress.size,
        "seen_size": size(state.seen_note),
        "pending_cosignatures": len(state.pending),
        "halted": state.halted,
    }
    return (EXIT_ALERT if state.halted else EXIT_OK), summary


def clear_alert(directory: Path) -> State:
    """After an operator reviewed the evidence: resume from the last verified checkpoint,
    forgetting what was seen or checked past it (the evidence stays)."""
    with _lock(directory):
        state = state_load(directory)
        if state is None:
            raise SystemExit(f"no witness state in {directory}")
        state.halted = None
        state.progress = state.verified.copy()
        state.seen_note = state.verified_note
        state.gossip = {}
        state_save(directory, state)
        mirror_truncate(directory, state.progress.mirror_bytes)
    return state


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m partner_sdk.witness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--state-dir", required=True, type=Path, help="e.g. var/witness/<CODE>")
    p.add_argument("--credentials", type=Path, help="the onboarding file, var/demo/<CODE>.json")
    p.add_argument("--hub-url", help="override the credentials file's hub_url")
    p.add_argument(
        "--log-key",
        help="the operator's checkpoint key, <name>+<hex key id>+<base64 key> (pinned at the "
        "first start; default: log_key in the credentials file)",
    )
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
    p.add_argument("--fail-fast", action="store_true", help="exit 3 when a check fails")
    p.add_argument("--once", action="store_true", help="one cycle, then exit")
    p.add_argument("--max-seconds", type=float, help="stop after this long")
    p.add_argument("--status", action="store_true", help="print the state; exit 3 if halted")
    p.add_argument("--clear-alert", action="store_true", help="resume after a reviewed alert")
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s witness %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.status:
        code, summary = status(args.state_dir)
        print(json.dumps(summary, indent=1, sort_keys=True))
        return code
    if args.clear_alert:
        clear_alert(args.state_dir)
        print(f"alert cleared; {args.state_dir} resumes from its last verified checkpoint")
        return EXIT_OK
    if args.credentials is None:
        print("--credentials is required to witness", file=sys.stderr)
        return EXIT_USAGE
    credentials = json.loads(args.credentials.read_text())
    vkey = args.log_key or credentials.get("log_key")
    try:
        log_key = NoteVerifier.from_vkey(vkey) if vkey else None
    except NoteError as exc:
        print(f"bad log key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    client = HubClient.from_credentials(args.credentials, base_url=args.hub_url)
    witness = Witness(
        client, args.state_dir, log_key=log_key, interval=args.interval, fail_fast=args.fail_fast
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: witness.stop_event.set())
    logger.info(
        "witness %s on %s, state in %s, verified size %s",
        client.institution,
        client.base_url,
        args.state_dir,
        witness.state.verified.size if witness.state.verified_note else "none",
    )
    try:
        return witness.run(once=args.once, max_seconds=args.max_seconds)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
