"""The LevelDB key layout of a store (see :mod:`chain.store`).

Key layout (all integers 8-byte big-endian, so keys sort numerically)::

    m:<name>                      meta: format, origin, block and entry counts,
                                  latest checkpoint size
    b:<height>                    block header bytes (the log leaf)
    h:<hash 32>                   height of the block with that hash
    e:<index>                     exact entry bytes
    n:<level 1><index>            RFC 6962 node hash of a perfect subtree
    d:<signer>\\0<seq>             global index of the entry (signer, seq)
    s:<subject>\\0<ts><index>      entries about a subject, by time
    g:<index>                     registration and revocation entries
    v:<index>                     event entries (lifecycle facts)
    c:<size>                      signed checkpoint note for that tree size
    p:<id>                        a gateway's pending entry: verified and acknowledged,
                                  not yet in a block (not part of the log; the
                                  block that takes it deletes it in the same batch)
"""

from __future__ import annotations

import struct

U64 = struct.Struct(">Q")


def u64(n: int) -> bytes:
    """``n`` as 8 big-endian bytes, so that keys sort numerically."""
    return U64.pack(n)


def node_key(level: int, index: int) -> bytes:
    """The key of the Merkle node at ``level`` (0 = leaves) and ``index``."""
    return b"n:" + bytes([level]) + u64(index)


def dedup_prefix(signer: str) -> bytes:
    """The prefix of every (signer, seq) index record of ``signer``."""
    return b"d:" + signer.encode() + b"\0"


def dedup_key(signer: str, seq: int) -> bytes:
    """The key of the (signer, seq) index record."""
    return dedup_prefix(signer) + u64(seq)


def subject_prefix(subject: str) -> bytes:
    """The prefix of the subject/time index records of ``subject``."""
    return b"s:" + subject.encode() + b"\0"


def pending_key(pending_id: int) -> bytes:
    """The key of a gateway's pending entry."""
    return b"p:" + u64(pending_id)
