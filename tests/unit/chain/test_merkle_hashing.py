"""RFC 6962 hashing: known answers, leaf/node domain separation and the package's public names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import chain.merkle
from chain.errors import ProofError
from chain.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_inclusion,
)

_VECTORS = json.loads(
    (Path(__file__).parent / "data" / "merkle_rfc6962_known_answers.json").read_text()
)["hasher"]

_hashes32 = st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE)


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == _VECTORS["empty_root"]
    assert root_hash([]) == EMPTY_ROOT


def test_empty_leaf_hash_differs_from_empty_root() -> None:
    assert leaf_hash(b"").hex() == _VECTORS["leaf_empty"]
    assert leaf_hash(b"") != EMPTY_ROOT


def test_leaf_hash_known_answer() -> None:
    assert leaf_hash(b"L123456").hex() == _VECTORS["leaf_L123456"]


def test_node_hash_known_answer() -> None:
    assert node_hash(b"N123", b"N456").hex() == _VECTORS["node_N123_N456"]


def test_hashes_are_prefixed_sha256() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert len(leaf_hash(b"abc")) == HASH_SIZE


@given(_hashes32, _hashes32)
def test_node_hash_is_never_the_leaf_hash_of_its_children(left: bytes, right: bytes) -> None:
    assert node_hash(left, right) != leaf_hash(left + right)


def test_node_hash_depends_on_child_order() -> None:
    hello, world = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert hello != world
    assert node_hash(hello, world) != node_hash(world, hello)


def test_interior_node_cannot_pass_as_a_leaf() -> None:
    # Second-preimage attack on unprefixed trees: present the two children of
    # node (1, 0) as one "leaf" whose data is their concatenation, and prove it
    # at index 0 of a 2-leaf tree whose root is the real 4-leaf root.
    leaves = [b"a", b"b", b"c", b"d"]
    root = root_hash(leaves)
    left = node_hash(leaf_hash(b"a"), leaf_hash(b"b"))
    right = node_hash(leaf_hash(b"c"), leaf_hash(b"d"))
    assert node_hash(left, right) == root
    forged_data = leaf_hash(b"a") + leaf_hash(b"b")
    with pytest.raises(ProofError) as caught:
        verify_inclusion(0, 2, leaf_hash(forged_data), [right], root)
    assert caught.value.expected == root
    # The node hash itself, offered as a leaf hash, does verify: which is why
    # verifiers must hash the leaf data themselves rather than trust a hash.
    verify_inclusion(0, 2, left, [right], root)
    assert inclusion_proof(leaves, 0)[-1] == right


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(chain.merkle) if not name.startswith("_")}
    public -= {"annotations"}
    assert public == set(chain.merkle.__all__)
