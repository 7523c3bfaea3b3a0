"""Build valid ledger exports for tests and benchmarks (no server, no database).

``build_export`` signs each record as its institution, writes ``entries.jsonl``, a checkpoint
signed by a log key, and ``keys.json`` listing every key used. The returned ``Export`` can sign
checkpoints for any prefix, so tests can save a "previous checkpoint" the way a bank would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from partner_sdk.merkle import leaf_hash, root_from_leaf_hashes
from partner_sdk.note import Checkpoint, NoteVerifier, sign_checkpoint
from partner_sdk.verify import CHECKPOINT_FILE, ENTRIES_FILE, KEYS_FILE
from partner_sdk.wire import (
    encode_b64,
    entry_bytes,
    key_id,
    make_statement,
    raw_public_key,
    sign_statement,
)

DEFAULT_ORIGIN = "hub.remit.example/ledger"
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

Record = tuple[str, Ed25519PrivateKey, str, dict[str, Any]]
"""``(signer institution code, its private key, statement kind, statement body)``."""


@dataclass
class Export:
    """A written export directory and the secrets that produced it."""

    directory: Path
    origin: str
    log_name: str
    log_key: Ed25519PrivateKey
    leaves: list[bytes] = field(default_factory=list)

    @property
    def log_verifier(self) -> NoteVerifier:
        return NoteVerifier(self.log_name, raw_public_key(self.log_key))

    @property
    def entries_path(self) -> Path:
        return self.directory / ENTRIES_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def root(self, size: int | None = None) -> bytes:
        """Merkle root of the first ``size`` entries (all by default)."""
        prefix = self.leaves if size is None else self.leaves[:size]
        return root_from_leaf_hashes([leaf_hash(leaf) for leaf in prefix])

    def checkpoint_note(self, size: int | None = None, *, root: bytes | None = None) -> str:
        """Signed checkpoint for the first ``size`` entries (all by default)."""
        size = len(self.leaves) if size is None else size
        checkpoint = Checkpoint(self.origin, size, self.root(size) if root is None else root)
        return sign_checkpoint(checkpoint, name=self.log_name, private_key=self.log_key)

    def write_lines(self, lines: Iterable[bytes]) -> None:
        """Replace ``entries.jsonl`` with ``lines`` (each written with its ``\\n``)."""
        self.entries_path.write_bytes(b"".join(line + b"\n" for line in lines))


def build_export(
    directory: Path,
    records: Iterable[Record],
    *,
    origin: str = DEFAULT_ORIGIN,
    log_name: str | None = None,
    log_key: Ed25519PrivateKey | None = None,
    start: datetime = DEFAULT_START,
) -> Export:
    """Sign ``records`` into a valid export under ``directory`` (created if needed).

    Statement times are ``start`` plus one second per seq, so output is deterministic given
    the keys.
    """
    directory.mkdir(parents=True, exist_ok=True)
    export = Export(directory, origin, log_name or origin, log_key or Ed25519PrivateKey.generate())
    institutions: dict[str, dict[str, str]] = {}
    with export.entries_path.open("wb") as entries:
        for seq, (signer, private_key, kind, body) in enumerate(records):
            public_key = raw_public_key(private_key)
            signer_key_id = key_id(public_key)
            institutions.setdefault(signer, {})[signer_key_id] = encode_b64(public_key)
            statement = make_statement(
                kind=kind,
                at=start + timedelta(seconds=seq),
                signer=signer,
                key_id=signer_key_id,
                body=body,
            )
            leaf = entry_bytes(seq, statement, sign_statement(private_key, statement))
            entries.write(leaf + b"\n")
            export.leaves.append(leaf)
    export.checkpoint_path.write_text(export.checkpoint_note(), encoding="utf-8")
    keys = {
        "origin": origin,
        "checkpoint_key": {
            "name": export.log_name,
            "public_key": encode_b64(raw_public_key(export.log_key)),
        },
        "institutions": institutions,
    }
    (directory / KEYS_FILE).write_text(json.dumps(keys, indent=2, sort_keys=True), encoding="utf-8")
    return export
