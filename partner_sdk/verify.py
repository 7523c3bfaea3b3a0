"""Verify a ledger export with no database and no Django: ``python -m partner_sdk.verify DIR``.

``DIR`` holds ``entries.jsonl`` (canonical leaf bytes, one per line, each ending in ``\\n``),
``checkpoint.txt`` (the operator's signed checkpoint) and ``keys.json``. Entries are streamed:
memory stays O(log n) however long the log is. The first failure is reported with the ``seq`` of
the line it happened on (its 0-based position, which is what that line's seq must be).

Exit status 0 means every entry is canonical, contiguous and signed by a known institution key,
the checkpoint is signed by the operator key and commits to exactly these entries, and (with
``--previous-checkpoint``) the older checkpoint is a prefix of this log.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from partner_sdk.merkle import CompactRange, leaf_hash
from partner_sdk.note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    cosigners_verified,
    open_checkpoint,
)
from partner_sdk.wire import (
    Entry,
    WireFormatError,
    decode_b64,
    encode_b64,
    key_id,
    parse_entry,
    validate_statement,
    verify_statement_bytes,
)

ENTRIES_FILE = "entries.jsonl"
CHECKPOINT_FILE = "checkpoint.txt"
KEYS_FILE = "keys.json"
MAX_LINE_BYTES = 1 << 20

InstitutionKeys = Mapping[str, Mapping[str, bytes]]
"""institution code → statement key id → raw Ed25519 public key."""


class VerificationError(Exception):
    """The export is not valid; ``where`` is a seq, or a label such as ``"checkpoint"``."""

    def __init__(self, where: int | str, reason: str) -> None:
        super().__init__(where, reason)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        label = f"seq={self.where}" if isinstance(self.where, int) else self.where
        return f"{label}: {self.reason}"


class EntryChecker:
    """Checks ledger entries in seq order and folds them into a Merkle frontier.

    Reusable by the server's own verifier: feed it the leaf bytes in seq order. Every entry must
    be canonical, carry the next seq, be a v1 statement whose signer and key id are known (the
    key id being that key's), and carry a valid domain-separated Ed25519 signature.
    """

    def __init__(self, institutions: InstitutionKeys, *, start: CompactRange | None = None) -> None:
        """``start``: resume after entries already checked (their frontier); the next entry
        must then carry seq ``start.size``. ``institutions`` is read at each entry, so keys
        added to it later (a witness learns them from the log) are used from then on."""
        self._institutions = institutions
        self._keys: dict[tuple[str, str], Ed25519PublicKey] = {}
        self._tree = start.copy() if start is not None else CompactRange()
        self.last_completed: list[tuple[int, int, bytes]] = []
        """Perfect nodes ``(level, index, hash)`` completed by the last accepted entry."""

    @property
    def size(self) -> int:
        """How many entries have been accepted; also the seq the next entry must carry."""
        return self._tree.size

    def root(self) -> bytes:
        """Merkle root of the entries accepted so far."""
        return self._tree.root()

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """The compact range (one hash per set bit of ``size``, largest subtree first)."""
        return self._tree.hashes

    def check(self, leaf: bytes) -> Entry:
        """Accept the next entry's leaf bytes or raise ``VerificationError`` naming its seq."""
        seq = self.size
        try:
            entry = parse_entry(leaf)
        except WireFormatError as exc:
            raise VerificationError(seq, str(exc)) from exc
        if entry.seq != seq:
            raise VerificationError(seq, f"expected seq {seq}, found {entry.seq}")
        self._check_statement(seq, entry)
        self.last_completed = self._tree.append(leaf_hash(entry.raw))
        return entry

    def _check_statement(self, seq: int, entry: Entry) -> None:
        try:
            validate_statement(entry.statement, canonical_checked=True)
        except WireFormatError as exc:
            raise VerificationError(seq, str(exc)) from exc
        signer, statement_key_id = entry.statement["signer"], entry.statement["key_id"]
        public_key = self._institutions.get(signer, {}).get(statement_key_id)
        if public_key is None:
            raise VerificationError(seq, f"unknown key {signer}/{statement_key_id}")
        verifier = self._keys.get((signer, statement_key_id))
        if verifier is None:
            if key_id(public_key) != statement_key_id:
                raise VerificationError(seq, f"key_id {statement_key_id} does not match its key")
            verifier = Ed25519PublicKey.from_public_bytes(public_key)
            self._keys[(signer, statement_key_id)] = verifier
        if not verify_statement_bytes(verifier, entry.statement_bytes, entry.signature):
            raise VerificationError(seq, "invalid statement signature")


@dataclass(frozen=True)
class ExportKeys:
    """The parsed ``keys.json``."""

    origin: str
    checkpoint_key: NoteVerifier
    institutions: dict[str, dict[str, bytes]]


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    size: int
    root: bytes
    origin: str
    previous_size: int | None = None
    witnesses: tuple[str, ...] = ()

    def summary(self) -> str:
        line = f"OK entries={self.entries} size={self.size} root={encode_b64(self.root)}"
        if self.previous_size is not None:
            line += f" consistent-with-size={self.previous_size}"
        if self.witnesses:
            line += f" witnesses={','.join(self.witnesses)}"
        return line


def load_keys(path: Path) -> ExportKeys:
    """Parse ``keys.json``; raise ``VerificationError("keys", …)`` if it is malformed."""
    try:
        data = json.loads(path.read_bytes())
        return ExportKeys(
            origin=_require_str(data["origin"]),
            checkpoint_key=NoteVerifier(
                _require_str(data["checkpoint_key"]["name"]),
                decode_b64(data["checkpoint_key"]["public_key"]),
            ),
            institutions={
                _require_str(code): {_require_str(kid): _public_key(pk) for kid, pk in keys.items()}
                for code, keys in data["institutions"].items()
            },
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError("keys", f"{path.name} is not usable: {exc!r}") from exc


def _public_key(value: Any) -> bytes:
    raw = decode_b64(value)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    return raw


def _require_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty string, got {value!r}")
    return value


def _read_checkpoint(path: Path, verifier: NoteVerifier, origin: str, label: str) -> Checkpoint:
    try:
        checkpoint = open_checkpoint(path.read_bytes(), verifier)
    except OSError as exc:
        raise VerificationError(label, f"cannot read {path}: {exc.strerror}") from exc
    except NoteError as exc:
        raise VerificationError(label, str(exc)) from exc
    if checkpoint.origin != origin:
        raise VerificationError(label, f"origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def _stream_entries(path: Path, checker: EntryChecker, previous: Checkpoint | None) -> bytes | None:
    """Check every line of ``entries.jsonl``; return the root at ``previous.size`` if reached."""
    previous_root = checker.root() if previous is not None and previous.size == 0 else None
    try:
        with path.open("rb") as entries:
            while line := entries.readline(MAX_LINE_BYTES + 1):
                if not line.endswith(b"\n"):
                    reason = "line too long" if len(line) > MAX_LINE_BYTES else "missing newline"
                    raise VerificationError(checker.size, reason)
                checker.check(line[:-1])
                if previous is not None and checker.size == previous.size:
                    previous_root = checker.root()
    except OSError as exc:
        raise VerificationError("export", f"cannot read {path}: {exc.strerror}") from exc
    return previous_root


def verify_export(
    path: str | Path,
    *,
    previous_checkpoint: str | Path | None = None,
    checkpoint_key: NoteVerifier | None = None,
    min_witnesses: int = 0,
) -> VerifyResult:
    """Verify an export directory; raise ``VerificationError`` at the first failure.

    ``checkpoint_key`` pins the operator key instead of trusting the one in ``keys.json``.
    ``min_witnesses``: the checkpoint must also carry valid cosignatures (C2SP
    tlog-cosignature) by at least that many institutions of ``keys.json`` other than the
    operator; the result names every institution whose cosignature verified.
    """
    directory = Path(path)
    keys = load_keys(directory / KEYS_FILE)
    verifier = checkpoint_key or keys.checkpoint_key
    previous = None
    if previous_checkpoint is not None:
        label = "checkpoint: previous checkpoint"
        previous = _read_checkpoint(Path(previous_checkpoint), verifier, keys.origin, label)
    checker = EntryChecker(keys.institutions)
    previous_root = _stream_entries(directory / ENTRIES_FILE, checker, previous)
    checkpoint = _read_checkpoint(directory / CHECKPOINT_FILE, verifier, keys.origin, "checkpoint")
    if checkpoint.size != checker.size:
        raise VerificationError(
            "checkpoint", f"size {checkpoint.size} but the export has {checker.size} entries"
        )
    if checkpoint.root != checker.root():
        raise VerificationError("checkpoint", "root does not match the entries")
    if previous is not None:
        _check_previous(previous, previous_root, checkpoint)
    witnesses = _witnesses(directory / CHECKPOINT_FILE, keys, verifier)
    if len(witnesses) < min_witnesses:
        raise VerificationError(
            "checkpoint",
            f"{len(witnesses)} valid witness cosignature(s) ({', '.join(witnesses) or 'none'}), "
            f"{min_witnesses} required",
        )
    return VerifyResult(
        entries=checker.size,
        size=checkpoint.size,
        root=checkpoint.root,
        origin=checkpoint.origin,
        previous_size=None if previous is None else previous.size,
        witnesses=witnesses,
    )


def _witnesses(path: Path, keys: ExportKeys, operator: NoteVerifier) -> tuple[str, ...]:
    """Institutions (not the operator) whose cosignature on the checkpoint verifies."""
    cosigners = {
        code: list(by_id.values())
        for code, by_id in keys.institutions.items()
        if operator.public_key_raw not in by_id.values()
    }
    try:
        return tuple(sorted(cosigners_verified(path.read_bytes(), cosigners)))
    except NoteError as exc:
        raise VerificationError("checkpoint", str(exc)) from exc


def _check_previous(previous: Checkpoint, root_at_size: bytes | None, latest: Checkpoint) -> None:
    if previous.size > latest.size or root_at_size is None:
        raise VerificationError(
            "checkpoint",
            f"previous checkpoint size {previous.size} exceeds the new size {latest.size}",
        )
    if root_at_size != previous.root:
        raise VerificationError(
            "checkpoint",
            f"previous checkpoint root at size {previous.size} is not a prefix of this log",
        )


def _pinned_key(args: argparse.Namespace, directory: Path) -> NoteVerifier | None:
    if args.trusted_key:
        return NoteVerifier.from_vkey(args.trusted_key)
    if args.checkpoint_key:
        name = load_keys(directory / KEYS_FILE).checkpoint_key.name
        return NoteVerifier(name, decode_b64(args.checkpoint_key))
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m partner_sdk.verify", description="Verify a remittance ledger export."
    )
    parser.add_argument("directory", type=Path, help="export directory")
    parser.add_argument("--previous-checkpoint", type=Path, help="an older checkpoint you saved")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--trusted-key", help="operator key as <name>+<hex key id>+<base64 key>")
    pin.add_argument("--checkpoint-key", help="operator raw public key, base64")
    parser.add_argument(
        "--min-witnesses",
        type=int,
        default=0,
        help="require valid cosignatures by at least this many institutions of keys.json",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        pinned = _pinned_key(args, args.directory)
    except (NoteError, WireFormatError) as exc:
        print(f"FAIL checkpoint: bad pinned key: {exc}")
        return 1
    except VerificationError as exc:
        print(f"FAIL {exc}")
        return 1
    try:
        result = verify_export(
            args.directory,
            previous_checkpoint=args.previous_checkpoint,
            checkpoint_key=pinned,
            min_witnesses=args.min_witnesses,
        )
    except VerificationError as exc:
        print(f"FAIL {exc}")
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
