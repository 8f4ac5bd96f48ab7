"""Cross-log references: an event in one log naming an entry of another log (issue 15).

When each party keeps its own log, a plant's ``slaughtered`` event names the
bird's ``placed`` entry in the farm's log, a distributor's ``received`` names
the plant's ``packed``. The event carries the reference in its ``refs``
member, a list of one to :data:`MAX_REFS` objects with exactly these members::

    "refs": [{"log": "farm-a.example/log", "index": 17, "hash": "<64 hex>",
              "size": 9, "root": "<64 hex>", "subject": "bird:0001"}]

``log`` is the other log's origin; ``index`` the entry's log index; ``hash``
the lowercase hex SHA-256 of the entry's exact JWS bytes (the "entry hash" of
receipts and registry commitments); ``size`` and ``root`` the tree size and
lowercase hex root hash of the other log's cosigned checkpoint the writer saw
the entry in; ``subject`` the subject, named as the other log names it, that
the reference is about (the referencing event lists it in its ``subjects``,
the referenced entry in its ``subjects`` or outputs). See docs/supply-chain.md.

:func:`check_reference` checks one reference against the other log's pinned
trust root and witness policy (never anything the referencing log says about
them) and its proof evidence: the same check at write time and for every
verifier. Which event kinds may reference which is :data:`REFERABLE`.

Pure: no I/O, no clock (the referencing event's ``ts`` is passed in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain import merkle
from chain._crosslog_format import (
    MAX_REFS,
    REFERABLE,
    LogReference,
    parse_refs,
    reference_from_proof,
    refs_to_json,
)
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.entries import Entry, event_outputs, parse_entry
from chain.errors import (
    MalformedBlockError,
    MalformedEntryError,
    MalformedNoteError,
    ProofError,
    QuorumError,
    SignatureError,
    UnknownSignerError,
    VerificationError,
)
from chain.proof_bundle import EntryProof, verify_entry_proof
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy

__all__ = [
    "FAILURE_REASONS",
    "MAX_REFS",
    "REFERABLE",
    "CheckedReference",
    "CrossLogReferenceError",
    "LogReference",
    "PinnedLog",
    "ReferenceEvidence",
    "Referrer",
    "check_reference",
    "parse_refs",
    "reference_from_proof",
    "refs_to_json",
]

FAILURE_REASONS = (
    "ref_unknown_log",
    "ref_bad_checkpoint",
    "ref_not_cosigned",
    "ref_rolled_back",
    "ref_entry_mismatch",
    "ref_not_included",
    "ref_beyond_seen",
    "ref_wrong_kind",
    "ref_wrong_subject",
    "ref_out_of_order",
)
"""The ``reason`` tags of :class:`CrossLogReferenceError`, in the order they are checked."""


class CrossLogReferenceError(VerificationError):
    """A cross-log reference that does not hold; ``reason`` is one of :data:`FAILURE_REASONS`.

    ``ref`` is the reference, ``expected`` and ``found`` what differs, in
    words a person can read. The underlying error (a bad proof, a missing
    cosignature) is chained as ``__cause__`` when there is one.
    """

    reason = "bad_reference"

    def __init__(
        self, ref: LogReference, problem: str, *, reason: str, expected: str, found: str
    ) -> None:
        super().__init__(
            f"reference to {ref.describe()}: {problem}: expected {expected}, found {found}",
            reason=reason,
        )
        self.ref = ref
        self.expected = expected
        self.found = found


@dataclass(frozen=True, slots=True)
class PinnedLog:
    """Another log as a verifier pins it out of band: its trust root and witness policy.

    Never taken from the referencing log: a log that could name its
    supplier's key could invent its supplier.
    """

    trust: TrustRoot
    policy: WitnessPolicy


@dataclass(frozen=True, slots=True)
class ReferenceEvidence:
    """What the other log serves to back a reference.

    ``proof`` proves the entry under one of that log's cosigned checkpoints
    of size N >= the reference's size; ``consistency`` is the RFC 9162
    consistency proof from the reference's size to N (empty when N is the
    reference's size).
    """

    proof: EntryProof
    consistency: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Referrer:
    """The event that carries the reference: its ``event`` kind, ``subjects`` and ``ts``."""

    event: str
    subjects: tuple[str, ...]
    ts: int

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Referrer:
        """The referrer of a valid ``event`` payload (e.g. an :attr:`Entry.payload`)."""
        return cls(payload["event"], tuple(payload["subjects"]), payload["ts"])


@dataclass(frozen=True, slots=True)
class CheckedReference:
    """A reference that holds, with what a page shows of it.

    ``entry`` is the referenced entry, ``checkpoint`` the one it was proven
    under, ``cosigners`` the names of the pinned witnesses that cosigned it.
    """

    ref: LogReference
    entry: Entry
    checkpoint: Checkpoint
    cosigners: tuple[str, ...]


def check_reference(
    ref: LogReference,
    evidence: ReferenceEvidence,
    pins: Mapping[str, PinnedLog],
    referrer: Referrer,
) -> CheckedReference:
    """Check that ``ref`` names an entry the other log shows, of a kind ``referrer`` may name.

    ``pins`` maps origins to the logs the verifier pinned. The checks, in
    order (each failure's ``reason`` in brackets): the log is pinned
    [ref_unknown_log]; the evidence's checkpoint is signed by the pinned log key
    [ref_bad_checkpoint] and cosigned by the pinned policy's quorum
    [ref_not_cosigned]; it is no smaller than the reference's size and is
    consistent with the reference's root at that size [ref_rolled_back]; the
    evidence is for the referenced index and its entry has the referenced
    hash [ref_entry_mismatch]; the entry's paths lead to the checkpoint
    [ref_not_included]; its block was within the reference's size [ref_beyond_seen];
    it is an event of a kind :data:`REFERABLE` allows [ref_wrong_kind]; both
    events concern ``ref.subject`` [ref_wrong_subject]; and the referenced entry
    is no later than the referrer [ref_out_of_order].

    Not checked: the referenced entry's signature and its signer's authority,
    which the other log's own verifiers establish from its registrations.

    Raises:
        CrossLogReferenceError: a check fails, with the reason above.
    """
    pin = pins.get(ref.log)
    if pin is None or pin.trust.origin != ref.log:
        known = ", ".join(sorted(o for o, p in pins.items() if p.trust.origin == o)) or "none"
        raise CrossLogReferenceError(
            ref,
            "log not pinned",
            reason="ref_unknown_log",
            expected=f"one of: {known}",
            found=ref.log,
        )
    proof = evidence.proof
    checkpoint = _signed_checkpoint(ref, proof, pin)
    cosigners = _cosigners(ref, proof, pin)
    _check_not_rolled_back(ref, checkpoint, evidence.consistency)
    found_hash = hashlib.sha256(proof.entry).hexdigest()
    if (proof.index, found_hash) != (ref.index, ref.entry_hash):
        raise CrossLogReferenceError(
            ref,
            "the log shows another entry",
            reason="ref_entry_mismatch",
            expected=f"entry {ref.index} with hash {ref.entry_hash}",
            found=f"entry {proof.index} with hash {found_hash}",
        )
    try:  # checks the log key's signature again: one Ed25519 verification, kept for clarity
        verify_entry_proof(proof, pin.trust.log_key, origin=ref.log)
    except (ProofError, MalformedBlockError) as exc:
        raise CrossLogReferenceError(
            ref,
            "entry not included",
            reason="ref_not_included",
            expected=f"a proof to the root of checkpoint size {checkpoint.size}",
            found=str(exc),
        ) from exc
    if proof.block_height >= ref.size:
        raise CrossLogReferenceError(
            ref,
            "entry beyond the checkpoint the reference saw",
            reason="ref_beyond_seen",
            expected=f"a block below {ref.size}",
            found=f"block {proof.block_height}",
        )
    entry = _referenced_event(ref, proof.entry, referrer)
    return CheckedReference(ref, entry, checkpoint, cosigners)


def _signed_checkpoint(ref: LogReference, proof: EntryProof, pin: PinnedLog) -> Checkpoint:
    try:
        return open_checkpoint(proof.checkpoint, pin.trust.log_key)
    except (MalformedNoteError, UnknownSignerError, SignatureError) as exc:
        raise CrossLogReferenceError(
            ref,
            "checkpoint not signed by the pinned log key",
            reason="ref_bad_checkpoint",
            expected=f"a checkpoint signed by {pin.trust.log_key.rsplit('+', 1)[0]}",
            found=str(exc),
        ) from exc


def _cosigners(ref: LogReference, proof: EntryProof, pin: PinnedLog) -> tuple[str, ...]:
    try:
        return tuple(sorted(pin.policy.check(proof.checkpoint)))
    except (QuorumError, MalformedNoteError, SignatureError) as exc:
        raise CrossLogReferenceError(
            ref,
            "checkpoint not cosigned",
            reason="ref_not_cosigned",
            expected=pin.policy.describe(),
            found=str(exc),
        ) from exc


def _check_not_rolled_back(
    ref: LogReference, checkpoint: Checkpoint, consistency: Sequence[bytes]
) -> None:
    if checkpoint.size < ref.size:
        raise CrossLogReferenceError(
            ref,
            "the log shows an older tree than the reference saw",
            reason="ref_rolled_back",
            expected=f"a checkpoint of size >= {ref.size}",
            found=f"size {checkpoint.size}",
        )
    try:
        merkle.verify_consistency(
            ref.size, checkpoint.size, consistency, bytes.fromhex(ref.root), checkpoint.root_hash
        )
    except ProofError as exc:
        # Either the log forked after the reference saw it, or the reference
        # misstates the root: the cosigned note of that size tells which.
        raise CrossLogReferenceError(
            ref,
            "the log no longer shows the tree the reference saw",
            reason="ref_rolled_back",
            expected=f"size {checkpoint.size} consistent with root {ref.root} at size {ref.size}",
            found=str(exc),
        ) from exc


def _referenced_event(ref: LogReference, raw: bytes, referrer: Referrer) -> Entry:
    allowed = REFERABLE.get(referrer.event, frozenset())
    if not allowed:
        raise CrossLogReferenceError(
            ref,
            f"a {referrer.event} event may not reference another log",
            reason="ref_wrong_kind",
            expected="one of " + ", ".join(sorted(REFERABLE)),
            found=referrer.event,
        )
    try:
        entry = parse_entry(raw)
    except MalformedEntryError as exc:
        raise CrossLogReferenceError(
            ref,
            "entry unreadable",
            reason="ref_wrong_kind",
            expected="an event entry",
            found=str(exc),
        ) from exc
    kind = entry.payload.get("event") if entry.type == "event" else None
    if kind not in allowed:
        raise CrossLogReferenceError(
            ref,
            f"a {referrer.event} event names an entry of the wrong kind",
            reason="ref_wrong_kind",
            expected="an event of kind " + " or ".join(sorted(allowed)),
            found=f"a {entry.type} entry" if kind is None else f"a {kind} event",
        )
    if ref.subject not in referrer.subjects:
        raise CrossLogReferenceError(
            ref,
            "the referencing event does not concern the subject",
            reason="ref_wrong_subject",
            expected=f"{ref.subject} among its subjects",
            found=", ".join(referrer.subjects) or "no subjects",
        )
    named = (*entry.payload["subjects"], *event_outputs(entry.payload))
    if ref.subject not in named:
        raise CrossLogReferenceError(
            ref,
            "the referenced entry does not concern the subject",
            reason="ref_wrong_subject",
            expected=f"{ref.subject} among its subjects or outputs",
            found=", ".join(named) or "no subjects",
        )
    if entry.ts > referrer.ts:
        raise CrossLogReferenceError(
            ref,
            "the referenced entry is later than the event that names it",
            reason="ref_out_of_order",
            expected=f"ts <= {referrer.ts}",
            found=f"ts {entry.ts}",
        )
    return entry
