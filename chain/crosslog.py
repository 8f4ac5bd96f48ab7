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

import functools
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
    "check_head_covers",
    "check_reference",
    "foreign_key",
    "parse_refs",
    "pinned_log_of",
    "reference_from_proof",
    "refs_in",
    "refs_to_json",
    "split_foreign",
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
    under (``note``: that checkpoint's signed note, with its cosignatures),
    ``cosigners`` the names of the pinned witnesses that cosigned it.
    """

    ref: LogReference
    entry: Entry
    checkpoint: Checkpoint
    cosigners: tuple[str, ...]
    note: str


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
    consistent with the reference's root at that size [ref_rolled_back, or
    ref_entry_mismatch when the entry at the index is another one too: a
    reference to what the log never showed]; the
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
    pin = pinned_log_of(ref, pins)
    proof = evidence.proof
    checkpoint = _signed_checkpoint(ref, proof, pin)
    cosigners = _cosigners(ref, proof, pin)
    found_hash = hashlib.sha256(proof.entry).hexdigest()
    mismatch = None
    if (proof.index, found_hash) != (ref.index, ref.entry_hash):
        mismatch = _entry_mismatch(ref, proof.index, found_hash)
    _check_not_rolled_back(ref, checkpoint, evidence.consistency, mismatch)
    if mismatch is not None:
        raise mismatch
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
    return CheckedReference(ref, entry, checkpoint, cosigners, proof.checkpoint)


def check_head_covers(
    ref: LogReference, signed_note: str, pins: Mapping[str, PinnedLog]
) -> tuple[Checkpoint, tuple[str, ...]]:
    """Check that the other log's current checkpoint ``signed_note`` still covers ``ref.size``.

    Asked before a proof bundle is fetched (none can be built under a
    checkpoint that does not cover the entry): the note must be the pinned
    log's, no smaller than ``ref.size``, and cosigned under its pinned policy.
    Returns the checkpoint and the cosigners' names.

    Raises:
        CrossLogReferenceError: reasons ref_unknown_log, ref_bad_checkpoint,
            ref_rolled_back when the log signed a checkpoint smaller than the
            tree the reference saw (cosigned or not: the log's own word), or
            ref_not_cosigned.
    """
    pin = pinned_log_of(ref, pins)
    checkpoint = _open_signed(ref, signed_note, pin)
    if checkpoint.size < ref.size:  # the log's own key says so: no cosignature needed
        raise _smaller_tree(ref, checkpoint)
    return checkpoint, _cosigners_of(ref, signed_note, pin)


def pinned_log_of(ref: LogReference, pins: Mapping[str, PinnedLog]) -> PinnedLog:
    """The pinned log ``ref`` names.

    Raises:
        CrossLogReferenceError: ``ref_unknown_log``: the checker pinned no log
            of that origin (the error lists those it pinned).
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
    return pin


def _smaller_tree(ref: LogReference, checkpoint: Checkpoint) -> CrossLogReferenceError:
    return CrossLogReferenceError(
        ref,
        "the log shows an older tree than the reference saw",
        reason="ref_rolled_back",
        expected=f"a checkpoint of size >= {ref.size}",
        found=f"size {checkpoint.size}",
    )


def _signed_checkpoint(ref: LogReference, proof: EntryProof, pin: PinnedLog) -> Checkpoint:
    return _open_signed(ref, proof.checkpoint, pin)


# A trace or a page checks many references under the same few checkpoints:
# each note's signatures are verified once (pure functions of their arguments;
# failures are not cached).
@functools.lru_cache(maxsize=1024)
def _verified_checkpoint(signed_note: str, log_key: str) -> Checkpoint:
    return open_checkpoint(signed_note, log_key)


@functools.lru_cache(maxsize=1024)
def _verified_cosigners(signed_note: str, policy: WitnessPolicy) -> tuple[str, ...]:
    return tuple(sorted(policy.check(signed_note)))


def _open_signed(ref: LogReference, signed_note: str, pin: PinnedLog) -> Checkpoint:
    try:
        return _verified_checkpoint(signed_note, pin.trust.log_key)
    except (MalformedNoteError, UnknownSignerError, SignatureError) as exc:
        raise CrossLogReferenceError(
            ref,
            "checkpoint not signed by the pinned log key",
            reason="ref_bad_checkpoint",
            expected=f"a checkpoint signed by {pin.trust.log_key.rsplit('+', 1)[0]}",
            found=str(exc),
        ) from exc


def _cosigners(ref: LogReference, proof: EntryProof, pin: PinnedLog) -> tuple[str, ...]:
    return _cosigners_of(ref, proof.checkpoint, pin)


def _cosigners_of(ref: LogReference, signed_note: str, pin: PinnedLog) -> tuple[str, ...]:
    try:
        return _verified_cosigners(signed_note, pin.policy)
    except (QuorumError, MalformedNoteError, SignatureError) as exc:
        raise CrossLogReferenceError(
            ref,
            "checkpoint not cosigned",
            reason="ref_not_cosigned",
            expected=pin.policy.describe(),
            found=str(exc),
        ) from exc


def _entry_mismatch(ref: LogReference, index: int, found_hash: str) -> CrossLogReferenceError:
    return CrossLogReferenceError(
        ref,
        "the log shows another entry",
        reason="ref_entry_mismatch",
        expected=f"entry {ref.index} with hash {ref.entry_hash}",
        found=f"entry {index} with hash {found_hash}",
    )


def _check_not_rolled_back(
    ref: LogReference,
    checkpoint: Checkpoint,
    consistency: Sequence[bytes],
    mismatch: CrossLogReferenceError | None,
) -> None:
    if checkpoint.size < ref.size:
        raise _smaller_tree(ref, checkpoint)
    try:
        merkle.verify_consistency(
            ref.size, checkpoint.size, consistency, bytes.fromhex(ref.root), checkpoint.root_hash
        )
    except ProofError as exc:
        # Either the log forked after the reference saw it, or the reference
        # misstates the root: the cosigned note of that size tells which. When
        # the log's entry at the index is another one too, the reference names
        # what the log never showed: reported as the forgery it most likely is.
        if mismatch is not None:
            raise mismatch from exc
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


def foreign_key(origin: str, subject: str) -> str:
    """``"<origin>|<subject>"``: one key string for ``subject`` as the log ``origin`` names it.

    Inside a referencing log, a subject that a reference names is identified
    by the pair (the referenced log's origin, the subject as that log names
    it): farm A's ``bird:0001`` and farm B's ``bird:0001`` are two birds at the
    plant. Lifecycle states, trace items and the like key such subjects by this
    string; :func:`split_foreign` reads it back (subjects never contain ``|``,
    origins may, so the last ``|`` splits).

    Precondition: ``origin`` and ``subject`` are valid as :class:`LogReference`
    checks them (not checked again here).
    """
    return f"{origin}|{subject}"


def split_foreign(key: str) -> tuple[str | None, str]:
    """``(origin, subject)`` of a :func:`foreign_key`; ``(None, key)`` for a plain subject."""
    origin, bar, subject = key.rpartition("|")
    return (origin, subject) if bar else (None, key)


def refs_in(payload: Mapping[str, Any]) -> tuple[LogReference, ...]:
    """The references an event payload carries (none without a ``refs`` member).

    Takes the member as a parsed entry holds it (:attr:`Entry.payload` keeps
    lists as tuples) or as JSON decoding gives it.

    Raises:
        MalformedEntryError: (reason ``malformed_reference``) the member is
            malformed (:func:`parse_refs`).
    """
    value = payload.get("refs")
    if value is None:
        return ()
    return parse_refs(list(value) if isinstance(value, tuple) else value)
