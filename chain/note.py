"""Signed notes (c2sp.org/signed-note v1.0.0) and their key strings.

A signed note is a text followed by a blank line and one signature line per key::

    <text: UTF-8, no control characters but newline, ending in "\\n">
    <blank line>
    — <key name> <base64(key ID: 4 bytes big-endian || signature)>

Keys use the string forms of golang.org/x/mod/sumdb/note, and parsing follows
that package's rules (``NewVerifier``, ``NewSigner``, ``Open``, ``Sign``)::

    signer    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 seed)>
    verifier  <name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 public key)>
    key ID    SHA-256(name || 0x0A || type || public key)[:4], big-endian uint32

The keys live in the private module :mod:`chain._note_keys` and are re-exported
here; import them from this module.

Two signature types are supported: :data:`ED25519` (0x01), Ed25519 over the
note text; and :data:`COSIGNATURE_V1` (0x04, c2sp.org/tlog-cosignature v1),
Ed25519 over ``"cosignature/v1\\ntime <t>\\n" + text`` whose signature bytes are
``u64 big-endian t || 64-byte Ed25519 signature``.

Deviations from x/mod, all stricter: base64 must be canonical (no set unused
bits, no embedded newlines), and a note is parsed in full before any
signature is checked, so a note that is both malformed and badly signed is
reported as malformed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import nacl.bindings

from chain._encoding import b64_decode, b64_encode
from chain._note_keys import (
    CONTROL,
    COSIGNATURE_V1,
    ED25519,
    ED25519_SIG_BYTES,
    MAX_TIMESTAMP,
    SignerKey,
    VerifierKey,
    check_name,
    check_text,
    check_uint32,
    cosignature_message,
    decode,
    generate_key,
    key_id,
    parse_signer_key,
    parse_verifier_key,
)
from chain.errors import MalformedNoteError, UnknownSignerError

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_SIGNATURES",
    "Note",
    "NoteSignature",
    "SignerKey",
    "VerifierKey",
    "add_signature",
    "create_signature",
    "generate_key",
    "key_id",
    "parse",
    "parse_signature_line",
    "parse_signer_key",
    "parse_verifier_key",
    "sign",
    "verified_signatures",
    "verify",
]

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (x/mod's limit; the spec asks for at least 16)."""

_SIG_PREFIX = "\u2014 "


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key ``name``, uint32 ``key_id`` and the ``signature`` bytes.

    ``signature`` excludes the 4-byte key ID (for a cosignature it is the
    8-byte timestamp followed by the Ed25519 signature).

    Raises:
        MalformedNoteError: if the name is empty or holds a space or ``+``,
            ``key_id`` is not a uint32 or ``signature`` is empty.
    """

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        check_name(self.name, "signature")
        check_uint32(self.key_id, "signature key ID")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise MalformedNoteError("signature: expected at least 1 byte after the key ID")

    def to_line(self) -> str:
        """Return the signature line, ``— <name> <base64>`` and a newline."""
        raw = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIG_PREFIX}{self.name} {b64_encode(raw)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed signed note: its ``text`` and its ``signatures`` in order (none verified).

    Raises:
        MalformedNoteError: if ``text`` is not a valid note text or there are
            not between 1 and :data:`MAX_SIGNATURES` signatures.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_text(self.text)
        if not isinstance(self.signatures, tuple):
            raise MalformedNoteError("note: expected a tuple of signatures")
        if not 1 <= len(self.signatures) <= MAX_SIGNATURES:
            raise MalformedNoteError(
                f"note: expected 1 to {MAX_SIGNATURES} signatures, found {len(self.signatures)}"
            )

    def to_text(self) -> str:
        """Return the encoded note: text, blank line, signature lines."""
        return self.text + "\n" + "".join(sig.to_line() for sig in self.signatures)


def parse(note: str | bytes) -> Note:
    """Parse a signed note without checking any signature.

    Bytes are decoded as strict UTF-8. The text is everything up to and
    including the newline before the last blank line.

    Raises:
        MalformedNoteError: if the note is not valid UTF-8, holds a control
            character other than newline, has no blank line, does not end in a
            newline, has more than :data:`MAX_SIGNATURES` signature lines, or
            any line after the blank line is not ``— <name> <base64 of 5+ bytes>``.
    """
    message = decode(note)
    if (bad := CONTROL.search(message)) is not None:
        raise MalformedNoteError(f"note: expected no control character, found {bad.group()!r}")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note: expected a blank line before the signatures, found none")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note: expected signature lines ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            f"note: expected at most {MAX_SIGNATURES} signatures, found {len(lines)}"
        )
    return Note(text, tuple(_parse_signature(line) for line in lines))


def parse_signature_line(line: str) -> NoteSignature:
    """Parse one ``— <name> <base64>`` line ending in a newline (e.g. a witness's answer).

    Raises:
        MalformedNoteError: if ``line`` is not exactly one valid signature line.
    """
    if not line.endswith("\n") or "\n" in line[:-1] or CONTROL.search(line):
        raise MalformedNoteError("signature line: expected one line ending in a newline")
    return _parse_signature(line[:-1])


def create_signature(
    text: str, signer_key: SignerKey, *, timestamp: int | None = None
) -> NoteSignature:
    """Sign note ``text`` with ``signer_key``.

    ``timestamp`` (POSIX seconds, 0 to 2**63 - 1) is required for a
    :data:`COSIGNATURE_V1` key and forbidden for an :data:`ED25519` key.

    Raises:
        MalformedNoteError: if ``text`` is not a valid note text, or the
            timestamp is missing, out of range or not wanted.
    """
    check_text(text)
    message, prefix = text.encode(), b""
    if signer_key.sig_type == COSIGNATURE_V1:
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise MalformedNoteError("cosignature: expected an integer timestamp")
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise MalformedNoteError(
                f"cosignature: expected a timestamp in 0..2**63-1, found {timestamp}"
            )
        message, prefix = cosignature_message(text, timestamp), timestamp.to_bytes(8, "big")
    elif timestamp is not None:
        raise MalformedNoteError("signature: a timestamp is only for cosignature keys")
    public_key, secret_key = nacl.bindings.crypto_sign_seed_keypair(signer_key.seed)
    raw = nacl.bindings.crypto_sign(message, secret_key)[:ED25519_SIG_BYTES]
    key_hash = key_id(signer_key.name, signer_key.sig_type, public_key)
    return NoteSignature(signer_key.name, key_hash, prefix + raw)


def sign(text: str, signer_key: str | SignerKey) -> str:
    """Return ``text`` signed by the Ed25519 (type 0x01) ``signer_key`` as a note.

    Raises:
        MalformedNoteError: if ``text`` is empty, does not end in a newline,
            holds a control character or lone surrogate, or the key is
            malformed or not of type 0x01.
    """
    key = signer_key if isinstance(signer_key, SignerKey) else parse_signer_key(signer_key)
    if key.sig_type != ED25519:
        raise MalformedNoteError(
            f"signer key: expected type 0x01 (Ed25519), found 0x{key.sig_type:02x}"
        )
    return Note(text, (create_signature(text, key),)).to_text()


def add_signature(note: str | bytes, name: str, key_id: int, signature: bytes) -> str:
    """Return ``note`` with the signature line ``(name, key_id, signature)`` appended.

    As x/mod's ``Sign`` does, an existing signature with the same name and key
    ID is dropped. The new signature is not verified here.

    Raises:
        MalformedNoteError: if ``note`` is malformed, the signature fields are
            invalid, or the note would exceed :data:`MAX_SIGNATURES`.
    """
    parsed = parse(note)
    added = NoteSignature(name, key_id, signature)
    kept = [s for s in parsed.signatures if (s.name, s.key_id) != (name, key_id)]
    return Note(parsed.text, (*kept, added)).to_text()


def verified_signatures(
    note: str | bytes | Note, verifier_keys: Iterable[str | VerifierKey]
) -> tuple[NoteSignature, ...]:
    """Return the signatures on ``note`` made by ``verifier_keys``, in note order.

    Lines of unknown keys are ignored; a known key's later duplicate lines
    are ignored unchecked (as in x/mod). The result may be empty.

    Raises:
        MalformedNoteError: if the note or a key is malformed, or two of the
            keys share a name and key ID and the note has a line for them.
        SignatureError: if a known key's signature does not verify.
    """
    parsed = note if isinstance(note, Note) else parse(note)
    known: dict[tuple[str, int], list[VerifierKey]] = {}
    for vkey in _verifier_keys(verifier_keys):
        known.setdefault((vkey.name, vkey.key_id), []).append(vkey)
    seen: set[tuple[str, int]] = set()
    verified = []
    for sig in parsed.signatures:
        ident = (sig.name, sig.key_id)
        keys = known.get(ident)
        if keys is None or ident in seen:
            continue
        if len(keys) > 1:
            raise MalformedNoteError(
                f"verifier keys: expected one key for {sig.name}+{sig.key_id:08x}, "
                f"found {len(keys)}",
                reason="ambiguous_key",
            )
        seen.add(ident)
        keys[0].verify(parsed.text, sig.signature)
        verified.append(sig)
    return tuple(verified)


def verify(note: str | bytes, verifier_keys: Iterable[str | VerifierKey]) -> str:
    """Return the text of ``note`` once a signature by one of ``verifier_keys`` verifies.

    Raises:
        MalformedNoteError: as :func:`verified_signatures`.
        SignatureError: if a known key's signature does not verify.
        UnknownSignerError: if no known key signed the note.
    """
    keys = _verifier_keys(verifier_keys)
    parsed = parse(note)
    if not verified_signatures(parsed, keys):
        found = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        wanted = ", ".join(f"{k.name}+{k.key_id:08x}" for k in keys) or "none"
        raise UnknownSignerError(
            f"note: expected a signature by a known key ({wanted}), found only {found}"
        )
    return parsed.text


def _verifier_keys(keys: Iterable[str | VerifierKey]) -> list[VerifierKey]:
    return [k if isinstance(k, VerifierKey) else parse_verifier_key(k) for k in keys]


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedNoteError(f"signature line: expected '— ' first, found {line[:16]!r}")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    try:
        raw = b64_decode(encoded)
    except ValueError as exc:
        raise MalformedNoteError(f"signature line: expected canonical base64 ({exc})") from exc
    if len(raw) < 5:
        raise MalformedNoteError(f"signature line: expected at least 5 bytes, found {len(raw)}")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])
