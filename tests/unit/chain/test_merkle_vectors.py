"""RFC 6962 known-answer vectors: roots, perfect nodes and proofs, built and verified.

Vectors: tests/unit/chain/data/merkle_rfc6962_known_answers.json and
merkle_transparency_dev_happy_paths.json, both transcribed from
transparency-dev/merkle (the sources are named inside the files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from merkle_reference import ref_consistency, ref_inclusion, ref_root

from chain._encoding import b64_decode
from chain.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    leaf_hash,
    root_from_inclusion_proof,
    root_from_nodes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

_DATA = Path(__file__).parent / "data"
_KAT: dict[str, Any] = json.loads((_DATA / "merkle_rfc6962_known_answers.json").read_text())
_HAPPY: dict[str, Any] = json.loads(
    (_DATA / "merkle_transparency_dev_happy_paths.json").read_text()
)

LEAVES = [bytes.fromhex(h) for h in _KAT["leaf_inputs"]]
ROOTS = [bytes.fromhex(h) for h in _KAT["roots_by_size"]]
NODES = {
    (level, index): bytes.fromhex(h)
    for level, row in enumerate(_KAT["node_hashes"])
    for index, h in enumerate(row)
}


def _get(level: int, index: int) -> bytes:
    return NODES[level, index]


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_of_every_prefix(size: int) -> None:
    expected = ROOTS[size]
    assert root_hash(LEAVES[:size]) == expected
    assert root_from_nodes(_get, size) == expected
    assert ref_root(LEAVES[:size]) == expected


def test_frontier_persists_exactly_the_known_perfect_nodes() -> None:
    frontier = Frontier()
    stored: dict[tuple[int, int], bytes] = {}
    for size, data in enumerate(LEAVES, start=1):
        for level, index, hashed in frontier.append(leaf_hash(data)):
            assert (level, index) not in stored
            stored[level, index] = hashed
        assert frontier.size == size
        assert frontier.root() == ROOTS[size]
    assert stored == NODES


def test_frontier_of_the_empty_log() -> None:
    assert Frontier().root() == EMPTY_ROOT
    assert Frontier().size == 0
    assert Frontier.from_nodes(_get, 0).root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_frontier_rebuilt_from_nodes(size: int) -> None:
    assert Frontier.from_nodes(_get, size).root() == ROOTS[size]


@pytest.mark.parametrize(
    "case", _KAT["inclusion"], ids=lambda c: f"index{c['index']}-size{c['size']}"
)
def test_known_inclusion_proofs(case: dict[str, Any]) -> None:
    index, size, expected = case["index"], case["size"], _hexes(case["proof"])
    assert inclusion_proof(LEAVES[:size], index) == expected
    assert inclusion_proof_from_nodes(_get, index, size) == expected
    assert ref_inclusion(LEAVES[:size], index) == expected
    verify_inclusion(index, size, leaf_hash(LEAVES[index]), expected, ROOTS[size])
    assert root_from_inclusion_proof(index, size, leaf_hash(LEAVES[index]), expected) == ROOTS[size]


@pytest.mark.parametrize(
    "case", _KAT["consistency"], ids=lambda c: f"size{c['size1']}-size{c['size2']}"
)
def test_known_consistency_proofs(case: dict[str, Any]) -> None:
    size1, size2, expected = case["size1"], case["size2"], _hexes(case["proof"])
    assert consistency_proof(LEAVES[:size2], size1) == expected
    assert consistency_proof_from_nodes(_get, size1, size2) == expected
    assert ref_consistency(LEAVES[:size2], size1) == expected
    verify_consistency(size1, size2, expected, ROOTS[size1], ROOTS[size2])


@pytest.mark.parametrize("case", _HAPPY["inclusion"], ids=lambda c: c["name"])
def test_transparency_dev_inclusion_happy_paths(case: dict[str, Any]) -> None:
    index, size = case["leafIdx"], case["treeSize"]
    proof = [b64_decode(h) for h in case["proof"]]
    leaf, root = b64_decode(case["leafHash"]), b64_decode(case["root"])
    verify_inclusion(index, size, leaf, proof, root)
    assert leaf == leaf_hash(LEAVES[index])
    assert inclusion_proof_from_nodes(_get, index, size) == proof


@pytest.mark.parametrize("case", _HAPPY["consistency"], ids=lambda c: c["name"])
def test_transparency_dev_consistency_happy_paths(case: dict[str, Any]) -> None:
    size1, size2 = case["size1"], case["size2"]
    proof = [b64_decode(h) for h in case["proof"]]
    root1, root2 = b64_decode(case["root1"]), b64_decode(case["root2"])
    verify_consistency(size1, size2, proof, root1, root2)
    assert (root1, root2) == (ROOTS[size1], ROOTS[size2])
    assert consistency_proof_from_nodes(_get, size1, size2) == proof


def test_consistency_from_the_empty_tree_is_empty() -> None:
    # RFC 9162 defines PROOF(m, D_n) for 0 < m < n only; C2SP tlog-witness
    # requires the empty proof when the old size is zero.
    assert consistency_proof(LEAVES, 0) == []
    assert consistency_proof_from_nodes(_get, 0, 8) == []
    verify_consistency(0, 8, [], EMPTY_ROOT, ROOTS[8])
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)


def test_consistency_with_itself_is_empty() -> None:
    assert consistency_proof(LEAVES, len(LEAVES)) == []
    for size in range(len(ROOTS)):
        assert consistency_proof_from_nodes(_get, size, size) == []
        verify_consistency(size, size, [], ROOTS[size], ROOTS[size])


@pytest.mark.parametrize("index", [-1, 8, 9])
def test_inclusion_proof_rejects_an_index_outside_the_tree(index: int) -> None:
    with pytest.raises(ValueError, match="0 <= index < size"):
        inclusion_proof(LEAVES, index)
    with pytest.raises(ValueError, match="0 <= index < size"):
        inclusion_proof_from_nodes(_get, index, 8)


def test_inclusion_proof_rejects_the_empty_tree() -> None:
    with pytest.raises(ValueError):
        inclusion_proof([], 0)


@pytest.mark.parametrize(("size1", "size2"), [(-1, 8), (9, 8), (5, 4), (1, -1)])
def test_consistency_proof_rejects_bad_sizes(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match="0 <= size1 <= size2"):
        consistency_proof_from_nodes(_get, size1, size2)


def test_consistency_proof_rejects_a_size_beyond_the_leaves() -> None:
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 9)


def test_root_from_nodes_rejects_a_negative_size() -> None:
    with pytest.raises(ValueError):
        root_from_nodes(_get, -1)
    with pytest.raises(ValueError):
        Frontier.from_nodes(_get, -1)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_frontier_rejects_a_leaf_hash_of_the_wrong_length(bad: bytes) -> None:
    frontier = Frontier()
    with pytest.raises(ValueError, match="32 bytes"):
        frontier.append(bad)
    assert frontier.size == 0


def test_frontier_copy_is_independent() -> None:
    frontier = Frontier.from_nodes(_get, 5)
    twin = frontier.copy()
    twin.append(leaf_hash(LEAVES[5]))
    assert (frontier.size, frontier.root()) == (5, ROOTS[5])
    assert (twin.size, twin.root()) == (6, ROOTS[6])
