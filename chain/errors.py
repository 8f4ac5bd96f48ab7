"""The one exception hierarchy of farmtrace's core.

Every error the core raises is a :class:`FarmtraceError`; callers that only
want "did this verify?" catch :class:`VerificationError`, callers that want to
tell a garbled input from a forged one catch the branches separately::

    FarmtraceError
    ├── MalformedError              input does not parse or breaks its format
    │   ├── MalformedEntryError     a JWS entry or its payload
    │   ├── MalformedNoteError      a signed note, checkpoint or key string
    │   ├── MalformedBlockError     a block header
    │   ├── GS1Error                a GTIN, serial, lot or GS1 Digital Link path
    │   ├── MalformedWireError      an MQTT topic, status or receipt
    │   └── MalformedWitnessMessageError  a tlog-witness request or answer
    ├── VerificationError           well-formed, but not what it claims to be
    │   ├── SignatureError          a signature does not verify
    │   ├── UnknownSignerError      no trusted key for the signer
    │   ├── AuthorizationError      the signer was not allowed to sign this then
    │   ├── ProofError              a Merkle proof or root mismatch
    │   ├── ChainLinkError          a block does not follow its predecessor
    │   ├── ForkError               a signed checkpoint contradicts the history already accepted
    │   ├── RollbackError           a signed checkpoint older than the one already accepted
    │   ├── QuorumError             too few trusted witnesses cosigned a checkpoint
    │   ├── RegistryCommitmentError a checkpoint's registry line, or a registry proof, is wrong
    │   └── LifecycleError          an event contradicts the lifecycle the log records
    ├── ConflictError               an entry clashes with the log
    │   ├── DuplicateEntryError     the same (signer, seq) with the same bytes
    │   └── EquivocationError       the same (signer, seq) with different bytes
    ├── StorageError                the store failed or holds inconsistent data
    └── SourceError                 a remote read API is unreachable or answered badly

Messages say what was expected and what was found, so that they can be shown
to a user as they are.
"""

from __future__ import annotations

__all__ = [
    "AuthorizationError",
    "ChainLinkError",
    "ConflictError",
    "DuplicateEntryError",
    "EquivocationError",
    "FarmtraceError",
    "ForkError",
    "GS1Error",
    "LifecycleError",
    "MalformedBlockError",
    "MalformedEntryError",
    "MalformedError",
    "MalformedNoteError",
    "MalformedWireError",
    "MalformedWitnessMessageError",
    "ProofError",
    "QuorumError",
    "RegistryCommitmentError",
    "RollbackError",
    "SignatureError",
    "SourceError",
    "StorageError",
    "UnknownSignerError",
    "VerificationError",
]


class FarmtraceError(Exception):
    """Root of every error raised by farmtrace's core.

    ``reason`` is a short, stable, machine-readable tag (e.g. ``"bad_signature"``)
    used as a metrics label and in JSON reports; the message is for people.
    """

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class MalformedError(FarmtraceError):
    """The input does not parse, or breaks the format it claims to have."""

    reason = "malformed"


class MalformedEntryError(MalformedError):
    """A JWS entry, its protected header or its payload is malformed."""

    reason = "malformed_entry"


class MalformedNoteError(MalformedError):
    """A signed note, checkpoint, cosignature or key string is malformed."""

    reason = "malformed_note"


class MalformedBlockError(MalformedError):
    """A block header is not canonical JSON of the expected shape."""

    reason = "malformed_block"


class GS1Error(MalformedError):
    """A GTIN, serial, lot or GS1 Digital Link path breaks the GS1 rules or ours."""

    reason = "malformed_identifier"


class MalformedWireError(MalformedError):
    """An MQTT topic, device status or gateway receipt breaks design.md section 4."""

    reason = "malformed_wire"


class MalformedWitnessMessageError(MalformedError):
    """A C2SP tlog-witness request or answer that breaks the protocol's format."""

    reason = "malformed_witness_message"


class VerificationError(FarmtraceError):
    """Well-formed input that fails verification."""

    reason = "verification_failed"


class SignatureError(VerificationError):
    """A signature does not verify under the key it should verify under."""

    reason = "bad_signature"


class UnknownSignerError(VerificationError):
    """No trusted key is known for the signer named in the input."""

    reason = "unknown_signer"


class AuthorizationError(VerificationError):
    """The signer is known, but was not allowed to sign this at that time."""

    reason = "unauthorized"


class ProofError(VerificationError):
    """A Merkle proof does not lead to the expected root.

    ``expected`` and ``calculated`` hold the two values that differ, when the
    failure is a mismatch rather than a proof of the wrong shape.
    """

    reason = "bad_proof"

    def __init__(
        self,
        message: str,
        *,
        expected: bytes | None = None,
        calculated: bytes | None = None,
    ) -> None:
        if expected is not None and calculated is not None:
            message = f"{message}: expected {expected.hex()}, calculated {calculated.hex()}"
        super().__init__(message)
        self.expected = expected
        self.calculated = calculated


class ChainLinkError(VerificationError):
    """A block's header does not link to, or follow on from, its predecessor."""

    reason = "broken_link"


class ForkError(VerificationError):
    """A checkpoint signed by the log's key contradicts the history already accepted.

    Either it names the same tree size with another root, or it is smaller and
    its root is not our tree's at that size, or it is bigger and no valid
    consistency proof links our tree to it. Evidence of a split view when both
    checkpoints are signed (or of a lying source, when only its proof is bad).
    """

    reason = "fork"


class RollbackError(VerificationError):
    """A valid checkpoint that is older (smaller) than the one already accepted.

    Its root agrees with our tree at its size, so it is no fork: the source is
    behind, and accepting it would move our view of the log backwards.
    """

    reason = "rollback"


class QuorumError(VerificationError):
    """A checkpoint lacks the cosignatures a k-of-n witness policy asks for.

    ``required`` is k, ``cosigners`` the names of the trusted witnesses whose
    cosignatures did verify (fewer than k). Not evidence of misbehaviour on
    its own: the witnesses may simply not have answered yet.
    """

    reason = "witness_quorum"

    def __init__(self, message: str, *, required: int, cosigners: tuple[str, ...]) -> None:
        super().__init__(message)
        self.required = required
        self.cosigners = cosigners


class RegistryCommitmentError(VerificationError):
    """A checkpoint's registry commitment, or a signer's registry proof, is wrong.

    Either a checkpoint lacks its ``farmtrace-registry`` line or says another
    commitment than the log's registrations give (evidence against the log
    key's holder: it signed a false registry), or a server's list of a
    signer's registrations does not lead to the committed root (one was
    hidden, added or changed). ``expected`` and ``found`` say what differs.
    """

    reason = "registry_commitment"

    def __init__(self, message: str, *, expected: str, found: str) -> None:
        super().__init__(f"{message} (expected {expected}, found {found})")
        self.expected = expected
        self.found = found


class LifecycleError(VerificationError):
    """A well-signed event that contradicts what the log already records (see chain.lifecycle).

    For instance packing a carcass no slaughtered event produced, or
    slaughtering a bird twice. ``subject`` is the subject the rule failed
    for, ``event`` the event's kind, ``index`` the log index the event has
    (or would have), ``existing_index`` the earlier entry that contradicts
    it, when there is one (None when what is missing never happened).
    """

    reason = "lifecycle_conflict"

    def __init__(
        self,
        message: str,
        *,
        subject: str,
        event: str,
        index: int,
        existing_index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.subject = subject
        self.event = event
        self.index = index
        self.existing_index = existing_index


class ConflictError(FarmtraceError):
    """An entry clashes with one the log already holds for the same (signer, seq)."""

    reason = "conflict"

    def __init__(self, message: str, *, signer: str, seq: int, existing_index: int) -> None:
        super().__init__(message)
        self.signer = signer
        self.seq = seq
        self.existing_index = existing_index


class DuplicateEntryError(ConflictError):
    """The exact same entry is already in the log (harmless: e.g. a QoS 1 redelivery)."""

    reason = "duplicate"


class EquivocationError(ConflictError):
    """A different entry with the same (signer, seq) is already in the log."""

    reason = "equivocation"


class StorageError(FarmtraceError):
    """The store failed, or holds data that contradicts itself.

    ``path`` names the store's directory when LevelDB itself failed (reason
    ``"unreadable"``: a corrupt or unreadable file); it is None otherwise.
    """

    reason = "storage"

    def __init__(self, message: str, *, reason: str | None = None, path: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.path = path


class SourceError(FarmtraceError):
    """A remote read API (a gateway or another replica) could not give what was asked.

    ``reason`` is ``"unreachable"`` (no HTTP answer: refused, reset, timed
    out), ``"http_error"`` (an error status; the message carries the server's
    JSON error text) or ``"malformed_response"`` (a body that is not what the
    API promises). ``url`` is the address asked, ``status`` the HTTP status
    when there was one.
    """

    reason = "source"

    def __init__(self, message: str, *, reason: str, url: str, status: int | None = None) -> None:
        super().__init__(message, reason=reason)
        self.url = url
        self.status = status
