"""The registry commitment: a Merkle tree over every signer's registration history.

A verifier that checks one entry (the browser, a proof bundle) learns its
signer's registrations from a server that could leave one out: hiding a
revocation makes a revoked signer look authorised. So each checkpoint the log
signs carries one extension line (c2sp.org/tlog-checkpoint) committing to the
whole registry at its tree size::

    farmtrace-registry <signers> <base64 root>

Definitions (docs/registry-commitment.md; the browser's verify/registry.js
computes the same):

- A signer's *registry entries* are the ``device`` and ``operator`` entries
  (registrations, re-registrations, revocations) whose ``dev`` / ``op`` is
  that signer id, in log order: what :class:`chain.registry.Registry` applies.
  A genesis administrator's self-signed registration in block 0 is one.
- *entry hash* = SHA-256(the entry's exact JWS bytes).
- *history head*: ``h_0`` = 32 zero bytes, ``h_k = SHA-256(h_{k-1} ||
  u64be(log index) || entry hash)`` over the signer's ``k``-th registry entry.
- *leaf* (raw leaf input) = ``u8(len(id)) || id (ASCII) || u64be(count) ||
  head``, with ``count`` the number of registry entries; hashed as an RFC 6962
  leaf, SHA-256(0x00 || leaf).
- Leaves are sorted by signer id bytes; *root* = RFC 6962 Merkle tree hash
  over them (SHA-256 of the empty string for no signer); ``signers`` = how many.

A signer's *registry proof* is its registry entries (with their log indexes),
its leaf index, the number of signers and the audit path: a verifier
recomputes the head and the leaf, then the root.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chain import merkle
from chain._encoding import b64_decode, b64_encode
from chain.checkpoint import Checkpoint
from chain.entries import Entry
from chain.errors import MalformedNoteError, ProofError, RegistryCommitmentError

__all__ = [
    "EXTENSION_KEYWORD",
    "RegistryCommitment",
    "RegistryProof",
    "RegistryRecord",
    "RegistryTree",
    "check_checkpoint_registry",
    "commitment_of",
    "has_registry_line",
    "history_head",
    "leaf_input",
    "note_has_registry_line",
    "registry_record",
    "verify_registry_proof",
]

EXTENSION_KEYWORD = "farmtrace-registry"
_ZERO_HEAD = bytes(32)
_COUNT = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_U64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """One registry entry of ``signer``: its log ``index`` and SHA-256 ``entry_hash``."""

    signer: str
    index: int
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class RegistryCommitment:
    """What a checkpoint's registry line says: ``signers`` leaves with Merkle ``root``."""

    signers: int
    root: bytes

    def to_line(self) -> str:
        """The checkpoint extension line, without a newline."""
        return f"{EXTENSION_KEYWORD} {self.signers} {b64_encode(self.root)}"

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> RegistryCommitment:
        """The commitment in ``checkpoint``'s one registry extension line.

        Raises:
            RegistryCommitmentError: the checkpoint has no registry line, or more than one.
            MalformedNoteError: the line is not ``farmtrace-registry <count> <base64 root>``.
        """
        lines = [
            line for line in checkpoint.extensions if line.split(" ", 1)[0] == EXTENSION_KEYWORD
        ]
        if len(lines) != 1:
            raise RegistryCommitmentError(
                f"checkpoint of size {checkpoint.size}: expected one {EXTENSION_KEYWORD} "
                f"line, found {len(lines)}",
                expected=f"one {EXTENSION_KEYWORD} line",
                found=f"{len(lines)}",
            )
        parts = lines[0].split(" ")
        if len(parts) != 3 or not _COUNT.fullmatch(parts[1]) or int(parts[1]) > _MAX_U64:
            raise MalformedNoteError(
                f"registry line: expected '{EXTENSION_KEYWORD} <signers> <base64 root>', "
                f"found {lines[0][:120]!r}"
            )
        try:
            root = b64_decode(parts[2])
        except ValueError as exc:
            raise MalformedNoteError(f"registry line root: expected base64 ({exc})") from exc
        if len(root) != merkle.HASH_SIZE:
            raise MalformedNoteError(f"registry line root: expected 32 bytes, found {len(root)}")
        return cls(int(parts[1]), root)


@dataclass(frozen=True, slots=True)
class RegistryProof:
    """A signer's place in the registry tree: leaf ``leaf_index`` of ``signers``, ``path``."""

    signer: str
    leaf_index: int
    signers: int
    path: tuple[bytes, ...]


def registry_record(entry: Entry, index: int) -> RegistryRecord | None:
    """The registry record ``entry`` (at log ``index``) makes, or None for other entry types.

    Precondition: ``entry`` parsed (its payload names ``dev`` or ``op``).
    """
    if entry.type == "device":
        signer = str(entry.payload["dev"])
    elif entry.type == "operator":
        signer = str(entry.payload["op"])
    else:
        return None
    return RegistryRecord(signer, index, hashlib.sha256(entry.raw).digest())


def history_head(records: Iterable[RegistryRecord]) -> bytes:
    """The history head over one signer's ``records``, in the order given."""
    head = _ZERO_HEAD
    for record in records:
        head = _next_head(head, record)
    return head


def leaf_input(signer: str, count: int, head: bytes) -> bytes:
    """The raw leaf input of ``signer`` with ``count`` registry entries and history ``head``.

    Raises:
        ValueError: the id is not 1..255 ASCII bytes, the count not a u64, or the head not 32 bytes.
    """
    name = signer.encode("ascii")
    if not 0 < len(name) < 256 or not 0 <= count <= _MAX_U64 or len(head) != merkle.HASH_SIZE:
        raise ValueError(f"registry leaf of {signer!r}: id, count or head out of range")
    return bytes([len(name)]) + name + count.to_bytes(8, "big") + head


def commitment_of(records: Iterable[RegistryRecord]) -> RegistryCommitment:
    """The commitment over ``records`` (every signer's, in log order), computed from scratch.

    The reference definition; :class:`RegistryTree` computes the same incrementally.
    """
    tree = RegistryTree()
    for record in records:
        tree.add(record)
    return tree.commitment()


class RegistryTree:
    """The registry tree as records are added in log order; the root is cached.

    Adding is O(1); :meth:`commitment` recomputes the root only when a record
    was added since it last did (O(signers)), so a log that commits readings
    pays nothing for it.
    """

    def __init__(self) -> None:
        self._records: list[RegistryRecord] = []
        self._heads: dict[str, tuple[int, bytes]] = {}
        self._cached: tuple[RegistryCommitment, list[str], list[bytes]] | None = None

    @property
    def records(self) -> Sequence[RegistryRecord]:
        """Every record added, in log order (do not modify)."""
        return self._records

    def add(self, record: RegistryRecord) -> None:
        """Add the next registry entry.

        Raises:
            ValueError: ``record`` is not after the last one in log order.
        """
        if self._records and record.index <= self._records[-1].index:
            raise ValueError(
                f"registry record at index {record.index} after one at {self._records[-1].index}"
            )
        count, head = self._heads.get(record.signer, (0, _ZERO_HEAD))
        self._heads[record.signer] = (count + 1, _next_head(head, record))
        self._records.append(record)
        self._cached = None

    def add_entries(self, entries: Iterable[Entry], first_index: int) -> None:
        """Add the registry records of ``entries``, the log's entries from ``first_index`` on."""
        for index, entry in enumerate(entries, first_index):
            record = registry_record(entry, index)
            if record is not None:
                self.add(record)

    def commitment(self) -> RegistryCommitment:
        """The commitment over every record added so far."""
        return self._leaves()[0]

    def commitment_before(self, entry_count: int) -> RegistryCommitment:
        """The commitment over the records of log indexes below ``entry_count``.

        That is, at a checkpoint whose blocks hold ``entry_count`` entries.
        O(records) unless it is every record (then cached).
        """
        if not self._records or self._records[-1].index < entry_count:
            return self.commitment()
        return commitment_of(r for r in self._records if r.index < entry_count)

    def proof(self, signer: str) -> RegistryProof | None:
        """``signer``'s proof against :meth:`commitment`, or None if it has no record."""
        commitment, ids, leaves = self._leaves()
        position = _find(ids, signer)
        if position is None:
            return None
        path = merkle.inclusion_proof(leaves, position)
        return RegistryProof(signer, position, commitment.signers, tuple(path))

    def _leaves(self) -> tuple[RegistryCommitment, list[str], list[bytes]]:
        if self._cached is None:
            ids = sorted(self._heads)  # ASCII ids: str order is byte order
            leaves = [leaf_input(s, *self._heads[s]) for s in ids]
            commitment = RegistryCommitment(len(ids), merkle.root_hash(leaves))
            self._cached = (commitment, ids, leaves)
        return self._cached


def has_registry_line(checkpoint: Checkpoint) -> bool:
    """Whether ``checkpoint`` carries a registry line.

    A log adopts the line when its gateway is upgraded: its older
    checkpoints have none, and from its first checkpoint with one, every
    later checkpoint must have one (verifiers refuse a downgrade).
    """
    return any(line.split(" ", 1)[0] == EXTENSION_KEYWORD for line in checkpoint.extensions)


def note_has_registry_line(signed_note: str) -> bool:
    """:func:`has_registry_line` for a stored signed note (its body is not re-verified)."""
    body = signed_note.split("\n\n", 1)[0].split("\n")
    return any(line.split(" ", 1)[0] == EXTENSION_KEYWORD for line in body[3:])


def check_checkpoint_registry(checkpoint: Checkpoint, expected: RegistryCommitment) -> None:
    """Check that ``checkpoint``'s registry line is ``expected`` (recomputed from the log).

    Raises:
        RegistryCommitmentError: the line is missing, repeated or says another commitment.
        MalformedNoteError: the line is malformed.
    """
    found = RegistryCommitment.from_checkpoint(checkpoint)
    if found != expected:
        raise RegistryCommitmentError(
            f"checkpoint of size {checkpoint.size}: its registry line is not the log's "
            "registrations (a registration or revocation is missing, extra or altered)",
            expected=expected.to_line(),
            found=found.to_line(),
        )


def verify_registry_proof(
    commitment: RegistryCommitment,
    signer: str,
    records: Sequence[tuple[int, bytes]],
    proof: RegistryProof,
) -> None:
    """Check that ``records`` ((log index, entry hash) in log order) are all of ``signer``'s.

    Raises:
        RegistryCommitmentError: the proof is for another signer or tree size,
            the records are not in log order, or they do not lead to the
            committed root (one is missing, extra, altered or out of order).
    """
    if proof.signer != signer or proof.signers != commitment.signers:
        raise RegistryCommitmentError(
            "registry proof: for another signer or tree",
            expected=f"{signer} in a tree of {commitment.signers}",
            found=f"{proof.signer} in a tree of {proof.signers}",
        )
    indexes = [index for index, _ in records]
    if indexes != sorted(set(indexes)):
        raise RegistryCommitmentError(
            f"registry history of {signer}: not in log order",
            expected="strictly increasing log indexes",
            found=str(indexes),
        )
    head = history_head(RegistryRecord(signer, i, h) for i, h in records)
    leaf = merkle.leaf_hash(leaf_input(signer, len(records), head))
    try:
        merkle.verify_inclusion(
            proof.leaf_index, proof.signers, leaf, list(proof.path), commitment.root
        )
    except ProofError as exc:
        raise RegistryCommitmentError(
            f"registration history of {signer} not proven complete: {exc}",
            expected=b64_encode(commitment.root),
            found=f"{len(records)} registry entries that do not lead to it",
        ) from exc


def _next_head(head: bytes, record: RegistryRecord) -> bytes:
    return hashlib.sha256(head + record.index.to_bytes(8, "big") + record.entry_hash).digest()


def _find(ids: list[str], signer: str) -> int | None:
    position = bisect.bisect_left(ids, signer)
    return position if position < len(ids) and ids[position] == signer else None
