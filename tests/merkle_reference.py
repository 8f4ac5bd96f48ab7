"""A naive, obviously correct RFC 6962 Merkle tree, for cross-checking the fast code.

Each function transcribes a definition of RFC 6962 section 2.1 (unchanged in
RFC 9162 section 2.1) literally, recursing over the raw leaf inputs and
recomputing every subtree hash it needs: MTH (§2.1), PATH (§2.1.1) and
PROOF / SUBPROOF (§2.1.2). It is slow (O(n) hashing per call) and shares no
code with :mod:`chain.merkle` on purpose. Import it as ``merkle_reference``
(``tests/conftest.py`` puts this directory on ``sys.path``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["ref_consistency", "ref_inclusion", "ref_root"]


def ref_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the raw leaf inputs ``leaves``."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _split(n)
    return hashlib.sha256(b"\x01" + ref_root(leaves[:k]) + ref_root(leaves[k:])).digest()


def ref_inclusion(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]). Requires 0 <= index < len(leaves); raises ValueError otherwise."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"index {index} out of range for {n} leaves")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*ref_inclusion(leaves[:k], index), ref_root(leaves[k:])]
    return [*ref_inclusion(leaves[k:], index - k), ref_root(leaves[:k])]


def ref_consistency(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(size1, D[n]) = SUBPROOF(size1, D[n], true).

    Requires 0 <= size1 <= len(leaves); raises ValueError otherwise. The RFC
    defines PROOF for 0 < m < n only; like chain.merkle, this returns the empty
    proof for m == n and for m == 0 (C2SP tlog-witness).
    """
    n = len(leaves)
    if not 0 <= size1 <= n:
        raise ValueError(f"size1 {size1} out of range for {n} leaves")
    if size1 == 0:
        return []
    return _subproof(size1, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], b), ref_root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), ref_root(leaves[:k])]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k
