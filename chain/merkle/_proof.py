"""Building RFC 9162 inclusion and consistency proofs from stored perfect nodes.

Implements MTH (RFC 9162 §2.1.1), PATH (§2.1.3.1) and PROOF / SUBPROOF
(§2.1.4.1) for a tree of any size up to the store's, in O(log n) node reads:
each proof hash is a node of the tree of the requested size, read directly
when that node is perfect, or recomputed from the perfect nodes under it when
it lies on the tree's right edge (see :mod:`chain.merkle._compact`).

The functions over a plain list of leaves are thin wrappers that build an
in-memory node table with :class:`~chain.merkle._compact.Frontier`, so the
node-based path is the one every caller exercises.

Consistency proofs from size 0: RFC 9162 defines PROOF(m, D_n) only for
0 < m < n. We return the empty proof for m == n (the base case of SUBPROOF)
and for m == 0, as C2SP tlog-witness requires ("The proof MUST be empty if
the old size is zero"): the empty tree is a prefix of every tree.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.merkle._compact import Frontier, NodeGetter, range_hash
from chain.merkle._hashing import EMPTY_ROOT, leaf_hash

__all__ = [
    "consistency_proof",
    "consistency_proof_from_nodes",
    "inclusion_proof",
    "inclusion_proof_from_nodes",
    "root_from_nodes",
    "root_hash",
]


def root_from_nodes(get: NodeGetter, size: int) -> bytes:
    """Return the root hash of the tree of the first ``size`` leaves.

    Requires ``size >= 0`` (ValueError otherwise) and ``get`` to hold every
    perfect node inside ``[0, size)``. Returns ``EMPTY_ROOT`` for size 0.
    Calls ``get`` once per set bit of ``size``.
    """
    if size < 0:
        raise ValueError(f"tree size must be >= 0, found {size}")
    return range_hash(get, 0, size) if size else EMPTY_ROOT


def inclusion_proof_from_nodes(get: NodeGetter, index: int, size: int) -> list[bytes]:
    """Return the inclusion proof (audit path) of leaf ``index`` in the tree of ``size`` leaves.

    Requires ``0 <= index < size``; raises ValueError otherwise. ``get`` must
    hold every perfect node inside ``[0, size)``; it is called at most
    ``2 * ceil(log2(size))`` times. Hashes are ordered from the leaf up.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index must satisfy 0 <= index < size = {size}, found {index}")
    return _path(get, 0, index, size)


def consistency_proof_from_nodes(get: NodeGetter, size1: int, size2: int) -> list[bytes]:
    """Return the consistency proof from the tree of ``size1`` leaves to that of ``size2`` leaves.

    Requires ``0 <= size1 <= size2``; raises ValueError otherwise. The proof is
    empty when ``size1 == size2`` or ``size1 == 0`` (see the module docstring).
    ``get`` must hold every perfect node inside ``[0, size2)``; it is called at
    most ``2 * ceil(log2(size2))`` times.
    """
    if not 0 <= size1 <= size2:
        raise ValueError(f"tree sizes must satisfy 0 <= size1 <= size2, found {size1}, {size2}")
    if size1 in (0, size2):
        return []
    # The old tree's rightmost perfect subtree (its lowest set bit) is a node of
    # both trees; the proof is that node (unless it is the whole old tree, whose
    # root the verifier already has) followed by its audit path in the new tree.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    seed = [] if size1 == 1 << level else [get(level, index)]
    return seed + _path(get, level, index, size2)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """Return MTH(leaves), the RFC 6962 root hash of a list of raw leaf inputs (not hashes).

    Any list, including the empty one (``EMPTY_ROOT``); raises nothing. O(n).
    """
    return root_from_nodes(_node_table(leaves), len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Return the inclusion proof of ``leaves[index]`` in the tree of all ``leaves`` (raw inputs).

    Requires ``0 <= index < len(leaves)``; raises ValueError otherwise. O(n).
    """
    return inclusion_proof_from_nodes(_node_table(leaves), index, len(leaves))


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """Return the consistency proof from the first ``size1`` leaves to all ``leaves`` (raw inputs).

    Requires ``0 <= size1 <= len(leaves)``; raises ValueError otherwise. Empty
    when ``size1`` is 0 or ``len(leaves)``. O(n).
    """
    return consistency_proof_from_nodes(_node_table(leaves), size1, len(leaves))


def _path(get: NodeGetter, level: int, index: int, size: int) -> list[bytes]:
    """Sibling hashes on the way from node ``(level, index)`` up to the root of ``size`` leaves."""
    path: list[bytes] = []
    while (last := (size - 1) >> level) > 0:  # last: the rightmost node on this level
        sibling = index ^ 1
        if sibling <= last:  # a rightmost node with no sibling moves up unchanged
            begin = sibling << level
            path.append(range_hash(get, begin, min(begin + (1 << level), size)))
        index >>= 1
        level += 1
    return path


def _node_table(leaves: Sequence[bytes]) -> NodeGetter:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    for data in leaves:
        for level, index, hashed in frontier.append(leaf_hash(data)):
            nodes[level, index] = hashed
    return lambda level, index: nodes[level, index]
