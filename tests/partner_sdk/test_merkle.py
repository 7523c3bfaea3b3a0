"""RFC 9162 Merkle tree: known answers from the RFC 6962 test vectors, and properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner_sdk.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_proof_from_nodes,
    consistency_proof_nodes,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    range_hash,
    range_nodes,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves of the RFC 6962 reference test data (certificate-transparency / transparency-dev).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAVES]

# ROOTS[n] is the root of the tree holding the first n leaves.
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (leaf index, tree size, proof) — 0-based indices.
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hashes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hashes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (first size, second size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hashes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


class PerfectStore:
    """Stands in for the server's table of perfect-subtree hashes, counting reads."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.leaf_hashes = leaf_hashes
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        lo, hi = index << level, (index + 1) << level
        assert hi <= len(self.leaf_hashes), f"node ({level}, {index}) is not complete"
        self.reads += 1
        return root_from_leaf_hashes(self.leaf_hashes[lo:hi])


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def test_hash_primitives_are_rfc9162() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()


@pytest.mark.parametrize("size", range(9))
def test_roots_match_rfc6962_vectors(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    assert range_hash(0, size, PerfectStore(LEAF_HASHES)) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, PerfectStore(LEAF_HASHES)) == proof
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors_reject_corruption(index: int, size: int, proof: list[bytes]) -> None:
    leaf, root = LEAF_HASHES[index], ROOTS[size]
    assert not verify_inclusion(leaf, index + 1, size, proof, root)
    assert not verify_inclusion(leaf, index, size * 2, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, EMPTY_ROOT)
    assert not verify_inclusion(leaf, index, size, [*proof, root], root)
    assert not verify_inclusion(leaf, index, size, [root, *proof], root)
    if index:
        assert not verify_inclusion(leaf, index - 1, size, proof, root)
    if proof:
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
        assert not verify_inclusion(leaf, index, size, [_flip(proof[0], 0), *proof[1:]], root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(first: int, second: int, proof: list[bytes]) -> None:
    assert consistency_proof(first, second, PerfectStore(LEAF_HASHES)) == proof
    assert verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_VECTORS[1:])
def test_consistency_vectors_reject_corruption(first: int, second: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[first], ROOTS[second]
    assert not verify_consistency(first - 1, second, r1, r2, proof)
    assert not verify_consistency(first + 1, second, r1, r2, proof)
    assert not verify_consistency(first, second * 2, r1, r2, proof)
    assert not verify_consistency(first, second, r2, r1, proof)
    assert not verify_consistency(first, second, r1, r2, [])
    assert not verify_consistency(first, second, r1, r2, proof[:-1])
    assert not verify_consistency(first, second, r1, r2, [*proof, r1])
    assert not verify_consistency(first, second, r1, r2, [proof[0], *proof])
    for i in range(len(proof)):
        corrupted = [*proof[:i], _flip(proof[i], 0), *proof[i + 1 :]]
        assert not verify_consistency(first, second, r1, r2, corrupted)


def test_consistency_edge_cases() -> None:
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    assert not verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    assert not verify_consistency(3, 3, ROOTS[3], ROOTS[3], [ROOTS[3]])
    assert not verify_consistency(5, 3, ROOTS[5], ROOTS[3], [])
    assert consistency_proof(0, 5, PerfectStore(LEAF_HASHES)) == []


@pytest.mark.parametrize(
    "args",
    [
        (b"short", 0, 1, [], ROOTS[1]),
        (LEAF_HASHES[0], 0, 1, [], b"short"),
        (LEAF_HASHES[0], 0, 0, [], EMPTY_ROOT),
        (LEAF_HASHES[0], -1, 1, [], ROOTS[1]),
        (LEAF_HASHES[0], 0, 2, [b"x"], ROOTS[2]),
        (LEAF_HASHES[0], 0, 2, "garbage", ROOTS[2]),
        (None, None, None, None, None),
    ],
)
def test_verify_inclusion_returns_false_on_garbage(args: tuple) -> None:
    assert verify_inclusion(*args) is False


def test_verify_consistency_returns_false_on_garbage() -> None:
    assert verify_consistency(1, 2, b"x", ROOTS[2], [LEAF_HASHES[1]]) is False
    assert verify_consistency(1, 2, ROOTS[1], ROOTS[2], [b"x"]) is False
    assert verify_consistency(-1, 2, ROOTS[1], ROOTS[2], [LEAF_HASHES[1]]) is False
    assert verify_consistency(None, None, None, None, None) is False  # type: ignore[arg-type]


def test_proof_generation_rejects_impossible_requests() -> None:
    with pytest.raises(ValueError):
        inclusion_proof_nodes(5, 5)
    with pytest.raises(ValueError):
        consistency_proof_nodes(6, 5)
    with pytest.raises(ValueError):
        range_nodes(1, 3)  # not aligned: no stored nodes describe it


def test_range_nodes_decompose_by_binary_size() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert frontier_nodes(11) == [(3, 0), (1, 4), (0, 10)]


def test_node_lists_and_from_nodes_share_one_path() -> None:
    leaf_hashes = [leaf_hash(bytes([i])) for i in range(21)]
    store = PerfectStore(leaf_hashes)
    nodes = inclusion_proof_nodes(13, 21)
    fetched = {node: store(*node) for node in nodes}
    assert inclusion_proof_from_nodes(13, 21, fetched) == inclusion_proof(13, 21, store)
    nodes = consistency_proof_nodes(7, 21)
    fetched = {node: store(*node) for node in nodes}
    assert consistency_proof_from_nodes(7, 21, fetched) == consistency_proof(7, 21, store)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=300))
def test_every_inclusion_proof_verifies_and_detects_flips(data: st.DataObject, size: int) -> None:
    leaf_hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    root = root_from_leaf_hashes(leaf_hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    store = PerfectStore(leaf_hashes)
    proof = inclusion_proof(index, size, store)
    assert store.reads <= 2 * size.bit_length()
    assert verify_inclusion(leaf_hashes[index], index, size, proof, root)

    target = data.draw(st.sampled_from(["leaf", "root", "proof"] if proof else ["leaf", "root"]))
    position = data.draw(st.integers(min_value=0, max_value=31), label="byte")
    leaf = leaf_hashes[index]
    if target == "leaf":
        assert not verify_inclusion(_flip(leaf, position), index, size, proof, root)
    elif target == "root":
        assert not verify_inclusion(leaf, index, size, proof, _flip(root, position))
    else:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        corrupted = [*proof[:i], _flip(proof[i], position), *proof[i + 1 :]]
        assert not verify_inclusion(leaf, index, size, corrupted, root)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), second=st.integers(min_value=1, max_value=300))
def test_every_consistency_proof_verifies_and_detects_flips(
    data: st.DataObject, second: int
) -> None:
    leaf_hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(second)]
    first = data.draw(st.integers(min_value=1, max_value=second), label="first")
    first_root = root_from_leaf_hashes(leaf_hashes[:first])
    second_root = root_from_leaf_hashes(leaf_hashes)
    store = PerfectStore(leaf_hashes)
    proof = consistency_proof(first, second, store)
    assert store.reads <= 3 * second.bit_length()
    assert verify_consistency(first, second, first_root, second_root, proof)
    if first == second:
        return

    position = data.draw(st.integers(min_value=0, max_value=31), label="byte")
    target = data.draw(st.sampled_from(["first_root", "second_root", "proof"]))
    if target == "first_root":
        assert not verify_consistency(
            first, second, _flip(first_root, position), second_root, proof
        )
    elif target == "second_root":
        assert not verify_consistency(
            first, second, first_root, _flip(second_root, position), proof
        )
    else:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        corrupted = [*proof[:i], _flip(proof[i], position), *proof[i + 1 :]]
        assert not verify_consistency(first, second, first_root, second_root, corrupted)


def test_compact_range_roots_and_emitted_nodes_for_every_size() -> None:
    leaf_hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(300)]
    store = PerfectStore(leaf_hashes)
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    emitted: dict[tuple[int, int], bytes] = {}
    for size, leaf in enumerate(leaf_hashes, start=1):
        for level, index, node in compact.append(leaf):
            assert (level, index) not in emitted
            assert node == store(level, index)
            emitted[(level, index)] = node
        assert compact.size == size
        assert compact.root() == root_from_leaf_hashes(leaf_hashes[:size])
        assert len(compact.hashes) == size.bit_count()
    # Every complete perfect subtree was emitted exactly once, and nothing else.
    expected = {(level, index) for level in range(9) for index in range(300 >> level)}
    assert set(emitted) == expected


@pytest.mark.parametrize("size", [0, 1, 2, 7, 8, 13, 64, 255])
def test_compact_range_from_stored_frontier_continues_the_tree(size: int) -> None:
    leaf_hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size + 5)]
    store = PerfectStore(leaf_hashes)
    compact = CompactRange.from_nodes(size, store)
    assert store.reads == size.bit_count()
    assert compact.root() == root_from_leaf_hashes(leaf_hashes[:size])
    for leaf in leaf_hashes[size:]:
        compact.append(leaf)
    assert compact.root() == root_from_leaf_hashes(leaf_hashes)


def test_compact_range_rejects_bad_frontiers() -> None:
    with pytest.raises(ValueError):
        CompactRange.from_hashes(3, [EMPTY_ROOT])
    with pytest.raises(ValueError):
        CompactRange.from_hashes(1, [b"short"])
    with pytest.raises(ValueError):
        CompactRange().append(b"short")
