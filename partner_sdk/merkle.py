"""RFC 9162 §2.1 Merkle tree hashing, proofs and compact ranges.

The ledger server stores the hash of every *perfect aligned subtree*: node ``(level, index)`` is
the Merkle Tree Hash (MTH) of leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds
the leaf hashes. Every proof element and every root is the MTH of a range ``[lo, hi)`` whose start
is aligned to the smallest power of two >= its length, and such a range is exactly the fold of the
perfect subtrees of its binary decomposition. So proof generation is two steps with one code path:
``*_nodes`` lists the ``(level, index)`` nodes to fetch (one query on the server), ``*_from_nodes``
folds the fetched hashes into the proof. The callback variants just do both.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and never raises on malformed input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect aligned subtree."""

PerfectHash = Callable[[int, int], bytes]
"""Callback returning the stored hash of perfect subtree ``(level, index)``."""

_Range = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes, computed directly from the RFC definition."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def _mth(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 1:
        return leaf_hashes[lo]
    k = _largest_power_of_two_below(n)
    return node_hash(_mth(leaf_hashes, lo, lo + k), _mth(leaf_hashes, lo + k, hi))


# --- ranges and their perfect-subtree decomposition ------------------------------------------


def range_nodes(lo: int, hi: int) -> list[NodeId]:
    """Perfect aligned subtrees covering ``[lo, hi)`` as RFC 9162 splits it, left to right.

    Holds only for ranges whose start is a multiple of the smallest power of two >= ``hi - lo``
    (every range that occurs in a root or a proof); anything else raises ``ValueError``.
    """
    n = hi - lo
    if lo < 0 or n < 0:
        raise ValueError(f"invalid range [{lo}, {hi})")
    if n and lo % (1 << (n - 1).bit_length()):
        raise ValueError(f"range [{lo}, {hi}) is not aligned")
    nodes: list[NodeId] = []
    offset = lo
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            nodes.append((level, offset >> level))
            offset += 1 << level
    return nodes


def fold_range(node_hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its ``range_nodes``: right-to-left fold, as RFC 9162."""
    if not node_hashes:
        return EMPTY_ROOT
    result = node_hashes[-1]
    for left in reversed(node_hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(lo: int, hi: int, perfect: PerfectHash) -> bytes:
    """MTH of leaves ``[lo, hi)`` using O(log n) stored perfect-subtree hashes."""
    return fold_range([perfect(level, index) for level, index in range_nodes(lo, hi)])


def _ranges_from_nodes(
    ranges: Sequence[_Range], node_hashes: Mapping[NodeId, bytes]
) -> list[bytes]:
    return [fold_range([node_hashes[node] for node in range_nodes(lo, hi)]) for lo, hi in ranges]


def _nodes_of(ranges: Sequence[_Range]) -> list[NodeId]:
    """Distinct nodes needed for ``ranges``, in first-use order."""
    return list(dict.fromkeys(node for lo, hi in ranges for node in range_nodes(lo, hi)))


# --- inclusion proofs (RFC 9162 §2.1.3.1) ----------------------------------------------------


def _inclusion_ranges(index: int, tree_size: int) -> list[_Range]:
    """The ranges whose MTHs form PATH(index, D[0:tree_size]), bottom-up."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    ranges: list[_Range] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def inclusion_proof_nodes(index: int, tree_size: int) -> list[NodeId]:
    """Stored nodes an inclusion proof for leaf ``index`` in a tree of ``tree_size`` needs."""
    return _nodes_of(_inclusion_ranges(index, tree_size))


def inclusion_proof_from_nodes(
    index: int, tree_size: int, node_hashes: Mapping[NodeId, bytes]
) -> list[bytes]:
    """Inclusion proof from the hashes of ``inclusion_proof_nodes(index, tree_size)``."""
    return _ranges_from_nodes(_inclusion_ranges(index, tree_size), node_hashes)


def inclusion_proof(index: int, tree_size: int, perfect: PerfectHash) -> list[bytes]:
    """Inclusion proof for leaf ``index``, reading O(log n) nodes through ``perfect``."""
    nodes = inclusion_proof_nodes(index, tree_size)
    return inclusion_proof_from_nodes(index, tree_size, {node: perfect(*node) for node in nodes})


# --- consistency proofs (RFC 9162 §2.1.4.1) --------------------------------------------------


def _consistency_ranges(first: int, second: int) -> list[_Range]:
    """The ranges whose MTHs form PROOF(first, D[0:second]); empty if first is 0 or second."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    ranges: list[_Range] = []
    if first == 0:
        return ranges
    lo, hi, m, complete = 0, second, first, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def consistency_proof_nodes(first: int, second: int) -> list[NodeId]:
    """Stored nodes a consistency proof from tree size ``first`` to ``second`` needs."""
    return _nodes_of(_consistency_ranges(first, second))


def consistency_proof_from_nodes(
    first: int, second: int, node_hashes: Mapping[NodeId, bytes]
) -> list[bytes]:
    """Consistency proof from the hashes of ``consistency_proof_nodes(first, second)``."""
    return _ranges_from_nodes(_consistency_ranges(first, second), node_hashes)


def consistency_proof(first: int, second: int, perfect: PerfectHash) -> list[bytes]:
    """Consistency proof between two tree sizes, reading O(log n) nodes through ``perfect``."""
    nodes = consistency_proof_nodes(first, second)
    return consistency_proof_from_nodes(first, second, {node: perfect(*node) for node in nodes})


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ----------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_path(proof: object) -> bool:
    return isinstance(proof, list | tuple) and all(_is_hash(p) for p in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` shows leaf hash ``leaf_hash`` at ``index`` in the tree with ``root``."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _valid_path(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size)) or index >= tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff ``proof`` shows the tree of size ``first`` is a prefix of that of size ``second``.

    Edge cases RFC 9162 leaves to the caller: equal sizes need equal roots and an empty proof;
    size 0 is a prefix of every tree but its root must be ``EMPTY_ROOT`` and the proof empty.
    """
    if not (_is_hash(first_root) and _is_hash(second_root) and _valid_path(proof)):
        return False
    if not (_is_size(first) and _is_size(second)) or first > second:
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- compact ranges --------------------------------------------------------------------------


def frontier_nodes(size: int) -> list[NodeId]:
    """The perfect subtrees a ``CompactRange`` of ``size`` leaves holds (one per set bit)."""
    return range_nodes(0, size)


class CompactRange:
    """Merkle frontier of ``[0, size)``: one perfect-subtree hash per set bit of ``size``.

    Memory is O(log n). ``append`` reports every perfect node it completes, so the server's
    integrator can store them in one batch and the streaming verifier can recompute roots.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild from the hashes of ``frontier_nodes(size)``, in that order."""
        if not _is_size(size) or len(hashes) != size.bit_count():
            raise ValueError("frontier hashes do not match the tree size")
        if not all(_is_hash(h) for h in hashes):
            raise ValueError("frontier hashes must be 32-byte SHA-256 digests")
        compact = cls()
        compact._size = size
        compact._hashes = list(hashes)
        return compact

    @classmethod
    def from_nodes(cls, size: int, perfect: PerfectHash) -> CompactRange:
        """Rebuild from stored perfect-subtree hashes, reading O(log n) of them."""
        return cls.from_hashes(size, [perfect(*node) for node in frontier_nodes(size)])

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier hashes, in ``frontier_nodes(size)`` order."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return ``(level, index, hash)`` of every node completed, leaf first."""
        if not _is_hash(leaf):
            raise ValueError("leaf hash must be a 32-byte SHA-256 digest")
        index, level, carry = self._size, 0, leaf
        completed = [(0, index, carry)]
        while index & 1:
            carry = node_hash(self._hashes.pop(), carry)
            index, level = index >> 1, level + 1
            completed.append((level, index, carry))
        self._hashes.append(carry)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return fold_range(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange.from_hashes(self._size, self._hashes)
