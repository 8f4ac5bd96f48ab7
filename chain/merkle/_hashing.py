"""RFC 6962 / RFC 9162 hashing: leaf and interior-node hashes with domain separation.

RFC 9162 section 2.1.1 (identical to RFC 6962 section 2.1) defines the Merkle
Tree Hash with SHA-256 and two one-byte prefixes, ``0x00`` for leaves and
``0x01`` for interior nodes, so that a node hash can never be passed off as the
hash of a leaf (the second-preimage attack on unprefixed Merkle trees).
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash"]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() — the root of the tree with no leaves (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of one leaf: ``SHA-256(0x00 || data)``.

    ``data`` is the raw leaf input (for the farmtrace log, a block header's
    bytes). Accepts any bytes, including empty; raises nothing.
    """
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: ``SHA-256(0x01 || left || right)``.

    ``left`` and ``right`` are the hashes of the two children, in order. The
    lengths are not checked here (callers verifying untrusted proofs check
    them first); raises nothing.
    """
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()
