"""Reads of the signed log: checkpoints, proofs, entries, export material."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q

from core.errors import DomainError
from institutions.models import SigningKey
from institutions.selectors import operator_get, signing_keys_all
from ledger.models import Checkpoint, Entry, QueuedStatement, TreeNode
from partner_sdk import merkle
from partner_sdk.note import NoteVerifier


class BadProofRequest(DomainError):
    code, status, title = "invalid_proof_request", 400, "Invalid proof request"


class LogEmpty(DomainError):
    code, status, title = "log_empty", 404, "The log has no checkpoint yet"


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size").first()


def checkpoint_note_with_cosignatures(checkpoint: Checkpoint) -> str:
    """The signed note: body, blank line, the operator's line, then every witness's line."""
    lines = [checkpoint.signature_line.rstrip("\n")]
    lines += [
        c.signature_line.rstrip("\n") for c in checkpoint.cosignatures.order_by("institution_id")
    ]
    return checkpoint.body + "\n" + "".join(line + "\n" for line in lines)


def tree_size() -> int:
    return Checkpoint.objects.aggregate(n=Max("tree_size"))["n"] or 0


_NODES_SQL = """
    SELECT n.level, n.index, n.hash, NULL FROM ledger_treenode n
      JOIN unnest(%s::int2[], %s::int8[]) AS w(level, index)
        ON n.level = w.level AND n.index = w.index
    UNION ALL
    SELECT 0, e.seq, NULL, e.leaf FROM ledger_entry e WHERE e.seq = ANY(%s::int8[])
"""


def tree_nodes_get(wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Perfect-subtree hashes for the given (level, index) positions, in one round trip.

    Level 0 (leaf hashes) is computed from the entries themselves, which halves the rows the
    integrator writes; levels ≥ 1 come from TreeNode. Raw SQL on PostgreSQL: building a
    30-way OR through the ORM costs more than the query itself."""
    positions = list(dict.fromkeys(wanted))
    seqs = [index for level, index in positions if level == 0]
    inner = [(level, index) for level, index in positions if level > 0]
    found: dict[tuple[int, int], bytes] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_NODES_SQL, [[lv for lv, _ in inner], [ix for _, ix in inner], seqs])
            for level, index, digest, leaf in cursor.fetchall():
                found[(level, index)] = (
                    bytes(digest) if leaf is None else merkle.leaf_hash(bytes(leaf))
                )
        return found
    for seq, leaf in Entry.objects.filter(seq__in=seqs).values_list("seq", "leaf"):
        found[(0, seq)] = merkle.leaf_hash(bytes(leaf))
    query = Q()
    for level, index in inner:
        query |= Q(level=level, index=index)
    if query:
        rows = TreeNode.objects.filter(query).values_list("level", "index", "hash")
        found.update(((lvl, idx), bytes(digest)) for lvl, idx, digest in rows)
    return found


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]


def inclusion_proof(*, index: int, size: int) -> InclusionProof:
    """Audit path for leaf `index` in the tree of `size` leaves: one query, O(log n) rows."""
    current = tree_size()
    if size < 1 or size > current:
        raise BadProofRequest(f"tree_size must be between 1 and {current}")
    if index < 0 or index >= size:
        raise BadProofRequest("index must be at least 0 and less than tree_size")
    needed = merkle.inclusion_proof_nodes(index, size)
    found = tree_nodes_get([*needed, (0, index)])
    return InclusionProof(
        index=index,
        tree_size=size,
        leaf_hash=found[(0, index)],
        hashes=merkle.inclusion_proof_from_nodes(index, size, found),
    )


def consistency_proof(*, first: int, second: int) -> ConsistencyProof:
    current = tree_size()
    if second < 1 or second > current:
        raise BadProofRequest(f"second must be between 1 and {current}")
    if first < 1 or first > second:
        raise BadProofRequest("first must be at least 1 and at most second")
    found = tree_nodes_get(merkle.consistency_proof_nodes(first, second))
    return ConsistencyProof(
        first=first, second=second, hashes=merkle.consistency_proof_from_nodes(first, second, found)
    )


def entries_page(*, start: int, limit: int) -> list[Entry]:
    return list(Entry.objects.filter(seq__gte=start).order_by("seq")[:limit])


def entry_for_statement(*, statement_ref: int) -> Entry | None:
    return Entry.objects.filter(statement_ref=statement_ref).first()


def entries_for_subject(*, subject: str) -> list[Entry]:
    """The entries about one thing (an order's id), in seq order: what its receipt proves."""
    return list(Entry.objects.filter(subject=subject).order_by("seq"))


def queued_count_for_subject(*, subject: str) -> int:
    """Statements about `subject` not yet given a seq (the integrator runs within a second)."""
    return QueuedStatement.objects.filter(subject=subject).count()


def entries_leaves(*, up_to: int) -> Iterator[bytes]:
    """Leaf bytes in seq order, streamed from the database with a server-side cursor."""
    for leaf in (
        Entry.objects.filter(seq__lt=up_to).order_by("seq").values_list("leaf", flat=True)
    ).iterator(chunk_size=5000):
        yield bytes(leaf)


def checkpoint_verifier() -> NoteVerifier:
    """The operator's checkpoint key as a note verifier (`<name>+<hex id>+<base64>` is its
    `vkey`): what a partner pins, e.g. a witness at its first start. The key of the latest
    checkpoint, or the operator's active key before there is one."""
    checkpoint = checkpoint_latest()
    key = (
        SigningKey.objects.get(key_id=checkpoint.key_id)
        if checkpoint
        else SigningKey.objects.get(institution=operator_get(), active=True)
    )
    return NoteVerifier(settings.LEDGER_ORIGIN, bytes(key.public_key))


def export_keys() -> dict:
    """keys.json (DESIGN.md §4): the checkpoint key and every institution key that ever signed."""
    import base64

    operator = operator_get()
    checkpoint = checkpoint_latest()
    key = (
        SigningKey.objects.get(key_id=checkpoint.key_id)
        if checkpoint
        else SigningKey.objects.get(institution=operator, active=True)
    )
    return {
        "origin": settings.LEDGER_ORIGIN,
        "checkpoint_key": {
            "name": settings.LEDGER_ORIGIN,
            "public_key": base64.b64encode(bytes(key.public_key)).decode(),
        },
        "institutions": {
            code: {kid: base64.b64encode(pub).decode() for kid, pub in keys.items()}
            for code, keys in signing_keys_all().items()
        },
    }
