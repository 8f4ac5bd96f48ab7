"""C2SP tlog-tiles maths (chain.tiles) against the spec's path examples and the reference tree.

A dict stands in for the tiles directory: each round of growth applies what
``tile_writes`` returns (full tiles must never be rewritten with other bytes),
and roots and proofs read back through ``tile_node_getter`` must equal the
naive RFC 6962 reference's (tests/merkle_reference.py) at every size.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from merkle_reference import ref_consistency, ref_inclusion, ref_root

from chain import merkle
from chain.errors import MalformedError
from chain.tiles import (
    TILE_WIDTH,
    TileRef,
    block_entries_path,
    decode_bundle,
    decode_hash_tile,
    encode_bundle,
    encode_index,
    entries_path,
    parse_tile_path,
    tile_levels,
    tile_node_getter,
    tile_path,
    tile_width,
    tile_writes,
)


def test_index_encoding_follows_the_spec_examples() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 1234067, 8) == "tile/1/x001/x234/067.p/8"
    assert entries_path(1234067, 255) == "tile/entries/x001/x234/067.p/255"
    assert block_entries_path(5) == "block/005"


@pytest.mark.parametrize("bad", [-1, 1.0, True])
def test_a_negative_or_non_int_index_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        encode_index(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [0, 257])
def test_widths_outside_1_to_256_are_refused(width: int) -> None:
    with pytest.raises(ValueError):
        tile_path(0, 0, width)


@pytest.mark.parametrize(
    "path", ["tile/0/x001/x234/067", "tile/63/000.p/1", "tile/entries/x999/255.p/255", "tile/3/000"]
)
def test_paths_round_trip(path: str) -> None:
    assert parse_tile_path(path).path == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/x000/001",  # leading zero group
        "tile/0/1",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/07",
        "tile/x/000",
        "block/000",
        "tile/0/../000",
    ],
)
def test_non_canonical_paths_are_malformed(path: str) -> None:
    with pytest.raises(MalformedError) as caught:
        parse_tile_path(path)
    assert caught.value.reason == "malformed_tile_path"


def test_widths_and_levels() -> None:
    assert tile_levels(0) == 0
    assert tile_levels(1) == tile_levels(255) == 1
    assert tile_levels(256) == 2
    assert tile_levels(65536) == 3
    assert tile_width(0, 0, 300) == 256
    assert tile_width(0, 1, 300) == 44
    assert tile_width(0, 2, 300) == 0
    assert tile_width(1, 0, 300) == 1
    assert tile_width(1, 0, 255) == 0


def test_bundles_round_trip_and_refuse_truncation() -> None:
    items = [b"", b"a", bytes(range(256)) * 10]
    data = encode_bundle(items)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a"
    assert decode_bundle(data, 3) == items
    for cut in (1, 4, len(data) - 1):
        with pytest.raises(MalformedError):
            decode_bundle(data[:cut])
    with pytest.raises(MalformedError):
        decode_bundle(data, 2)
    with pytest.raises(ValueError):
        encode_bundle([bytes(65536)])


def test_a_hash_tile_of_the_wrong_length_is_malformed() -> None:
    with pytest.raises(MalformedError) as caught:
        decode_hash_tile(bytes(32 * 3 + 1), 3)
    assert caught.value.reason == "malformed_tile"


class _Dir:
    """Tiles as a dict of path -> bytes, grown the way a publisher grows them."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.size = 0

    def read(self, level: int, index: int, width: int) -> list[bytes]:
        return decode_hash_tile(self.files[tile_path(level, index, width)], width)

    def grow(self, leaves: list[bytes]) -> None:
        edge = {}
        for level in range(tile_levels(self.size)):
            index = (self.size >> (8 * level)) // TILE_WIDTH
            width = tile_width(level, index, self.size)
            if width:
                edge[level] = self.read(level, index, width)
        width = self.size % TILE_WIDTH
        bundle = (
            decode_bundle(self.files[entries_path(self.size // TILE_WIDTH, width)], width)
            if width
            else []
        )
        for write in tile_writes(self.size, edge, bundle, leaves):
            path = write.tile.path
            if write.tile.width == TILE_WIDTH and path in self.files:
                assert self.files[path] == write.data, f"full tile {path} rewritten"
            self.files[path] = write.data
        self.size += len(leaves)


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(1, 40)) for _ in range(n)]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=1, max_size=6), st.integers(0, 2**32))
def test_tiles_grown_in_steps_give_the_reference_roots_and_proofs(
    steps: list[int], seed: int
) -> None:
    tiles, leaves = _Dir(), _leaves(sum(steps), seed)
    sizes = []
    for step in steps:
        tiles.grow(leaves[tiles.size : tiles.size + step])
        sizes.append(tiles.size)
    size = tiles.size
    rng = random.Random(seed)
    for at in sizes:
        get = tile_node_getter(tiles.read, at)
        assert merkle.root_from_nodes(get, at) == ref_root(leaves[:at])
        if at:
            index = rng.randrange(at)
            assert merkle.inclusion_proof_from_nodes(get, index, at) == ref_inclusion(
                leaves[:at], index
            )
    get = tile_node_getter(tiles.read, size)
    for old in sizes:
        assert merkle.consistency_proof_from_nodes(get, old, size) == ref_consistency(
            leaves[:size], old
        )
    for index in range(0, size, 97):
        width = min(TILE_WIDTH, size - index // TILE_WIDTH * TILE_WIDTH)
        bundle = decode_bundle(tiles.files[entries_path(index // TILE_WIDTH, width)], width)
        assert bundle[index % TILE_WIDTH] == leaves[index]


def test_three_tile_levels_known_answer() -> None:
    """65,536 + 300 leaves (a level-2 tile) in uneven steps: the root is chain.merkle's."""
    leaves = [i.to_bytes(4, "big") for i in range(65536 + 300)]
    tiles = _Dir()
    for start in range(0, len(leaves), 5000):
        tiles.grow(leaves[start : start + 5000])
    assert tile_path(2, 0, 1) in tiles.files
    get = tile_node_getter(tiles.read, len(leaves))
    assert merkle.root_from_nodes(get, len(leaves)) == merkle.root_hash(leaves)
    assert merkle.inclusion_proof_from_nodes(get, 65000, len(leaves)) == merkle.inclusion_proof(
        leaves, 65000
    )


def test_an_edge_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError):
        tile_writes(10, {0: [bytes(32)] * 9}, [b""] * 9, [b"x"])


def test_tile_refs_check_their_fields() -> None:
    assert TileRef(-1, 3, 7).path == "tile/entries/003.p/7"
    with pytest.raises(ValueError):
        TileRef(64, 0, 1)
