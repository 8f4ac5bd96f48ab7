"""The LevelDB key layout of a store (see :mod:`chain.store`). Only the store reads it.

:mod:`chain.store` re-exports the functions that name an entry's index
records (:func:`entry_index_keys` and the two that describe such a key),
so that the audit can check them without knowing the layout.

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
    r:<sha256(origin) 32><size>   another log's cosigned checkpoint note of that size, kept
                                  when a reference to that log was checked (issue 15;
                                  not part of this log)
    p:<id>                        a gateway's pending entry: verified and acknowledged,
                                  not yet in a block (not part of the log; the
                                  block that takes it deletes it in the same batch)

Every family's prefix is two bytes; a record under any other prefix is not
one the store writes.
"""

from __future__ import annotations

import enum
import struct

from chain.entries import Entry, event_outputs

U64 = struct.Struct(">Q")

META_NAMES = frozenset({b"format", b"origin", b"blocks", b"entries", b"checkpoint"})


class Family(enum.Enum):
    """The key families a store writes. The value is the family's key prefix."""

    META = b"m:"
    BLOCKS = b"b:"
    BLOCK_HASHES = b"h:"
    ENTRIES = b"e:"
    NODES = b"n:"
    SIGNER_SEQS = b"d:"
    SUBJECTS = b"s:"
    REGISTRATIONS = b"g:"
    EVENTS = b"v:"
    CHECKPOINTS = b"c:"
    PENDING = b"p:"
    REF_CHECKPOINTS = b"r:"

    @property
    def label(self) -> str:
        """The family's key prefix as text, for messages (e.g. ``'s:'``)."""
        return self.value.decode()


FAMILY_OF = {family.value: family for family in Family}


def u64(n: int) -> bytes:
    """``n`` as 8 big-endian bytes, so that keys sort numerically."""
    return U64.pack(n)


def successor(prefix: bytes) -> bytes:
    """The smallest key greater than every key that starts with ``prefix``.

    Precondition: ``prefix`` does not end with ``0xff``.
    """
    return prefix[:-1] + bytes([prefix[-1] + 1])


def meta_key(name: bytes) -> bytes:
    """The key of the meta record ``name``."""
    return b"m:" + name


def block_key(height: int) -> bytes:
    """The key of the header of block ``height``."""
    return b"b:" + u64(height)


def hash_key(block_hash: bytes) -> bytes:
    """The key of the height record of the block whose hash is ``block_hash`` (32 bytes)."""
    return b"h:" + block_hash


def entry_key(index: int) -> bytes:
    """The key of entry ``index``."""
    return b"e:" + u64(index)


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


def registration_key(index: int) -> bytes:
    """The key of the registration index record of entry ``index``."""
    return b"g:" + u64(index)


def event_key(index: int) -> bytes:
    """The key of the event index record of entry ``index``."""
    return b"v:" + u64(index)


def checkpoint_key(size: int) -> bytes:
    """The key of the checkpoint note for tree ``size``."""
    return b"c:" + u64(size)


def ref_checkpoint_key(origin_hash: bytes, size: int) -> bytes:
    """The key of another log's checkpoint note of ``size`` (``origin_hash``: SHA-256 of origin)."""
    return b"r:" + origin_hash + u64(size)


def pending_key(pending_id: int) -> bytes:
    """The key of a gateway's pending entry."""
    return b"p:" + u64(pending_id)


def entry_subjects(entry: Entry) -> tuple[str, ...]:
    """The subjects an entry is about, for the subject/time index.

    An event is indexed under its ``subjects`` and the subjects it derives
    (:func:`chain.entries.event_outputs`: a slaughter's carcasses, a pack).
    """
    payload = entry.payload
    if entry.type == "reading":
        return (str(payload["subject"]),)
    if entry.type == "event":
        return tuple(dict.fromkeys([*payload["subjects"], *event_outputs(payload)]))
    if entry.type == "device":
        return (f"device:{payload['dev']}",)
    if entry.type == "gap":
        return ()
    return (f"operator:{payload['op']}",)


def entry_index_keys(entry: Entry, index: int) -> tuple[bytes, list[bytes]]:
    """The index records the store writes for ``entry`` at global ``index``, as opaque keys.

    Returns the key of its ``(signer, seq)`` record (whose value is
    ``index.to_bytes(8, "big")``) and the keys of its subject, registration
    and event index records (whose values are empty), in that order. Look
    them up with :meth:`Store.get_many`; describe one with
    :func:`index_key_kind` or :func:`signer_seq_of_key`.
    """
    at = u64(entry.ts) + u64(index)
    listed = [subject_prefix(subject) + at for subject in entry_subjects(entry)]
    if entry.type in ("device", "operator"):
        listed.append(registration_key(index))
    elif entry.type == "event":
        listed.append(event_key(index))
    return dedup_key(entry.kid, entry.seq), listed


def index_key_kind(key: bytes) -> tuple[str, str]:
    """What an index key from :func:`entry_index_keys` is.

    Returns ``("registration", "")``, ``("event", "")`` or ``("subject", <subject>)``.
    """
    family = FAMILY_OF.get(key[:2])
    if family is Family.REGISTRATIONS:
        return "registration", ""
    if family is Family.EVENTS:
        return "event", ""
    return "subject", key[2:-17].decode("utf-8", errors="replace")


def signer_seq_of_key(key: bytes) -> tuple[str, int]:
    """``(signer, seq)`` of a ``(signer, seq)`` record's key from :func:`entry_index_keys`."""
    return key[2:-9].decode("utf-8", errors="replace"), int.from_bytes(key[-8:], "big")
