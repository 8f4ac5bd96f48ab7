"""The node-based Merkle code against the naive reference tree (tests/merkle_reference.py).

A dict stands in for the LevelDB store: it persists exactly what
``Frontier.append`` reports, and its getter fails any read of a node outside
the tree size asked about, so proofs against older checkpoints are checked to
need nothing newer. Reads are counted to hold the O(log n) promise.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from merkle_reference import ref_consistency, ref_inclusion, ref_root

from chain.errors import ProofError
from chain.merkle import (
    Frontier,
    NodeGetter,
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    leaf_hash,
    root_from_nodes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from chain.merkle._compact import perfect_nodes

MAX_SIZE = 300
_SETTINGS = settings(max_examples=150, deadline=None)


class DictStore:
    """What the store keeps: every node reported by Frontier.append, each written once."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.frontier = Frontier()
        self.nodes: dict[tuple[int, int], bytes] = {}
        for data in leaves:
            for level, index, hashed in self.frontier.append(leaf_hash(data)):
                assert (level, index) not in self.nodes, f"node ({level}, {index}) written twice"
                self.nodes[level, index] = hashed
        self.reads = 0

    def getter(self, size: int) -> NodeGetter:
        """A getter for the tree of ``size`` leaves; reading a node outside it fails the test."""

        def get(level: int, index: int) -> bytes:
            assert (index + 1) << level <= size, f"read ({level}, {index}) beyond size {size}"
            self.reads += 1
            return self.nodes[level, index]

        self.reads = 0
        return get


def _leaves(salt: bytes, count: int) -> list[bytes]:
    return [salt + index.to_bytes(2, "big") for index in range(count)]


def _read_bound(size: int) -> int:
    return 2 * (size - 1).bit_length() + 2  # 2 * ceil(log2(size)) + 2


def _perfect_nodes_inside(size: int) -> set[tuple[int, int]]:
    return {(level, index) for level in range(size.bit_length()) for index in range(size >> level)}


@st.composite
def _tree(draw: st.DrawFn) -> tuple[list[bytes], DictStore, int]:
    """Leaves, a store holding all of them, and a (possibly older) tree size >= 1 to prove in."""
    leaves = _leaves(draw(st.binary(max_size=4)), draw(st.integers(1, MAX_SIZE)))
    return leaves, DictStore(leaves), draw(st.integers(1, len(leaves)))


@_SETTINGS
@given(_tree())
def test_root_matches_reference(tree: tuple[list[bytes], DictStore, int]) -> None:
    leaves, store, size = tree
    expected = ref_root(leaves[:size])
    assert root_from_nodes(store.getter(size), size) == expected
    assert store.reads == size.bit_count()
    assert Frontier.from_nodes(store.getter(size), size).root() == expected
    assert root_hash(leaves[:size]) == expected


@_SETTINGS
@given(_tree(), st.data())
def test_inclusion_proof_matches_reference(
    tree: tuple[list[bytes], DictStore, int], data: st.DataObject
) -> None:
    leaves, store, size = tree
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof_from_nodes(store.getter(size), index, size)
    assert store.reads <= _read_bound(size)
    assert proof == ref_inclusion(leaves[:size], index)
    root = ref_root(leaves[:size])
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(leaves[other]), proof, root)


@_SETTINGS
@given(_tree(), st.data())
def test_consistency_proof_matches_reference(
    tree: tuple[list[bytes], DictStore, int], data: st.DataObject
) -> None:
    leaves, store, size2 = tree
    size1 = data.draw(st.integers(0, size2))
    proof = consistency_proof_from_nodes(store.getter(size2), size1, size2)
    assert store.reads <= _read_bound(size2)
    assert proof == ref_consistency(leaves[:size2], size1)
    root1, root2 = ref_root(leaves[:size1]), ref_root(leaves[:size2])
    verify_consistency(size1, size2, proof, root1, root2)
    if size1 > 0:
        forked = [*leaves[: size1 - 1], b"forked", *leaves[size1:size2]]
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, ref_root(forked[:size1]), root2)
        if size1 < size2:
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof, root1, ref_root(forked))


@_SETTINGS
@given(st.binary(max_size=4), st.integers(0, MAX_SIZE))
def test_frontier_persists_every_perfect_node_exactly_once(salt: bytes, size: int) -> None:
    leaves = _leaves(salt, size)
    store = DictStore(leaves)  # asserts that no node is written twice
    assert set(store.nodes) == _perfect_nodes_inside(size)
    assert store.frontier.size == size
    assert store.frontier.root() == ref_root(leaves)


@_SETTINGS
@given(st.binary(max_size=4), st.integers(0, MAX_SIZE), st.data())
def test_frontier_rebuilt_from_nodes_carries_on_alike(
    salt: bytes, size: int, data: st.DataObject
) -> None:
    leaves = _leaves(salt, size)
    store = DictStore(leaves)
    cut = data.draw(st.integers(0, size))
    rebuilt = Frontier.from_nodes(store.getter(cut), cut)
    assert store.reads == cut.bit_count()
    created = [node for leaf in leaves[cut:] for node in rebuilt.append(leaf_hash(leaf))]
    assert {(level, index): hashed for level, index, hashed in created} == {
        key: hashed for key, hashed in store.nodes.items() if (key[1] + 1) << key[0] > cut
    }
    assert rebuilt.root() == store.frontier.root()


@pytest.mark.parametrize("size", range(1, 33))
def test_all_proofs_of_small_trees_match_reference(size: int) -> None:
    leaves = _leaves(b"small", size)
    for index in range(size):
        assert inclusion_proof(leaves, index) == ref_inclusion(leaves, index)
    for size1 in range(size + 1):
        assert consistency_proof(leaves, size1) == ref_consistency(leaves, size1)


def test_reads_stay_logarithmic_for_every_proof_up_to_128_leaves() -> None:
    store = DictStore(_leaves(b"reads", 128))
    for size in range(1, 129):
        for index in range(size):
            inclusion_proof_from_nodes(store.getter(size), index, size)
            assert store.reads <= _read_bound(size), (index, size)
        for size1 in range(size + 1):
            consistency_proof_from_nodes(store.getter(size), size1, size)
            assert store.reads <= _read_bound(size), (size1, size)


@_SETTINGS
@given(st.integers(0, 1 << 20), st.integers(0, 1 << 20))
def test_perfect_nodes_cover_any_range_minimally(begin: int, length: int) -> None:
    end = begin + length
    nodes = perfect_nodes(begin, end)
    position = begin
    for level, index in nodes:
        assert index << level == position  # contiguous, and aligned by construction
        position = (index + 1) << level
    assert position == end
    for (level, index), (next_level, next_index) in itertools.pairwise(nodes):
        mergeable = level == next_level and index % 2 == 0 and next_index == index + 1
        assert not mergeable
    assert len(nodes) <= 2 * max(length.bit_length(), 1)
