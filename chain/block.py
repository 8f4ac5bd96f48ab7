"""Block headers: the batches whose hashes are the leaves of the log (design.md section 3).

A header is canonical JSON (RFC 8785: sorted keys, no whitespace) with the
members ``v, log, height, prev, first_index, count, entries_root, closed_at``.
Its SHA-256, in hex, is the block hash ("batch hash") that auditors quote; the
header bytes themselves are leaf ``height`` of the RFC 6962 log tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import rfc8785

from chain import merkle
from chain.errors import ChainLinkError, MalformedBlockError, ProofError
from chain.json_input import load_json_object

__all__ = [
    "BLOCK_VERSION",
    "GENESIS_PREV",
    "BlockHeader",
    "build_header",
    "verify_block_entries",
    "verify_link",
]

BLOCK_VERSION = 1
GENESIS_PREV = "0" * 64
_MAX_INT = 2**53 - 1
_FIELDS = frozenset(
    {"v", "log", "height", "prev", "first_index", "count", "entries_root", "closed_at"}
)


def _is_hex64(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _is_uint(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_INT


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """One block's header. Build it with :func:`build_header` or :meth:`from_bytes`.

    ``prev`` and ``entries_root`` are lowercase hex; ``closed_at`` is integer
    milliseconds since the Unix epoch. ``raw`` is the canonical header bytes
    and ``hash`` their SHA-256 in hex.
    """

    log: str
    height: int
    prev: str
    first_index: int
    count: int
    entries_root: str
    closed_at: int
    v: int = BLOCK_VERSION

    def __post_init__(self) -> None:
        if self.v != BLOCK_VERSION:
            raise MalformedBlockError(f"block version: expected {BLOCK_VERSION}, found {self.v!r}")
        if not isinstance(self.log, str) or not self.log:
            raise MalformedBlockError("block log origin must be a non-empty string")
        for name in ("height", "first_index", "closed_at"):
            if not _is_uint(getattr(self, name)):
                raise MalformedBlockError(f"block {name} must be a non-negative integer")
        if not _is_uint(self.count) or self.count == 0:
            raise MalformedBlockError(
                f"block count must be a positive integer, found {self.count!r}"
            )
        for name in ("prev", "entries_root"):
            if not _is_hex64(getattr(self, name)):
                raise MalformedBlockError(f"block {name} must be 64 lowercase hex digits")
        if (self.height == 0) != (self.prev == GENESIS_PREV):
            raise MalformedBlockError("only block 0 may (and must) have the all-zero prev hash")

    @property
    def raw(self) -> bytes:
        """The canonical (RFC 8785) header bytes: the log leaf."""
        return bytes(
            rfc8785.dumps(
                {
                    "v": self.v,
                    "log": self.log,
                    "height": self.height,
                    "prev": self.prev,
                    "first_index": self.first_index,
                    "count": self.count,
                    "entries_root": self.entries_root,
                    "closed_at": self.closed_at,
                }
            )
        )

    @property
    def hash(self) -> str:
        """Hex SHA-256 of :attr:`raw`: the block (batch) hash."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def next_index(self) -> int:
        """Global index of the first entry after this block."""
        return self.first_index + self.count

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockHeader:
        """Parse header bytes, requiring exactly the canonical RFC 8785 form.

        Raises:
            MalformedBlockError: not JSON, duplicate or missing or unknown
                members, wrong types, or bytes that are not the canonical
                serialisation of what they contain.
        """

        obj = load_json_object(raw, "block header", error=MalformedBlockError)
        if set(obj) != _FIELDS:
            missing = sorted(_FIELDS - set(obj))
            extra = sorted(set(obj) - _FIELDS)
            raise MalformedBlockError(f"block header members: missing {missing}, unknown {extra}")
        header = cls(**obj)
        if header.raw != raw:
            raise MalformedBlockError("block header bytes are not canonical RFC 8785 JSON")
        return header


def build_header(
    *,
    log: str,
    prev: BlockHeader | None,
    entries: Sequence[bytes],
    closed_at: int,
) -> BlockHeader:
    """Make the header of the block that follows ``prev`` (None for block 0).

    ``entries`` are the exact entry bytes, in order. ``closed_at`` is clamped so
    that it never goes back in time from ``prev.closed_at``.

    Raises:
        MalformedBlockError: no entries, or an invalid field.
    """
    if not entries:
        raise MalformedBlockError("a block needs at least one entry")
    return BlockHeader(
        log=log,
        height=0 if prev is None else prev.height + 1,
        prev=GENESIS_PREV if prev is None else prev.hash,
        first_index=0 if prev is None else prev.next_index,
        count=len(entries),
        entries_root=merkle.root_hash(entries).hex(),
        closed_at=closed_at if prev is None else max(closed_at, prev.closed_at),
    )


def verify_block_entries(header: BlockHeader, entries: Sequence[bytes]) -> None:
    """Check that ``entries`` are exactly the entries ``header`` commits to.

    Raises:
        ProofError: wrong number of entries, or their RFC 6962 root differs
            from ``header.entries_root``.
    """
    if len(entries) != header.count:
        raise ProofError(
            f"block {header.height}: expected {header.count} entries, found {len(entries)}"
        )
    calculated = merkle.root_hash(entries)
    expected = bytes.fromhex(header.entries_root)
    if calculated != expected:
        raise ProofError(
            f"block {header.height}: entries_root mismatch",
            expected=expected,
            calculated=calculated,
        )


def verify_link(prev: BlockHeader | None, header: BlockHeader) -> None:
    """Check that ``header`` directly follows ``prev`` (None: ``header`` is block 0).

    Raises:
        ChainLinkError: wrong height, origin, prev hash, first index, or a
            ``closed_at`` earlier than the previous block's.
    """
    if prev is None:
        expected = (0, GENESIS_PREV, 0)
        if (header.height, header.prev, header.first_index) != expected:
            raise ChainLinkError(
                f"genesis block: expected height 0, zero prev and first_index 0, "
                f"found height {header.height}, first_index {header.first_index}"
            )
        return
    problems = []
    if header.log != prev.log:
        problems.append(f"log {prev.log!r} expected, found {header.log!r}")
    if header.height != prev.height + 1:
        problems.append(f"height {prev.height + 1} expected, found {header.height}")
    if header.prev != prev.hash:
        problems.append(f"prev {prev.hash} expected, found {header.prev}")
    if header.first_index != prev.next_index:
        problems.append(f"first_index {prev.next_index} expected, found {header.first_index}")
    if header.closed_at < prev.closed_at:
        problems.append(f"closed_at {header.closed_at} is before previous {prev.closed_at}")
    if problems:
        raise ChainLinkError(
            f"block {header.height} does not follow block {prev.height}: " + "; ".join(problems)
        )
