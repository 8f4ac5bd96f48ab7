"""Transparency-log checkpoints (c2sp.org/tlog-checkpoint) and cosignatures (tlog-cosignature).

A checkpoint is the text of a signed note (:mod:`chain.note`)::

    <origin>
    <tree size: ASCII decimal, no leading zeros>
    <root hash: base64 of the 32-byte RFC 6962 root>
    [<extension line>]...

farmtrace's log signs it with an Ed25519 key (type 0x01) whose name is the
origin, as tlog-checkpoint recommends. Witnesses add Ed25519 cosignatures
(tlog-cosignature v1, type 0x04): each signs ``"cosignature/v1\\n"``,
``"time <t>\\n"`` and the checkpoint text, and its signature line carries
``key ID || u64 big-endian t || Ed25519 signature``. Time ``t`` (POSIX
seconds) is passed in: nothing here reads the clock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from chain import note
from chain._encoding import b64_decode, b64_encode
from chain.errors import MalformedNoteError, UnknownSignerError

__all__ = [
    "Checkpoint",
    "cosign",
    "generate_cosigner_key",
    "open_checkpoint",
    "sign_checkpoint",
    "verify_cosignatures",
]

_ROOT_BYTES = 32
_MAX_SIZE = 2**64 - 1
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: ``origin``, tree ``size``, ``root_hash`` and opaque ``extensions``.

    Raises:
        MalformedNoteError: if the origin or an extension line is empty or
            holds a newline or other control character, ``size`` is not in
            0..2**64-1 or ``root_hash`` is not 32 bytes.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedNoteError(f"checkpoint size: expected an int, found {self.size!r}")
        if not 0 <= self.size <= _MAX_SIZE:
            raise MalformedNoteError(f"checkpoint size: expected 0..2**64-1, found {self.size}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _ROOT_BYTES:
            found = len(self.root_hash) if isinstance(self.root_hash, bytes) else "no bytes"
            raise MalformedNoteError(f"checkpoint root hash: expected 32 bytes, found {found}")
        if not isinstance(self.extensions, tuple):
            raise MalformedNoteError("checkpoint extensions: expected a tuple of lines")
        for line in self.extensions:
            _check_line(line, "checkpoint extension line")

    def to_text(self) -> str:
        """Return the checkpoint as note text: one newline-terminated line per field."""
        lines = (self.origin, str(self.size), b64_encode(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint ``text`` (the note text, without signatures).

        Raises:
            MalformedNoteError: if the text does not end in a newline, has
                fewer than three lines or an empty one, the size is not
                canonical decimal (no sign, no leading zero) or the root is
                not canonical base64 of 32 bytes.
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise MalformedNoteError("checkpoint: expected text ending in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNoteError(f"checkpoint: expected at least 3 lines, found {len(lines)}")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise MalformedNoteError(
                f"checkpoint size: expected decimal digits without a leading zero, found {size!r}"
            )
        try:
            root_hash = b64_decode(root)
        except ValueError as exc:
            raise MalformedNoteError(f"checkpoint root hash: expected base64 ({exc})") from exc
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer_key: str | note.SignerKey) -> str:
    """Return ``checkpoint`` as a note signed by the log's Ed25519 ``signer_key``.

    Raises:
        MalformedNoteError: if the key is malformed, not of type 0x01, or its
            name is not the checkpoint's origin.
    """
    key = (
        signer_key if isinstance(signer_key, note.SignerKey) else note.parse_signer_key(signer_key)
    )
    if key.name != checkpoint.origin:
        raise MalformedNoteError(
            f"signer key: expected the name {checkpoint.origin!r} (the origin), found {key.name!r}"
        )
    return note.sign(checkpoint.to_text(), key)


def open_checkpoint(
    signed_note: str | bytes, log_verifier_key: str | note.VerifierKey
) -> Checkpoint:
    """Return the checkpoint in ``signed_note`` once the log's signature on it verifies.

    The log's key must be of type 0x01 and named after the origin. Other
    signatures (witnesses' and unknown ones) are ignored.

    Raises:
        MalformedNoteError: if the note, its checkpoint text or the key is malformed.
        UnknownSignerError: if the origin is not the key's name, or the note
            has no signature by that key.
        SignatureError: if the log key's signature does not verify.
    """
    key = (
        log_verifier_key
        if isinstance(log_verifier_key, note.VerifierKey)
        else note.parse_verifier_key(log_verifier_key)
    )
    if key.sig_type != note.ED25519:
        raise MalformedNoteError(
            f"log key: expected type 0x01 (Ed25519), found 0x{key.sig_type:02x}"
        )
    parsed = note.parse(signed_note)
    checkpoint = Checkpoint.from_text(parsed.text)
    if checkpoint.origin != key.name:
        raise UnknownSignerError(
            f"checkpoint origin: expected {key.name!r} (the log key's name), "
            f"found {checkpoint.origin!r}"
        )
    if not note.verified_signatures(parsed, [key]):
        raise UnknownSignerError(
            f"checkpoint: expected a signature by the log key {key.name}+{key.key_id:08x}, "
            "found none"
        )
    return checkpoint


def generate_cosigner_key(name: str, *, seed: bytes | None = None) -> tuple[str, str]:
    """Return ``(signer key, verifier key)`` strings of a new type 0x04 cosigner key.

    ``seed`` is the 32-byte Ed25519 seed; a random one is drawn when it is None.

    Raises:
        MalformedNoteError: if the name is invalid or ``seed`` is not 32 bytes.
    """
    return note.generate_key(name, seed=seed, sig_type=note.COSIGNATURE_V1)


def cosign(checkpoint_text: str, cosigner_key: str | note.SignerKey, timestamp: int) -> str:
    """Return the cosignature line (``— <name> <base64>`` and a newline) over a checkpoint.

    ``checkpoint_text`` is the checkpoint note's text, without signatures;
    ``timestamp`` is the cosigning time in POSIX seconds (0 to 2**63 - 1).
    The caller must already have checked the checkpoint (log signature and
    consistency): a cosignature vouches for both.

    Raises:
        MalformedNoteError: if the text is not a checkpoint, the key is
            malformed or not of type 0x04, or the timestamp is out of range.
    """
    Checkpoint.from_text(checkpoint_text)
    key = (
        cosigner_key
        if isinstance(cosigner_key, note.SignerKey)
        else note.parse_signer_key(cosigner_key)
    )
    if key.sig_type != note.COSIGNATURE_V1:
        raise MalformedNoteError(
            f"cosigner key: expected type 0x04 (cosignature/v1), found 0x{key.sig_type:02x}"
        )
    return note.create_signature(checkpoint_text, key, timestamp=timestamp).to_line()


def verify_cosignatures(
    signed_note: str | bytes, witness_keys: Iterable[str | note.VerifierKey]
) -> dict[str, int]:
    """Return ``{witness name: cosigning timestamp}`` for each witness that cosigned.

    Witnesses without a cosignature on the note are absent from the result;
    whether enough witnesses cosigned is the caller's policy. The log's own
    signature is not checked here (see :func:`open_checkpoint`).

    Raises:
        MalformedNoteError: if the note or its checkpoint text is malformed,
            a key is malformed or not of type 0x04, or two keys share a name.
        SignatureError: if a known witness's cosignature does not verify.
    """
    keys = [
        k if isinstance(k, note.VerifierKey) else note.parse_verifier_key(k) for k in witness_keys
    ]
    for key in keys:
        if key.sig_type != note.COSIGNATURE_V1:
            raise MalformedNoteError(
                f"witness key {key.name}: expected type 0x04 (cosignature/v1), "
                f"found 0x{key.sig_type:02x}"
            )
    repeated = [name for name, count in Counter(k.name for k in keys).items() if count > 1]
    if repeated:
        raise MalformedNoteError(
            f"witness keys: expected distinct names, found {repeated[0]!r} twice"
        )
    parsed = note.parse(signed_note)
    Checkpoint.from_text(parsed.text)
    return {
        sig.name: int.from_bytes(sig.signature[:8], "big")
        for sig in note.verified_signatures(parsed, keys)
    }


def _check_line(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise MalformedNoteError(f"{what}: expected a non-empty line, found {value!r}")
    if _CONTROL.search(value):
        raise MalformedNoteError(f"{what}: expected no newline or control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNoteError(f"{what}: expected valid UTF-8, found {exc.reason}") from exc
