"""Verifying RFC 9162 inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).

Takes primitives only (sizes, hashes, lists of hashes), so that an auditor can
check a proof with nothing but this file and :mod:`chain.merkle._hashing`.
Every failure raises :class:`chain.errors.ProofError`: a malformed proof (wrong
length, a hash that is not 32 bytes, an index or size out of range) as well as
a root mismatch, which also sets ``expected`` and ``calculated``.

The checks follow the RFC algorithms, restated: a node on the audit path has a
sibling unless it is the rightmost node of its level with an even index, in
which case it moves up a level unchanged. Consistency from size 0 needs the
empty proof (C2SP tlog-witness) and the empty-tree root.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.errors import ProofError
from chain.merkle._hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["root_from_inclusion_proof", "verify_consistency", "verify_inclusion"]


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root ``proof`` leads to from leaf ``index`` (``leaf_hash``) in a tree of ``size``.

    Requires ``0 <= index < size``, a 32-byte ``leaf_hash`` and exactly as many
    32-byte proof hashes as the audit path of that leaf has; raises ProofError
    otherwise. The result must still be compared with a trusted root.
    """
    _check_hash("leaf hash", leaf_hash)
    if not 0 <= index < size:
        raise ProofError(f"leaf index must satisfy 0 <= index < size = {size}, found {index}")
    sides = _sibling_sides(index, size)
    _check_proof(proof, len(sides), f"inclusion proof of leaf {index} in a tree of size {size}")
    return _chain(leaf_hash, proof, sides)


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` of the tree of ``size`` leaves with ``root`` has ``leaf_hash``.

    ``leaf_hash`` is the RFC 6962 leaf hash (``leaf_hash(data)``), not the data.
    Requires ``0 <= index < size`` and 32-byte hashes. Returns None; raises
    ProofError if the proof is malformed or does not lead to ``root`` (then
    with ``expected=root`` and ``calculated`` set).
    """
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if calculated != root:
        raise ProofError(
            f"inclusion proof of leaf {index} does not lead to the root of size {size}",
            expected=root,
            calculated=calculated,
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` leaves (``root1``) is a prefix of that of ``size2``.

    Requires ``0 <= size1 <= size2`` and 32-byte hashes. The proof must be empty
    when ``size1 == size2`` (then the roots must be equal) or ``size1 == 0``
    (then ``root1`` must be ``EMPTY_ROOT``). Returns None; raises ProofError if
    the proof is malformed or does not lead to both roots (then with
    ``expected`` and ``calculated`` set).
    """
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    if not 0 <= size1 <= size2:
        raise ProofError(f"tree sizes must satisfy 0 <= size1 <= size2, found {size1}, {size2}")
    what = f"consistency proof from size {size1} to size {size2}"
    if size1 in (0, size2):
        _check_proof(proof, 0, what)
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise ProofError(
                "first root is not the empty tree's", expected=EMPTY_ROOT, calculated=root1
            )
        if size1 == size2 and root1 != root2:
            raise ProofError(f"two roots for size {size1}", expected=root1, calculated=root2)
        return
    # The proof starts from the old tree's rightmost perfect subtree, a node of
    # both trees; it is omitted when it is the whole old tree (root1 itself).
    level = (size1 & -size1).bit_length() - 1
    sides = _sibling_sides((size1 - 1) >> level, ((size2 - 1) >> level) + 1)
    if size1 == 1 << level:
        _check_proof(proof, len(sides), what)
        seed, path = root1, proof
    else:
        _check_proof(proof, len(sides) + 1, what)
        seed, path = proof[0], proof[1:]
    # The old tree is that subtree plus the complete subtrees to its left.
    calculated1 = seed
    for sibling, on_left in zip(path, sides, strict=True):
        if on_left:
            calculated1 = node_hash(sibling, calculated1)
    if calculated1 != root1:
        raise ProofError(
            f"{what} does not lead to the first root", expected=root1, calculated=calculated1
        )
    calculated2 = _chain(seed, path, sides)
    if calculated2 != root2:
        raise ProofError(
            f"{what} does not lead to the second root", expected=root2, calculated=calculated2
        )


def _sibling_sides(index: int, width: int) -> list[bool]:
    """For node ``index`` of a level of ``width`` nodes: is each sibling on its path on the left?"""
    sides: list[bool] = []
    last = width - 1
    while last > 0:
        if index & 1:
            sides.append(True)
        elif index < last:
            sides.append(False)
        index >>= 1
        last >>= 1
    return sides


def _chain(seed: bytes, path: Sequence[bytes], sides: Sequence[bool]) -> bytes:
    for sibling, on_left in zip(path, sides, strict=True):
        seed = node_hash(sibling, seed) if on_left else node_hash(seed, sibling)
    return seed


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        found = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, found {found}")


def _check_proof(proof: Sequence[bytes], length: int, what: str) -> None:
    if len(proof) != length:
        raise ProofError(f"{what} must have {length} hashes, found {len(proof)}")
    for position, value in enumerate(proof):
        _check_hash(f"hash {position} of the {what}", value)
