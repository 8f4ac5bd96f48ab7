"""The wire format of C2SP tlog-witness (``POST <prefix>/add-checkpoint``), both sides.

A request body is an old size line, up to 63 consistency proof lines, an
empty line, and the signed checkpoint note::

    old <size: ASCII decimal, no leading zeros>
    <base64 hash>                      (0 to 63 lines; none when old is 0)
    <empty line>
    <signed checkpoint note>

A 200 answer is one or more note signature lines (cosignatures); a 409
answer's body is the witness's latest cosigned size and a newline, with
``Content-Type: text/x.tlog.size``. A 422 says the checkpoint is not
consistent with what the witness cosigned (a bad proof, or, since C2SP PR
#280, another root at the size it cosigned). Monitors read a witness's latest
cosigned checkpoint of a log at ``GET <monitoring prefix>/<origin hash>/checkpoint``
(:func:`monitoring_checkpoint_path`). This module only encodes and parses:
checking the checkpoint, the proof and the cosignatures is the caller's (the
witness's :mod:`witness`, the gateway's pusher, with :mod:`chain.checkpoint`
and :mod:`chain.merkle`). No I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from chain import note
from chain._encoding import b64_decode, b64_encode
from chain.checkpoint import Checkpoint
from chain.errors import MalformedNoteError, MalformedWitnessMessageError

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "LATEST_CHECKPOINT_PATH",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "MONITORING_CHECKPOINT_SUFFIX",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "encode_size",
    "latest_checkpoint_urls",
    "merge_cosignatures",
    "monitoring_checkpoint_path",
    "origin_hash",
    "parse_cosignature_lines",
    "parse_size",
]

ADD_CHECKPOINT_PATH = "/add-checkpoint"
"""The path of the submission endpoint, relative to a witness's submission prefix."""

LATEST_CHECKPOINT_PATH = "/latest-checkpoint"
"""farmtrace witnesses' older path to their latest checkpoint of a log (``?origin=``)."""

MONITORING_CHECKPOINT_SUFFIX = "/checkpoint"
"""Last segment of the monitoring path, after ``/<origin hash>``."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""Content type of a 409 answer: the witness's latest cosigned size."""

MAX_PROOF_LINES = 63
"""Most consistency proof lines a client may send (the spec's limit)."""

MAX_REQUEST_BYTES = 64 * 1024
"""Largest request body a witness need read: 63 hashes and a note of 100 signatures fit."""

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_SIZE = 2**64 - 1


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` request: ``old_size``, the consistency ``proof`` and the ``note``.

    ``note`` is the signed checkpoint exactly as sent (it may carry several
    signatures). ``proof`` holds 32-byte hashes from ``old_size`` to the
    checkpoint's size.

    Raises:
        MalformedWitnessMessageError: if ``old_size`` is not in 0..2**64-1,
            the proof has more than 63 hashes or a hash that is not 32 bytes,
            a proof comes with old size 0, or ``note`` is not a signed checkpoint.
    """

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def __post_init__(self) -> None:
        if isinstance(self.old_size, bool) or not isinstance(self.old_size, int):
            raise MalformedWitnessMessageError(
                f"old size: expected an int, found {self.old_size!r}"
            )
        if not 0 <= self.old_size <= _MAX_SIZE:
            raise MalformedWitnessMessageError(
                f"old size: expected 0..2**64-1, found {self.old_size}"
            )
        if not isinstance(self.proof, tuple):
            raise MalformedWitnessMessageError("consistency proof: expected a tuple of hashes")
        if len(self.proof) > MAX_PROOF_LINES:
            raise MalformedWitnessMessageError(
                f"consistency proof: expected at most {MAX_PROOF_LINES} lines, "
                f"found {len(self.proof)}"
            )
        for digest in self.proof:
            if not isinstance(digest, bytes) or len(digest) != 32:
                raise MalformedWitnessMessageError(
                    "consistency proof: expected 32-byte hashes, found "
                    f"{len(digest) if isinstance(digest, bytes) else type(digest).__name__}"
                )
        if self.old_size == 0 and self.proof:
            raise MalformedWitnessMessageError(
                f"consistency proof: expected none from old size 0, found {len(self.proof)} lines"
            )
        try:
            Checkpoint.from_text(note.parse(self.note).text)
        except MalformedNoteError as exc:
            raise MalformedWitnessMessageError(f"checkpoint: {exc}") from exc

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint in the note (its signatures unchecked)."""
        return Checkpoint.from_text(note.parse(self.note).text)

    def to_bytes(self) -> bytes:
        """Encode the request body, byte for byte as the spec lays it out."""
        lines = [f"old {self.old_size}\n", *(b64_encode(h) + "\n" for h in self.proof), "\n"]
        return ("".join(lines) + self.note).encode("utf-8")

    @classmethod
    def from_bytes(cls, body: bytes) -> AddCheckpointRequest:
        """Parse a request body.

        Raises:
            MalformedWitnessMessageError: if the body is not UTF-8, the old size
                line is missing or not canonical decimal, a proof line is not
                canonical base64 of 32 bytes, the empty line is missing, or
                anything :class:`AddCheckpointRequest` rejects.
        """
        if not isinstance(body, bytes):
            raise MalformedWitnessMessageError("request: expected bytes")
        if len(body) > MAX_REQUEST_BYTES:
            raise MalformedWitnessMessageError(
                f"request: expected at most {MAX_REQUEST_BYTES} bytes, found {len(body)}"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedWitnessMessageError(f"request: expected UTF-8 ({exc.reason})") from exc
        head, sep, signed_note = text.partition("\n\n")
        if not sep:
            raise MalformedWitnessMessageError(
                "request: expected an empty line between the proof and the checkpoint"
            )
        first, *proof_lines = head.split("\n")
        if not first.startswith("old ") or not _SIZE.fullmatch(first[4:]):
            raise MalformedWitnessMessageError(
                f"old size line: expected 'old <decimal without leading zeros>', "
                f"found {first[:40]!r}"
            )
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedWitnessMessageError(
                f"consistency proof: expected at most {MAX_PROOF_LINES} lines, "
                f"found {len(proof_lines)}"
            )
        proof = []
        for number, line in enumerate(proof_lines, start=1):
            try:
                proof.append(b64_decode(line))
            except ValueError as exc:
                raise MalformedWitnessMessageError(
                    f"consistency proof line {number}: expected canonical base64 ({exc})"
                ) from exc
        return cls(int(first[4:]), tuple(proof), signed_note)


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of ``origin`` (UTF-8), as monitoring paths name a log."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def monitoring_checkpoint_path(origin: str) -> str:
    """``/<origin hash>/checkpoint``: where a witness serves its latest checkpoint of ``origin``.

    Relative to the witness's monitoring prefix (ours: the same as its
    submission prefix).
    """
    return f"/{origin_hash(origin)}{MONITORING_CHECKPOINT_SUFFIX}"


def latest_checkpoint_urls(witness_url: str, origin: str) -> tuple[str, str]:
    """Where to ask the witness at ``witness_url`` for its latest checkpoint of ``origin``.

    The spec's monitoring path first; then farmtrace's older
    ``/latest-checkpoint?origin=``, asked only when the first answers 404.
    """
    base = witness_url.rstrip("/")
    return (
        base + monitoring_checkpoint_path(origin),
        f"{base}{LATEST_CHECKPOINT_PATH}?origin={quote(origin, safe='')}",
    )


def encode_size(size: int) -> bytes:
    """The body of a 409 answer: ``size`` in decimal and a newline.

    Precondition: ``0 <= size <= 2**64 - 1``.
    """
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    """Parse the body of a 409 answer (``text/x.tlog.size``).

    Raises:
        MalformedWitnessMessageError: if it is not one canonical decimal line.
    """
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n") or not _SIZE.fullmatch(text[:-1]):
        raise MalformedWitnessMessageError(
            f"tree size answer: expected a decimal line, found {text[:40]!r}"
        )
    return int(text[:-1])


def parse_cosignature_lines(body: bytes) -> tuple[note.NoteSignature, ...]:
    """Parse a 200 answer: one or more note signature lines, each ending in a newline.

    Raises:
        MalformedWitnessMessageError: if the body is empty, not UTF-8, holds
            more than :data:`chain.note.MAX_SIGNATURES` lines, or a line is not
            a signature line.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedWitnessMessageError(f"cosignatures: expected UTF-8 ({exc.reason})") from exc
    if not text.endswith("\n"):
        raise MalformedWitnessMessageError("cosignatures: expected lines ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) > note.MAX_SIGNATURES:
        raise MalformedWitnessMessageError(
            f"cosignatures: expected at most {note.MAX_SIGNATURES} lines, found {len(lines)}"
        )
    try:
        return tuple(note.parse_signature_line(line + "\n") for line in lines)
    except MalformedNoteError as exc:
        raise MalformedWitnessMessageError(f"cosignatures: {exc}") from exc


def merge_cosignatures(
    signed_note: str,
    signatures: Iterable[note.NoteSignature],
    witness_keys: Sequence[str | note.VerifierKey],
) -> tuple[str, Mapping[str, int]]:
    """Add to ``signed_note`` the ``signatures`` that verify under ``witness_keys``.

    Signatures of unknown keys are ignored, as the spec asks of a client; a
    known key's line replaces an older line of the same key. Returns the new
    note and ``{witness name: cosigning time}`` of the lines added.

    Raises:
        MalformedNoteError: if the note or a key is malformed.
        SignatureError: if a known witness's signature does not verify (a
            witness that answers with a bad cosignature is broken or lying).
    """
    keys = [
        k if isinstance(k, note.VerifierKey) else note.parse_verifier_key(k) for k in witness_keys
    ]
    known = {(k.name, k.key_id): k for k in keys}
    text = note.parse(signed_note).text
    merged, added = signed_note, {}
    for sig in signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        key.verify(text, sig.signature)
        merged = note.add_signature(merged, sig.name, sig.key_id, sig.signature)
        added[sig.name] = int.from_bytes(sig.signature[:8], "big")
    return merged, added
