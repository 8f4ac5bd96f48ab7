"""C2SP tlog-tiles: the log as static files (paths, tile contents, proofs from tiles).

The C2SP ``tlog-tiles`` layout (https://c2sp.org/tlog-tiles) serves an RFC
6962 log as immutable files under a prefix:

- ``checkpoint``: the latest signed checkpoint (the only file that changes);
- ``tile/<L>/<N>[.p/<W>]``: hash tile ``N`` of level ``L``: up to 256
  consecutive 32-byte node hashes of tree level ``8 * L`` (level 0 holds the
  leaf hashes); ``.p/<W>`` names a partial tile of ``W`` (1..255) hashes on
  the tree's right edge;
- ``tile/entries/<N>[.p/<W>]``: entry bundle ``N``: the leaves (our block
  headers) of level-0 tile ``N``, each prefixed by its length as a
  big-endian uint16.

farmtrace adds one kind of file (design.md section 3, issue 13):

- ``block/<N>``: block ``N``'s entries (JWS), in order, in the entry bundle
  format. Immutable: its header (a leaf) commits to them by ``entries_root``.

``<N>`` is written in groups of three decimal digits, every group but the
last prefixed by ``x`` (1234067 -> ``x001/x234/067``).

:func:`tile_node_getter` turns a tile reader into a
:data:`chain.merkle.NodeGetter`, so that roots and proofs for any tree size
come from :mod:`chain.merkle`'s ``*_from_nodes`` functions; :func:`tile_writes`
is what a publisher writes when the log grows. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from chain import merkle
from chain.errors import MalformedError

__all__ = [
    "ENTRY_MAX_BYTES",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileReader",
    "TileRef",
    "TileWrite",
    "block_entries_path",
    "decode_bundle",
    "decode_hash_tile",
    "encode_bundle",
    "encode_index",
    "entries_path",
    "parse_tile_path",
    "tile_levels",
    "tile_node_getter",
    "tile_path",
    "tile_root",
    "tile_width",
    "tile_writes",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ENTRY_MAX_BYTES = 0xFFFF
"""An entry bundle's length prefix is a uint16."""

_LEVEL_MAX = 63
_TILE_PATH = re.compile(
    r"tile/(entries|[0-9]|[1-5][0-9]|6[0-3])/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]+))?"
)


@dataclass(frozen=True, slots=True)
class TileRef:
    """Tile ``index`` of ``level`` with ``width`` hashes (256: full); level -1: entry bundle."""

    level: int
    index: int
    width: int

    def __post_init__(self) -> None:
        if not -1 <= self.level <= _LEVEL_MAX or self.index < 0:
            raise ValueError(f"no such tile: level {self.level}, index {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile width: expected 1..{TILE_WIDTH}, found {self.width}")

    @property
    def path(self) -> str:
        """The tile's path under the log's prefix."""
        if self.level == -1:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


@dataclass(frozen=True, slots=True)
class TileWrite:
    """A file to publish: its tile and its exact bytes."""

    tile: TileRef
    data: bytes


def encode_index(index: int) -> str:
    """``index`` as a tile path: 3-digit groups, all but the last ``x``-prefixed.

    Raises:
        ValueError: ``index`` is negative.
    """
    if type(index) is not int or index < 0:
        raise ValueError(f"tile index: expected a non-negative int, found {index!r}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width: expected 1..{TILE_WIDTH}, found {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (ValueError for a level outside 0..63 or a width outside 1..256)."""
    if not 0 <= level <= _LEVEL_MAX:
        raise ValueError(f"tile level: expected 0..{_LEVEL_MAX}, found {level}")
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``: the entry bundle of level-0 tile ``index``."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


def block_entries_path(height: int) -> str:
    """``block/<N>``: the entries of block ``height`` (farmtrace's addition)."""
    return f"block/{encode_index(height)}"


def parse_tile_path(path: str) -> TileRef:
    """The tile a path names (entry bundles have level -1).

    Raises:
        MalformedError: not a tile path (or a non-canonical one: a leading
            ``x000`` group, a width of 0 or 256 written as partial).
    """
    found = _TILE_PATH.fullmatch(path)
    if found is None:
        raise MalformedError(f"{path!r}: not a tlog-tiles path", reason="malformed_tile_path")
    level_text, index_text, width_text = found.groups()
    index = int(index_text.replace("x", "").replace("/", ""))
    width = TILE_WIDTH if width_text is None else int(width_text)
    level = -1 if level_text == "entries" else int(level_text)
    try:
        ref = TileRef(level, index, width)
    except ValueError as exc:
        raise MalformedError(f"{path!r}: {exc}", reason="malformed_tile_path") from exc
    if ref.path != path:
        raise MalformedError(
            f"{path!r}: not the canonical path {ref.path!r}", reason="malformed_tile_path"
        )
    return ref


def tile_levels(size: int) -> int:
    """How many tile levels a tree of ``size`` leaves has (0 for an empty tree)."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``index`` of ``level`` has in a tree of ``size`` leaves (0: none)."""
    nodes = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))


def decode_hash_tile(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a hash tile's bytes.

    Raises:
        MalformedError: the length is not ``32 * width``.
    """
    if len(data) != merkle.HASH_SIZE * width:
        raise MalformedError(
            f"hash tile: expected {merkle.HASH_SIZE * width} bytes ({width} hashes), "
            f"found {len(data)}",
            reason="malformed_tile",
        )
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


def encode_bundle(items: Iterable[bytes]) -> bytes:
    """Items, each prefixed by its length as a big-endian uint16 (ValueError if one is longer)."""
    out = bytearray()
    for item in items:
        if len(item) > ENTRY_MAX_BYTES:
            raise ValueError(f"bundle item of {len(item)} bytes: at most {ENTRY_MAX_BYTES}")
        out += len(item).to_bytes(2, "big") + item
    return bytes(out)


def decode_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """The items of an entry bundle (``count`` of them, when given).

    Raises:
        MalformedError: a truncated item, or not ``count`` items.
    """
    items, at, view = [], 0, memoryview(data)
    while at < len(data):
        if at + 2 > len(data):
            raise MalformedError("entry bundle: truncated length prefix", reason="malformed_tile")
        length = int.from_bytes(view[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise MalformedError("entry bundle: truncated item", reason="malformed_tile")
        items.append(bytes(view[at + 2 : at + 2 + length]))
        at += 2 + length
    if count is not None and len(items) != count:
        raise MalformedError(
            f"entry bundle: expected {count} items, found {len(items)}", reason="malformed_tile"
        )
    return items


def tile_root(hashes: Sequence[bytes]) -> bytes:
    """The perfect subtree hash over ``hashes`` (a power-of-two count, else ValueError)."""
    count = len(hashes)
    if count == 0 or count & (count - 1):
        raise ValueError(f"expected a power-of-two number of hashes, found {count}")
    level = list(hashes)
    while len(level) > 1:
        level = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


TileReader = Callable[[int, int, int], Sequence[bytes]]
"""``read(level, index, width)`` returns the ``width`` hashes of that hash tile."""


def tile_node_getter(read: TileReader, size: int) -> merkle.NodeGetter:
    """A :data:`chain.merkle.NodeGetter` for the tree of ``size`` leaves, read from hash tiles.

    Node ``(level, index)`` with ``level = 8 * L + r`` is the root of ``2**r``
    consecutive hashes of one level-``L`` tile, read at its width in the tree
    of ``size``. Whatever ``read`` raises propagates.
    """

    def get(level: int, index: int) -> bytes:
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest
        tile_index, offset = divmod(first, TILE_WIDTH)
        width = tile_width(tile_level, tile_index, size)
        if offset + (1 << rest) > width:
            raise ValueError(f"node ({level}, {index}) is not inside the tree of size {size}")
        hashes = read(tile_level, tile_index, width)
        return tile_root(hashes[offset : offset + (1 << rest)])

    return get


def tile_writes(
    old_size: int,
    edge: Mapping[int, Sequence[bytes]],
    old_bundle: Sequence[bytes],
    new_leaves: Sequence[bytes],
) -> list[TileWrite]:
    """The hash tiles and entry bundles that grow a tree of ``old_size`` by ``new_leaves``.

    ``edge[L]`` are the hashes of level ``L``'s partial tile in the old tree
    (missing or empty where it has none), and ``old_bundle`` the leaves of the
    partial entry bundle. Returns new full tiles (written once, never again)
    and the new partial tiles, lowest level first, entry bundles before hash tiles.

    Raises:
        ValueError: an edge tile's width is not the old tree's.
    """
    levels = max(tile_levels(old_size), 1)
    pending: dict[int, list[bytes]] = {}
    for level in range(levels):
        hashes = list(edge.get(level, ()))
        if len(hashes) != tile_width(
            level, (old_size >> (TILE_HEIGHT * level)) // TILE_WIDTH, old_size
        ):
            raise ValueError(
                f"level {level}: edge tile of {len(hashes)} hashes for size {old_size}"
            )
        pending[level] = hashes
    bundle = list(old_bundle)
    if len(bundle) != len(pending[0]):
        raise ValueError(
            f"entry bundle of {len(bundle)} leaves for a level-0 edge of {len(pending[0])}"
        )
    bundles: list[TileWrite] = []
    tiles: list[TileWrite] = []
    size = old_size
    for leaf in new_leaves:
        bundle.append(leaf)
        carry: bytes | None = merkle.leaf_hash(leaf)
        level = 0
        while carry is not None:
            row = pending.setdefault(level, [])
            row.append(carry)
            carry = None
            if len(row) == TILE_WIDTH:
                index = ((size + 1) >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1
                tiles.append(TileWrite(TileRef(level, index, TILE_WIDTH), b"".join(row)))
                if level == 0:
                    bundles.append(TileWrite(TileRef(-1, index, TILE_WIDTH), encode_bundle(bundle)))
                    bundle = []
                carry = tile_root(row)
                pending[level] = []
                level += 1
        size += 1
    if not new_leaves:
        return []
    if bundle:
        bundles.append(
            TileWrite(TileRef(-1, size // TILE_WIDTH, len(bundle)), encode_bundle(bundle))
        )
    for level in sorted(pending):
        row = pending[level]
        if row and row != list(edge.get(level, ())):
            index = (size >> (TILE_HEIGHT * level)) // TILE_WIDTH
            tiles.append(TileWrite(TileRef(level, index, len(row)), b"".join(row)))
    return bundles + tiles
