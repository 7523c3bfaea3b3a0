"""The operator's own integrity check of the stored log (`manage.py ledger verify`).

Recomputes the tree from the stored leaves with the same per-entry checker partners run
(partner_sdk.verify.EntryChecker: canonical form, contiguous seq, known key, Ed25519), compares
every stored perfect-subtree hash with the recomputed one, and checks every stored checkpoint:
operator signature, and root equal to the recomputed root at its size (so all checkpoints are
mutually consistent). Streams: memory does not grow with the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from institutions.models import SigningKey
from institutions.selectors import signing_keys_all
from ledger.models import Checkpoint, Entry, TreeNode
from ledger.selectors.log import tree_size
from partner_sdk.note import NoteVerifier, open_checkpoint
from partner_sdk.verify import EntryChecker, VerificationError

CHUNK = 5000


@dataclass(frozen=True)
class IntegrityReport:
    entries: int
    checkpoints: int
    root: bytes


def _stored_nodes(lo: int, hi: int) -> dict[tuple[int, int], bytes]:
    """Stored nodes completed by leaves [lo, hi): one range query per level."""
    found: dict[tuple[int, int], bytes] = {}
    for level in range(1, hi.bit_length() + 1):
        rows = TreeNode.objects.filter(
            level=level, index__gte=lo >> level, index__lt=hi >> level
        ).values_list("index", "hash")
        found.update(((level, idx), bytes(digest)) for idx, digest in rows)
    return found


def _leaves() -> Iterator[tuple[int, bytes]]:
    rows = Entry.objects.order_by("seq").values_list("seq", "leaf").iterator(chunk_size=CHUNK)
    for seq, leaf in rows:
        yield seq, bytes(leaf)


def log_verify() -> IntegrityReport:
    """Raise VerificationError(where, reason) at the first problem; `where` is a seq or a label."""
    checker = EntryChecker(signing_keys_all())
    checkpoints = list(
        Checkpoint.objects.order_by("tree_size").values_list(
            "tree_size", "root_hash", "body", "signature_line", "key_id", "frontier"
        )
    )
    operator_keys = {k.key_id: bytes(k.public_key) for k in SigningKey.objects.all()}
    by_size = {c[0]: c for c in checkpoints}
    emitted: dict[tuple[int, int], bytes] = {}
    chunk_start = 0
    for seq, leaf in _leaves():
        if seq != checker.size:
            raise VerificationError(checker.size, f"entry {checker.size} is missing (found {seq})")
        checker.check(leaf)
        for level, index, digest in checker.last_completed[1:]:  # level 0 is not stored
            emitted[(level, index)] = digest
        if checker.size in by_size:
            _check_checkpoint(by_size[checker.size], checker.root(), operator_keys)
            if bytes(by_size[checker.size][5]) != b"".join(checker.frontier):
                raise VerificationError("checkpoint", f"checkpoint {checker.size}: bad frontier")
        if checker.size - chunk_start >= CHUNK:
            _compare_nodes(emitted, chunk_start, checker.size)
            emitted, chunk_start = {}, checker.size
    if emitted:
        _compare_nodes(emitted, chunk_start, checker.size)
    size = tree_size()
    if checker.size != size:
        raise VerificationError(
            "checkpoint", f"latest checkpoint says {size} entries, the log holds {checker.size}"
        )
    if 0 in by_size:
        _check_checkpoint(by_size[0], checker.root() if size == 0 else b"", operator_keys)
    return IntegrityReport(entries=checker.size, checkpoints=len(checkpoints), root=checker.root())


def _compare_nodes(emitted: dict[tuple[int, int], bytes], lo: int, hi: int) -> None:
    stored = _stored_nodes(lo, hi)
    for (level, index), digest in sorted(emitted.items()):
        if stored.get((level, index)) != digest:
            first_leaf = index << level
            raise VerificationError(
                first_leaf, f"stored tree node level={level} index={index} does not match"
            )


def _check_checkpoint(row: tuple, recomputed_root: bytes, operator_keys: dict[str, bytes]) -> None:
    size, root, body, signature_line, key_id, _frontier = row
    public = operator_keys.get(key_id)
    if public is None:
        raise VerificationError("checkpoint", f"checkpoint {size} names unknown key {key_id}")
    verifier = NoteVerifier(settings.LEDGER_ORIGIN, public)
    try:
        checkpoint = open_checkpoint(body + "\n" + signature_line, verifier)
    except ValueError as exc:
        raise VerificationError("checkpoint", f"checkpoint {size}: {exc}") from exc
    if checkpoint.size != size or checkpoint.root != bytes(root):
        raise VerificationError(
            "checkpoint", f"checkpoint {size}: stored fields disagree with note"
        )
    if checkpoint.root != recomputed_root:
        raise VerificationError(
            "checkpoint", f"checkpoint {size} root does not match the entries 0..{size - 1}"
        )
