"""The proof of one log entry (design.md section 3, last bullet), built and verified.

An :class:`EntryProof` carries everything an offline verifier needs to check
that an entry is in the log, in O(log n) hashes: the entry's exact bytes, its
audit path inside its block, the block header's exact bytes, the header's
audit path in the log, and the signed checkpoint whose root that path reaches.
Its JSON form (:meth:`EntryProof.to_json`) uses standard base64 for binary
values, like the C2SP formats::

    {"index": 17, "entry": "<jws>",
     "block": {"height": 4, "hash": "<hex>", "header_b64": "<base64>"},
     "entry_path": {"leaf_index": 2, "count": 5, "hashes": ["<base64>", ...]},
     "block_path": {"leaf_index": 4, "tree_size": 9, "hashes": ["<base64>", ...]},
     "checkpoint": "<signed note>"}

Pure: :func:`build_entry_proof` reads through a :class:`ProofSource` (which
:class:`chain.store.Store` is), and nothing here reads files or the clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from chain import merkle
from chain._encoding import b64_decode, b64_encode
from chain.block import BlockHeader
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import (
    MalformedBlockError,
    MalformedError,
    ProofError,
    StorageError,
    UnknownSignerError,
)
from chain.json_input import load_json

__all__ = ["AuditPath", "EntryProof", "ProofSource", "build_entry_proof", "verify_entry_proof"]

_MAX_INDEX = 2**64 - 1
_MAX_PROOF_BYTES = 1024 * 1024  # an entry, two paths of <= 64 hashes, a header, a checkpoint


def _malformed(message: str) -> MalformedError:
    return MalformedError(f"entry proof: {message}", reason="malformed_proof")


def _check_uint(value: object, what: str) -> None:
    if type(value) is not int or not 0 <= value <= _MAX_INDEX:
        raise _malformed(f"{what}: expected a non-negative integer, found {value!r}")


@dataclass(frozen=True, slots=True)
class AuditPath:
    """An RFC 9162 audit path: leaf ``leaf_index`` of a tree of ``tree_size`` leaves.

    Raises:
        MalformedError: an index is not a non-negative integer, or ``hashes``
            is not a tuple of bytes. (Hash lengths are checked on verification.)
    """

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_uint(self.leaf_index, "leaf_index")
        _check_uint(self.tree_size, "tree_size")
        if not isinstance(self.hashes, tuple) or not all(isinstance(h, bytes) for h in self.hashes):
            raise _malformed("audit path hashes: expected a tuple of bytes")


@dataclass(frozen=True, slots=True)
class EntryProof:
    """The proof that entry ``index`` (exact bytes ``entry``) is in the log.

    ``header`` is the exact header bytes of block ``block_height``, whose hex
    SHA-256 is ``block_hash``; ``entry_path`` leads from the entry to the
    header's ``entries_root`` and ``block_path`` from the header to the root
    of ``checkpoint``, a signed note. Nothing is checked here but the types:
    see :func:`verify_entry_proof`.

    Raises:
        MalformedError: a field has the wrong type, or ``entry`` is not ASCII
            (every entry is a JWS compact serialisation).
    """

    index: int
    entry: bytes
    block_height: int
    block_hash: str
    header: bytes
    entry_path: AuditPath
    block_path: AuditPath
    checkpoint: str

    def __post_init__(self) -> None:
        _check_uint(self.index, "index")
        _check_uint(self.block_height, "block height")
        if not isinstance(self.entry, bytes) or not self.entry.isascii():
            raise _malformed("entry: expected the ASCII bytes of a JWS")
        if not isinstance(self.header, bytes):
            raise _malformed("block header: expected bytes")
        for name in ("block_hash", "checkpoint"):
            if not isinstance(getattr(self, name), str):
                raise _malformed(f"{name}: expected a string")
        for name in ("entry_path", "block_path"):
            if not isinstance(getattr(self, name), AuditPath):
                raise _malformed(f"{name}: expected an AuditPath")

    def to_json(self) -> str:
        """Return the proof as JSON text (see the module docstring)."""
        return json.dumps(
            {
                "index": self.index,
                "entry": self.entry.decode("ascii"),
                "block": {
                    "height": self.block_height,
                    "hash": self.block_hash,
                    "header_b64": b64_encode(self.header),
                },
                "entry_path": {
                    "leaf_index": self.entry_path.leaf_index,
                    "count": self.entry_path.tree_size,
                    "hashes": [b64_encode(h) for h in self.entry_path.hashes],
                },
                "block_path": {
                    "leaf_index": self.block_path.leaf_index,
                    "tree_size": self.block_path.tree_size,
                    "hashes": [b64_encode(h) for h in self.block_path.hashes],
                },
                "checkpoint": self.checkpoint,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> EntryProof:
        """Parse the JSON form of a proof. Unknown members are ignored.

        Raises:
            MalformedError: not JSON, a member missing or of the wrong type,
                or base64 that is not canonical standard base64.
        """
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        try:
            obj = load_json(data, "body", max_bytes=_MAX_PROOF_BYTES)
        except MalformedError as exc:
            raise _malformed(str(exc)) from None
        block = _member(obj, "block", dict)
        entry_path = _member(obj, "entry_path", dict)
        block_path = _member(obj, "block_path", dict)
        entry = _member(obj, "entry", str)
        if not entry.isascii():
            raise _malformed("entry: expected the ASCII text of a JWS")
        return cls(
            index=_member(obj, "index", int),
            entry=entry.encode("ascii"),
            block_height=_member(block, "height", int),
            block_hash=_member(block, "hash", str),
            header=_b64(_member(block, "header_b64", str), "block header_b64"),
            entry_path=_path(entry_path, "count", "entry_path"),
            block_path=_path(block_path, "tree_size", "block_path"),
            checkpoint=_member(obj, "checkpoint", str),
        )


def _member(obj: object, name: str, kind: type[Any]) -> Any:
    if not isinstance(obj, dict):
        raise _malformed("expected a JSON object")
    value = obj.get(name)
    if type(value) is not kind:
        raise _malformed(f"member {name!r}: expected a {kind.__name__}, found {value!r:.40}")
    return value


def _b64(text: str, what: str) -> bytes:
    try:
        return b64_decode(text)
    except ValueError as exc:
        raise _malformed(f"{what}: {exc}") from exc


def _path(obj: dict[str, Any], size_name: str, what: str) -> AuditPath:
    hashes = _member(obj, "hashes", list)
    if not all(isinstance(h, str) for h in hashes):
        raise _malformed(f"{what} hashes: expected base64 strings")
    return AuditPath(
        leaf_index=_member(obj, "leaf_index", int),
        tree_size=_member(obj, size_name, int),
        hashes=tuple(_b64(h, f"{what} hash") for h in hashes),
    )


def verify_entry_proof(
    proof: EntryProof, log_verifier_key: str, *, origin: str | None = None
) -> Checkpoint:
    """Check ``proof`` against the log's C2SP verifier key; return its checkpoint.

    Checks that the log key signed the checkpoint (and, given ``origin``, that
    it is that log's), that the header bytes are the block ``block_hash``
    names and agree with the entry index and the paths, and that the entry
    path leads to the header's ``entries_root`` and the block path to the
    checkpoint's root at its tree size. Not checked: the entry's own signature
    and authority (see :mod:`chain.registry`), and witness cosignatures on the
    checkpoint (see :func:`chain.checkpoint.verify_cosignatures`).

    Raises:
        MalformedNoteError: the checkpoint or the key is malformed.
        UnknownSignerError: the log key did not sign the checkpoint, or the
            checkpoint is for another origin.
        SignatureError: the log key's signature does not verify.
        MalformedBlockError: the header bytes are not a block header.
        ProofError: anything else does not match (``expected`` and
            ``calculated`` set for hash mismatches).
    """
    checkpoint = open_checkpoint(proof.checkpoint, log_verifier_key)
    if origin is not None and checkpoint.origin != origin:
        raise UnknownSignerError(
            f"checkpoint origin: expected {origin!r}, found {checkpoint.origin!r}",
            reason="wrong_origin",
        )
    block_path, entry_path = proof.block_path, proof.entry_path
    if block_path.tree_size != checkpoint.size:
        raise ProofError(
            f"block path: expected tree size {checkpoint.size} (the checkpoint's), "
            f"found {block_path.tree_size}"
        )
    calculated = hashlib.sha256(proof.header).digest()
    if calculated.hex() != proof.block_hash:
        expected = _hex_or_none(proof.block_hash)
        if expected is None:
            raise ProofError(f"block hash: expected 64 hex digits, found {proof.block_hash!r:.80}")
        raise ProofError(
            "block header does not hash to the block hash", expected=expected, calculated=calculated
        )
    header = BlockHeader.from_bytes(proof.header)
    if header.log != checkpoint.origin:
        raise ProofError(f"block header: expected log {checkpoint.origin!r}, found {header.log!r}")
    if not header.height == proof.block_height == block_path.leaf_index:
        raise ProofError(
            f"block height: header says {header.height}, proof says {proof.block_height}, "
            f"block path leaf index {block_path.leaf_index}"
        )
    if (entry_path.tree_size, entry_path.leaf_index) != (
        header.count,
        proof.index - header.first_index,
    ):
        raise ProofError(
            f"entry {proof.index}: block {header.height} holds entries "
            f"{header.first_index}..{header.next_index - 1}, so expected leaf "
            f"{proof.index - header.first_index} of {header.count}, found leaf "
            f"{entry_path.leaf_index} of {entry_path.tree_size}"
        )
    merkle.verify_inclusion(
        entry_path.leaf_index,
        entry_path.tree_size,
        merkle.leaf_hash(proof.entry),
        entry_path.hashes,
        bytes.fromhex(header.entries_root),
    )
    merkle.verify_inclusion(
        block_path.leaf_index,
        block_path.tree_size,
        merkle.leaf_hash(proof.header),
        block_path.hashes,
        checkpoint.root_hash,
    )
    return checkpoint


def _hex_or_none(text: str) -> bytes | None:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        return None
    return value if len(value) == 32 and value.hex() == text else None


class ProofSource(Protocol):
    """The reads :func:`build_entry_proof` needs; :class:`chain.store.Store` has them."""

    def latest_checkpoint(self) -> tuple[int, str] | None: ...

    def checkpoint(self, size: int) -> str: ...

    def entry(self, index: int) -> bytes: ...

    def entry_proof(self, index: int) -> tuple[int, list[bytes]]: ...

    def block_raw(self, height: int) -> bytes: ...

    def inclusion_proof(self, height: int, size: int) -> list[bytes]: ...


def build_entry_proof(
    source: ProofSource, index: int, checkpoint_size: int | None = None
) -> EntryProof:
    """Build the proof of entry ``index`` against a stored checkpoint.

    ``checkpoint_size`` selects the checkpoint (default: the latest); only
    signed tree heads are used, since an unsigned one proves nothing. Safe
    while another thread appends, as the store's committed records never change.

    Raises:
        KeyError: no entry ``index``; no checkpoint (of that size); or the
            entry's block is not covered by the checkpoint yet. The message
            (``exc.args[0]``) says which.
        StorageError: the store failed or holds a corrupt record.
    """
    if checkpoint_size is None:
        latest = source.latest_checkpoint()
        if latest is None:
            raise KeyError("the log has no checkpoint yet")
        size, note = latest
    else:
        size, note = checkpoint_size, source.checkpoint(checkpoint_size)
    entry = source.entry(index)
    height, entry_hashes = source.entry_proof(index)
    if height >= size:
        raise KeyError(
            f"entry {index} is in block {height}, not yet covered by a checkpoint "
            f"(checkpoint size {size})"
        )
    raw = source.block_raw(height)
    try:
        header = BlockHeader.from_bytes(raw)
    except MalformedBlockError as exc:
        raise StorageError(f"stored header of block {height} is corrupt: {exc}") from exc
    return EntryProof(
        index=index,
        entry=entry,
        block_height=height,
        block_hash=hashlib.sha256(raw).hexdigest(),
        header=raw,
        entry_path=AuditPath(index - header.first_index, header.count, tuple(entry_hashes)),
        block_path=AuditPath(height, size, tuple(source.inclusion_proof(height, size))),
        checkpoint=note,
    )
