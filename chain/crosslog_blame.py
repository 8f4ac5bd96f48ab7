"""Who is to blame for a reference to an entry the other log no longer shows.

A reference that fails ``ref_rolled_back`` or ``ref_entry_mismatch`` means
that one of two logs lied: the referenced log (it showed the tree the
reference saw, then another) or the referencing log (it made the reference
up). The note the referencing log kept when its gateway checked the
reference (``GET /api/v1/refs/<sha256(origin) hex>/checkpoints/<size>``,
docs/supply-chain.md section 3) settles it::

    kept = plant_client.ref_checkpoint(ref.log, ref.size)      # None when 404
    verdict = blame(ref, "ref_rolled_back", kept, pins, referencing="plant.example/log")
    print(verdict.evidence)

- No such note, or one that is not the other log's checkpoint of the
  reference's size and root, signed by its pinned key and cosigned by its
  pinned quorum: the referencing log could not have checked the reference;
  it made it up (:data:`REFERENCING`).
- Such a note, while the other log now shows a smaller tree or one that is
  not consistent with it: the other log has two checkpoints that cannot both
  be honest, its key signed both and its witnesses cosigned the kept one:
  it forked or rolled back (:data:`REFERENCED`). The verdict carries both
  notes: anyone can check them with the pinned key alone.
- Such a note, while the other log still shows a tree consistent with it
  (a consistency proof from the reference's size to what it shows now) yet
  another entry at the index: the tree the reference saw holds that other
  entry; the reference misstates it (:data:`REFERENCING`).
- Otherwise (a kept note that holds, an ``ref_entry_mismatch``, and nothing
  known of what the other log shows now): :data:`UNDETERMINED`.

Pure: no I/O; the caller fetches the notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain import merkle
from chain.checkpoint import Checkpoint, open_checkpoint, verify_cosignatures
from chain.crosslog import LogReference, PinnedLog, pinned_log_of
from chain.errors import (
    MalformedNoteError,
    ProofError,
    QuorumError,
    SignatureError,
    UnknownSignerError,
)

__all__ = [
    "BLAMEABLE",
    "REFERENCED",
    "REFERENCING",
    "UNDETERMINED",
    "Blame",
    "ShownTree",
    "blame",
]

BLAMEABLE = ("ref_rolled_back", "ref_entry_mismatch")
"""The failure reasons a kept note can settle."""

REFERENCED = "referenced_log"
"""Blame's ``party`` when the referenced log forked or rolled back."""

REFERENCING = "referencing_log"
"""Blame's ``party`` when the referencing log made the reference up."""

UNDETERMINED = "undetermined"
"""Blame's ``party`` when the evidence at hand does not tell."""

_NOTE_ERRORS = (MalformedNoteError, UnknownSignerError, SignatureError)


@dataclass(frozen=True, slots=True)
class ShownTree:
    """What the referenced log shows now: its signed checkpoint ``note`` and the RFC 9162
    ``consistency`` proof from the reference's size to it (empty when it is not larger)."""

    note: str
    consistency: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Blame:
    """Who is to blame for a failing reference, and why.

    ``party`` is :data:`REFERENCED`, :data:`REFERENCING` or :data:`UNDETERMINED`;
    ``log`` the origin of the log blamed (None when undetermined); ``evidence``
    the reason in words. When the referenced log is blamed, ``kept`` is its
    checkpoint the referencing log kept (``kept_note`` the signed note, with
    ``kept_cosigners``) and ``shown`` (``shown_note``) what it shows now, when
    known: two checkpoints that are not consistent; ``cosigned_both`` the
    pinned witnesses that cosigned both where no honest witness would (an
    inconsistent tree at least as big, or a smaller one later).
    """

    party: str
    log: str | None
    evidence: str
    kept: Checkpoint | None = None
    kept_note: str | None = None
    kept_cosigners: tuple[str, ...] = ()
    shown: Checkpoint | None = None
    shown_note: str | None = None
    cosigned_both: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON object (the audit's ``blame`` member)."""
        return {
            "party": self.party,
            "log": self.log,
            "evidence": self.evidence,
            "kept": _checkpoint_json(self.kept, self.kept_note),
            "kept_cosigners": list(self.kept_cosigners),
            "shown": _checkpoint_json(self.shown, self.shown_note),
            "cosigned_both": list(self.cosigned_both),
        }


def _checkpoint_json(checkpoint: Checkpoint | None, signed: str | None) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    return {"size": checkpoint.size, "root": checkpoint.root_hash.hex(), "note": signed}


def blame(
    ref: LogReference,
    reason: str,
    kept_note: str | None,
    pins: Mapping[str, PinnedLog],
    *,
    referencing: str,
    shown: ShownTree | None = None,
) -> Blame:
    """Who is to blame for ``ref`` failing with ``reason`` (see the module docstring).

    ``kept_note`` is the note of ``ref.log`` at ``ref.size`` that the
    referencing log ``referencing`` (an origin) serves, None when it has
    none; ``shown`` what ``ref.log``'s sources show now, when known. Nothing
    either log says about keys is used: only ``pins``.

    Raises:
        ValueError: ``reason`` is not one of :data:`BLAMEABLE`.
        CrossLogReferenceError: ``ref_unknown_log``: ``ref.log`` is not pinned.
    """
    if reason not in BLAMEABLE:
        raise ValueError(f"reason: expected one of {', '.join(BLAMEABLE)}, found {reason!r}")
    pin = pinned_log_of(ref, pins)
    kept = _kept(ref, kept_note, pin)
    if isinstance(kept, str):
        return Blame(
            REFERENCING,
            referencing,
            f"{referencing} holds no cosigned checkpoint of {ref.log} at size {ref.size} "
            f"with root {ref.root} ({kept}): {referencing} made this reference up",
        )
    now = _shown(shown, pin)
    if now is not None and shown is not None:
        if now.checkpoint.size < ref.size:
            return _forked(ref, referencing, kept, now, f"now size {now.checkpoint.size}")
        if not _consistent(ref, kept.checkpoint, now.checkpoint, shown.consistency):
            shows = (
                f"now size {now.checkpoint.size} root {now.checkpoint.root_hash.hex()}, "
                "not consistent with it"
            )
            return _forked(ref, referencing, kept, now, shows)
        if reason == "ref_entry_mismatch":
            return Blame(
                REFERENCING,
                referencing,
                f"{ref.log} still shows the tree of size {ref.size} the reference saw "
                f"(cosigned, kept by {referencing}), and its entry {ref.index} is not the one "
                f"with hash {ref.entry_hash}: {referencing} misstated the entry",
            )
    if reason == "ref_rolled_back":
        shows = "another tree now (as the check found)"
        return _forked(ref, referencing, kept, None, shows)
    return Blame(
        UNDETERMINED,
        None,
        f"{referencing} kept {ref.log}'s cosigned checkpoint of size {ref.size} with that root, "
        f"and it is not known whether {ref.log} still shows that tree: could not tell who",
    )


@dataclass(frozen=True, slots=True)
class _Note:
    """A checkpoint of the referenced log, its signed ``note``, and when each pinned witness
    cosigned it."""

    checkpoint: Checkpoint
    note: str
    cosigned: Mapping[str, int]  # witness name -> cosignature timestamp (Unix seconds)

    @property
    def cosigners(self) -> tuple[str, ...]:
        return tuple(sorted(self.cosigned))


def _kept(ref: LogReference, kept_note: str | None, pin: PinnedLog) -> _Note | str:
    """The kept note when it holds, else why not."""
    if kept_note is None:
        return "it kept none"
    try:
        checkpoint = open_checkpoint(kept_note, pin.trust.log_key)
    except _NOTE_ERRORS as exc:
        return f"the note it kept is not signed by the pinned key: {exc}"
    if (checkpoint.size, checkpoint.root_hash.hex()) != (ref.size, ref.root):
        return (
            f"the note it kept is of size {checkpoint.size} with root {checkpoint.root_hash.hex()}"
        )
    try:
        cosigned = pin.policy.check(kept_note)
    except (QuorumError, MalformedNoteError, SignatureError) as exc:
        return f"the note it kept is not cosigned: {exc}"
    return _Note(checkpoint, kept_note, cosigned)


def _shown(shown: ShownTree | None, pin: PinnedLog) -> _Note | None:
    """What the log shows, when given and signed by its pinned key (its own word suffices),
    with those of its pinned witnesses that cosigned it too."""
    if shown is None:
        return None
    try:
        checkpoint = open_checkpoint(shown.note, pin.trust.log_key)
    except _NOTE_ERRORS:
        return None
    try:
        keys = [witness.vkey for witness in pin.policy.witnesses]
        cosigned = verify_cosignatures(shown.note, keys)
    except (MalformedNoteError, SignatureError):
        cosigned = {}
    return _Note(checkpoint, shown.note, cosigned)


def _consistent(
    ref: LogReference, kept: Checkpoint, now: Checkpoint, proof: Sequence[bytes]
) -> bool:
    try:
        merkle.verify_consistency(ref.size, now.size, proof, kept.root_hash, now.root_hash)
    except ProofError:
        return False
    return True


def _misbehaved(kept: _Note, now: _Note | None) -> tuple[str, ...]:
    """The witnesses that cosigned both notes when no honest witness would have: an
    inconsistent tree of at least the kept size, or a smaller one after the kept one."""
    if now is None:
        return ()
    grown = now.checkpoint.size >= kept.checkpoint.size
    return tuple(
        name
        for name in kept.cosigners
        if name in now.cosigned and (grown or now.cosigned[name] > kept.cosigned[name])
    )


def _forked(
    ref: LogReference, referencing: str, kept: _Note, now: _Note | None, shows: str
) -> Blame:
    witnesses = ", ".join(kept.cosigners) or "no witnesses (quorum 0)"
    both = _misbehaved(kept, now)
    evidence = (
        f"{ref.log}'s key signed, and {witnesses} cosigned, size {ref.size} root {ref.root} "
        f"(kept by {referencing}), and it shows {shows}: {ref.log} rolled back or forked"
    )
    if both:
        evidence += f"; witnesses that cosigned both, against their rules: {', '.join(both)}"
    return Blame(
        REFERENCED,
        ref.log,
        evidence,
        kept.checkpoint,
        kept.note,
        kept.cosigners,
        None if now is None else now.checkpoint,
        None if now is None else now.note,
        both,
    )
