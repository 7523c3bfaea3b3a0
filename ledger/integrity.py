"""The operator's own integrity check of the stored log (`manage.py ledger verify`).

Recomputes the tree from the stored leaves with the same per-entry checker partners run
(partner_sdk.verify.EntryChecker: canonical form, contiguous seq, known key, Ed25519), compares
every stored perfect-subtree hash with the recomputed one, and checks every stored checkpoint:
operator signature, and root equal to the recomputed root at its size (so all checkpoints are
mutually consistent). Streams: memory does not grow with the log.

Bounded by the checkpoint it starts from: the latest checkpoint is read first, and only entries,
tree nodes and checkpoints up to its size are read after it. The integrator commits a batch's
entries, nodes and checkpoint in one transaction, so everything below that size is already
committed and never changes; what the integrator appends meanwhile is left for the next run.
Run on a busy hub, it reports OK for the size it started from instead of a false FAIL.

Incremental (`since`): resume from a head an earlier run verified (its size and frontier, e.g.
the auditor's last audited size) — only the entries after it are read; the checkpoint at that
size must still carry the root of the recorded frontier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from institutions.models import SigningKey
from institutions.selectors import signing_keys_all
from ledger.models import Checkpoint, Entry, TreeNode
from partner_sdk.merkle import CompactRange
from partner_sdk.note import NoteVerifier, open_checkpoint
from partner_sdk.verify import EntryChecker, VerificationError

CHUNK = 5000


@dataclass(frozen=True)
class IntegrityReport:
    entries: int
    """The size verified: the latest checkpoint's when the run started."""
    checkpoints: int
    root: bytes
    frontier: tuple[bytes, ...] = ()
    """The compact range at `entries`: where an incremental run resumes (`since`)."""
    checked_from: int = 0
    """The first seq this run read (0 for a full run)."""


@dataclass(frozen=True)
class VerifiedHead:
    """A size an earlier run verified, with its frontier (IntegrityReport.entries/frontier)."""

    size: int
    frontier: tuple[bytes, ...]


def _stored_nodes(lo: int, hi: int) -> dict[tuple[int, int], bytes]:
    """Stored nodes completed by leaves [lo, hi): one range query per level."""
    found: dict[tuple[int, int], bytes] = {}
    for level in range(1, hi.bit_length() + 1):
        rows = TreeNode.objects.filter(
            level=level, index__gte=lo >> level, index__lt=hi >> level
        ).values_list("index", "hash")
        found.update(((level, idx), bytes(digest)) for idx, digest in rows)
    return found


def _leaves(lo: int, hi: int) -> Iterator[tuple[int, bytes]]:
    rows = (
        Entry.objects.filter(seq__gte=lo, seq__lt=hi)
        .order_by("seq")
        .values_list("seq", "leaf")
        .iterator(chunk_size=CHUNK)
    )
    for seq, leaf in rows:
        yield seq, bytes(leaf)


def log_verify(*, since: VerifiedHead | None = None) -> IntegrityReport:
    """Raise VerificationError(where, reason) at the first problem; `where` is a seq or a label.

    Verifies entries [since.size, N) where N is the latest checkpoint's size when the call
    starts (everything from 0 without `since`)."""
    head = Checkpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True).first()
    bound = head or 0
    start = 0 if since is None else since.size
    if start > bound:
        raise VerificationError(
            "checkpoint", f"the log was verified up to {start} entries; it now holds {bound}"
        )
    checker = EntryChecker(
        signing_keys_all(),
        start=None if since is None else CompactRange.from_hashes(since.size, since.frontier),
    )
    checkpoints = list(
        Checkpoint.objects.filter(tree_size__gte=start, tree_size__lte=bound)
        .order_by("tree_size")
        .values_list("tree_size", "root_hash", "body", "signature_line", "key_id", "frontier")
    )
    operator_keys = {k.key_id: bytes(k.public_key) for k in SigningKey.objects.all()}
    by_size = {c[0]: c for c in checkpoints}
    if since is not None and start in by_size and start > 0:
        _check_checkpoint(by_size[start], checker.root(), operator_keys)
    emitted: dict[tuple[int, int], bytes] = {}
    chunk_start = start
    for seq, leaf in _leaves(start, bound):
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
    if checker.size != bound:
        raise VerificationError(
            "checkpoint", f"latest checkpoint says {bound} entries, the log holds {checker.size}"
        )
    if 0 in by_size:
        _check_checkpoint(by_size[0], checker.root() if bound == 0 else b"", operator_keys)
    return IntegrityReport(
        entries=checker.size,
        checkpoints=len(checkpoints),
        root=checker.root(),
        frontier=checker.frontier,
        checked_from=start,
    )


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
