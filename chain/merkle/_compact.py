"""Perfect subtrees, compact ranges and the append frontier of an RFC 6962 log.

Nodes are named as in transparency-dev/merkle's ``compact`` package: node
``(level, index)`` is the root of the perfect subtree over the leaves
``[index << level, (index + 1) << level)``; level 0 holds the leaf hashes.
Every leaf range ``[begin, end)`` splits into a minimal list of such perfect
nodes (its *compact range*). The compact range of ``[0, size)`` — one perfect
node per set bit of ``size`` — is the *frontier*: enough to compute the root
(RFC 9162 §2.1.1) and to append further leaves.

A store keeps every perfect node that lies fully inside its current size. It
never stores an imperfect ("ephemeral") node on the right edge, because that
node's hash changes as leaves are appended; such hashes are recomputed from
the perfect nodes below them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from chain.merkle._hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["Frontier", "NodeGetter", "fold_right", "perfect_nodes", "range_hash"]

NodeGetter: TypeAlias = Callable[[int, int], bytes]
"""``get(level, index)`` returns the stored hash of perfect node ``(level, index)``.

It is only ever called for nodes that lie fully inside the tree size the
caller asked about. Whatever it raises (e.g. a store's ``StorageError``)
propagates unchanged.
"""


def perfect_nodes(begin: int, end: int) -> list[tuple[int, int]]:
    """Return the minimal list of perfect nodes covering leaves ``[begin, end)``, left to right.

    Requires ``0 <= begin <= end``; raises ValueError otherwise. An empty range
    gives an empty list. At most ``2 * log2(end - begin) + 2`` nodes.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"invalid leaf range: expected 0 <= begin <= end, found [{begin}, {end})")
    nodes: list[tuple[int, int]] = []
    while begin < end:
        level = (end - begin).bit_length() - 1  # the largest 2**level that fits
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)  # and that begin is aligned to
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree hashes, left to right, into the root of the tree they make up.

    This is how RFC 9162 §2.1.1 hashes a list whose length is not a power of
    two: each subtree is the left child of the combination of those after it.
    Requires ``hashes`` non-empty; raises ValueError otherwise.
    """
    if not hashes:
        raise ValueError("expected at least one subtree hash, found none")
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(get: NodeGetter, begin: int, end: int) -> bytes:
    """Return MTH(D[begin:end]), the hash of a subtree of the log, from stored perfect nodes.

    Requires ``0 <= begin < end`` and ``[begin, end)`` to be a subtree of some
    RFC 6962 tree: ``begin`` a multiple of the largest power of two that is at
    most ``end - begin`` (true of every node, perfect or on the right edge, of
    the tree of any size >= ``end``). Raises ValueError otherwise. Calls ``get``
    once per set bit of ``end - begin``.
    """
    if not 0 <= begin < end:
        raise ValueError(f"invalid subtree: expected 0 <= begin < end, found [{begin}, {end})")
    if begin % (1 << ((end - begin).bit_length() - 1)):
        raise ValueError(f"[{begin}, {end}) is not a subtree of an RFC 6962 tree")
    return fold_right([get(level, index) for level, index in perfect_nodes(begin, end)])


class Frontier:
    """The compact range ``[0, size)`` of an append-only log: one perfect node per set bit of size.

    Mutable; a store keeps one in memory, appends leaf hashes to it and
    persists the nodes each append reports. Not thread-safe.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """Create the frontier of the empty log."""
        self._size = 0
        self._hashes: list[bytes] = []  # perfect subtree hashes, left to right (levels decreasing)

    @classmethod
    def from_nodes(cls, get: NodeGetter, size: int) -> Frontier:
        """Rebuild the frontier of the first ``size`` leaves from stored perfect nodes.

        Requires ``size >= 0`` (ValueError otherwise) and ``get`` to hold every
        perfect node inside ``[0, size)``. Calls ``get`` once per set bit of ``size``.
        """
        if size < 0:
            raise ValueError(f"tree size must be >= 0, found {size}")
        frontier = cls()
        frontier._hashes = [get(level, index) for level, index in perfect_nodes(0, size)]
        frontier._size = size
        return frontier

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def root(self) -> bytes:
        """Return the RFC 6962 root hash of the leaves so far (``EMPTY_ROOT`` if there are none)."""
        return fold_right(self._hashes) if self._hashes else EMPTY_ROOT

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash and return the new perfect nodes as ``(level, index, hash)``.

        The list starts with the leaf itself, ``(0, old_size, leaf_hash)``,
        followed by every node the leaf completes, bottom up. A store that
        persists exactly these nodes after each append holds every perfect node
        inside its size. Requires ``leaf_hash`` to be 32 bytes (the
        :func:`leaf_hash` of the leaf data, not the data); raises ValueError otherwise.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, found {len(leaf_hash)}")
        index = self._size
        created = [(0, index, leaf_hash)]
        level, hashed = 0, leaf_hash
        while (index >> level) & 1:  # this node is a right child: its left sibling is complete
            hashed = node_hash(self._hashes.pop(), hashed)
            level += 1
            created.append((level, index >> level, hashed))
        self._hashes.append(hashed)
        self._size += 1
        return created

    def copy(self) -> Frontier:
        """Return an independent copy (e.g. to stage a batch of appends before committing it)."""
        twin = Frontier()
        twin._hashes = list(self._hashes)
        twin._size = self._size
        return twin

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"
