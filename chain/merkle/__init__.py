"""The farmtrace log's Merkle tree: RFC 6962 / RFC 9162 hashing, proofs and their verification.

Split as in transparency-dev/merkle: :mod:`._hashing` (leaf and node hashes),
:mod:`._compact` (perfect nodes and the append :class:`Frontier`),
:mod:`._proof` (building proofs from stored nodes, or from a list of leaves)
and :mod:`._verify` (checking proofs, primitives in, :class:`~chain.errors.ProofError` out).

A node ``(level, index)`` is the perfect subtree over leaves
``[index << level, (index + 1) << level)``. A store persists the nodes
:meth:`Frontier.append` reports and answers ``get(level, index)``; from those,
roots and proofs for any tree size up to the store's take O(log n) reads::

    frontier = Frontier()
    for data in leaves:
        for level, index, hashed in frontier.append(leaf_hash(data)):
            store[level, index] = hashed
    get = lambda level, index: store[level, index]
    proof = inclusion_proof_from_nodes(get, 3, frontier.size)
    verify_inclusion(3, frontier.size, leaf_hash(leaves[3]), proof, frontier.root())
"""

from __future__ import annotations

from chain.merkle._compact import Frontier, NodeGetter
from chain.merkle._hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from chain.merkle._proof import (
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    root_from_nodes,
    root_hash,
)
from chain.merkle._verify import root_from_inclusion_proof, verify_consistency, verify_inclusion

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "NodeGetter",
    "consistency_proof",
    "consistency_proof_from_nodes",
    "inclusion_proof",
    "inclusion_proof_from_nodes",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_nodes",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]
