"""Key strings and key IDs of signed notes (c2sp.org/signed-note v1.0.0).

The private half of :mod:`chain.note`, which re-exports every public name
here; import them from there. Key strings are those of
golang.org/x/mod/sumdb/note, parsed by that package's rules (``NewVerifier``,
``NewSigner``, ``GenerateKey``)::

    signer    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 seed)>
    verifier  <name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 public key)>
    key ID    SHA-256(name || 0x0A || type || public key)[:4], big-endian uint32

Types :data:`ED25519` (0x01, c2sp.org/signed-note) and :data:`COSIGNATURE_V1`
(0x04, c2sp.org/tlog-cosignature v1) are supported. Base64 must be canonical,
stricter than x/mod. The note-text checks that key verification needs live
here too, so that :mod:`chain.note` can import them without a cycle.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.utils

from chain._encoding import b64_decode, b64_encode
from chain.errors import MalformedNoteError, SignatureError

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "SignerKey",
    "VerifierKey",
    "generate_key",
    "key_id",
    "parse_signer_key",
    "parse_verifier_key",
]

ED25519 = 0x01
"""Signature type of plain Ed25519 note signatures (c2sp.org/signed-note)."""

COSIGNATURE_V1 = 0x04
"""Signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature v1)."""

_TYPE_NAMES = {ED25519: "Ed25519", COSIGNATURE_V1: "cosignature/v1"}
_KEY_BYTES = 32
ED25519_SIG_BYTES = 64
_TIMESTAMP_BYTES = 8
MAX_TIMESTAMP = 2**63 - 1
_HEX_KEY_ID = re.compile(r"[0-9A-Fa-f]{8}")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# Unicode White_Space, the set Go's unicode.IsSpace tests (str.isspace differs).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """Return SHA-256(name || 0x0A || sig_type || public_key)[:4] as a big-endian uint32.

    Precondition: ``0 <= sig_type <= 255``. Raises nothing else.
    """
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key that checks signatures of one ``sig_type`` made under one ``name``.

    Raises:
        MalformedNoteError: if the name is invalid, the type unsupported, the
            key not 32 bytes, or ``key_id`` not the one the key implies.
    """

    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_name(self.name, "verifier key")
        check_uint32(self.key_id, "verifier key ID")
        _check_key(self.sig_type, self.public_key, "verifier key")
        expected = key_id(self.name, self.sig_type, self.public_key)
        if self.key_id != expected:
            raise MalformedNoteError(
                f"verifier key: expected key ID {expected:08x}, found {self.key_id:08x}"
            )

    def to_text(self) -> str:
        """Return the verifier key string ``<name>+<key ID>+<base64(type || key)>``."""
        encoded = b64_encode(bytes([self.sig_type]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, text: str, signature: bytes) -> None:
        """Check ``signature`` (the bytes after the key ID) over note ``text``.

        Raises:
            MalformedNoteError: if ``text`` is not a valid note text.
            SignatureError: if the signature has the wrong length, a
                cosignature timestamp exceeds 2**63 - 1, or it does not verify.
        """
        check_text(text)
        label = f"signature by {self.name}+{self.key_id:08x}"
        message = text.encode()
        if self.sig_type == COSIGNATURE_V1:
            if len(signature) != _TIMESTAMP_BYTES + ED25519_SIG_BYTES:
                raise SignatureError(f"{label}: expected 72 bytes, found {len(signature)}")
            timestamp = int.from_bytes(signature[:_TIMESTAMP_BYTES], "big")
            if timestamp > MAX_TIMESTAMP:
                raise SignatureError(f"{label}: expected a timestamp < 2**63, found {timestamp}")
            message = cosignature_message(text, timestamp)
            signature = signature[_TIMESTAMP_BYTES:]
        elif len(signature) != ED25519_SIG_BYTES:
            raise SignatureError(f"{label}: expected 64 bytes, found {len(signature)}")
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.public_key)
        except nacl.exceptions.BadSignatureError as exc:
            raise SignatureError(
                f"{label}: expected a valid {_TYPE_NAMES[self.sig_type]} signature, "
                "found an invalid one"
            ) from exc


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A private key: ``name``, ``sig_type`` and the 32-byte Ed25519 ``seed``.

    Raises:
        MalformedNoteError: if the name is invalid, the type unsupported or
            the seed not 32 bytes.
    """

    name: str
    sig_type: int
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_name(self.name, "signer key", quote=False)
        _check_key(self.sig_type, self.seed, "signer key")

    def verifier_key(self) -> VerifierKey:
        """Return the matching public :class:`VerifierKey`."""
        public_key, _ = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        return VerifierKey(
            self.name, key_id(self.name, self.sig_type, public_key), self.sig_type, public_key
        )

    def to_text(self) -> str:
        """Return the signer key string ``PRIVATE+KEY+<name>+<key ID>+<base64>``."""
        key_hash = self.verifier_key().key_id
        encoded = b64_encode(bytes([self.sig_type]) + self.seed)
        return f"PRIVATE+KEY+{self.name}+{key_hash:08x}+{encoded}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parse a verifier key string ``<name>+<8 hex key ID>+<base64(type || key)>``.

    Raises:
        MalformedNoteError: on a wrong field count, a key ID that is not 8 hex
            digits or does not match the key, non-canonical base64, an invalid
            name, an unsupported type or a key that is not 32 bytes.
    """
    name, hash16, key64 = [*vkey.split("+", 2), "", ""][:3]
    declared, sig_type, key = _parse_key_fields(hash16, key64, "verifier key")
    return VerifierKey(name, declared, sig_type, key)


def parse_signer_key(skey: str) -> SignerKey:
    """Parse a signer key string ``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || seed)>``.

    Error messages never quote the key string.

    Raises:
        MalformedNoteError: like :func:`parse_verifier_key`, or if the
            ``PRIVATE+KEY+`` prefix is missing.
    """
    priv, key, name, hash16, key64 = [*skey.split("+", 4), "", "", "", ""][:5]
    if (priv, key) != ("PRIVATE", "KEY"):
        raise MalformedNoteError("signer key: expected the prefix PRIVATE+KEY+")
    declared, sig_type, seed = _parse_key_fields(hash16, key64, "signer key")
    signer = SignerKey(name, sig_type, seed)
    if signer.verifier_key().key_id != declared:
        raise MalformedNoteError("signer key: expected the key ID of its key, found another")
    return signer


def generate_key(
    name: str, *, seed: bytes | None = None, sig_type: int = ED25519
) -> tuple[str, str]:
    """Return ``(signer key, verifier key)`` strings for a new key named ``name``.

    ``seed`` is the 32-byte Ed25519 seed; a random one is drawn when it is
    None. ``sig_type`` is :data:`ED25519` or :data:`COSIGNATURE_V1`.

    Raises:
        MalformedNoteError: if the name is invalid, ``seed`` is not 32 bytes
            or ``sig_type`` is unsupported.
    """
    if seed is None:
        seed = nacl.utils.random(_KEY_BYTES)
    signer = SignerKey(name, sig_type, seed)
    return signer.to_text(), signer.verifier_key().to_text()


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _parse_key_fields(hash16: str, key64: str, what: str) -> tuple[int, int, bytes]:
    if not _HEX_KEY_ID.fullmatch(hash16):
        raise MalformedNoteError(f"{what}: expected an 8-hex-digit key ID")
    try:
        raw = b64_decode(key64)
    except ValueError as exc:
        raise MalformedNoteError(f"{what}: expected canonical base64 key data") from exc
    if not raw:
        raise MalformedNoteError(f"{what}: expected key data, found none")
    return int(hash16, 16), raw[0], raw[1:]


def decode(note: str | bytes) -> str:
    try:
        if isinstance(note, bytes):
            return note.decode("utf-8")
        note.encode("utf-8")  # a str may hold lone surrogates, which UTF-8 cannot encode
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise MalformedNoteError(f"note: expected valid UTF-8, found {exc.reason}") from exc
    return note


def check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedNoteError("note text: expected text ending in a newline")
    if (bad := CONTROL.search(decode(text))) is not None:
        raise MalformedNoteError(f"note text: expected no control character, found {bad.group()!r}")


def check_name(name: str, what: str, *, quote: bool = True) -> None:
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(c in _WHITE_SPACE for c in name)
        or any("\ud800" <= c <= "\udfff" for c in name)
    ):
        found = f", found {name!r}" if quote else ""
        raise MalformedNoteError(f"{what}: expected a non-empty name without spaces or '+'{found}")


def check_uint32(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise MalformedNoteError(f"{what}: expected a uint32, found {value!r}")


def _check_key(sig_type: int, key: bytes, what: str) -> None:
    if isinstance(sig_type, bool) or sig_type not in _TYPE_NAMES:
        found = f"0x{sig_type:02x}" if isinstance(sig_type, int) else repr(sig_type)
        raise MalformedNoteError(
            f"{what}: expected type 0x01 or 0x04, found {found}", reason="unknown_key_type"
        )
    if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
        size = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise MalformedNoteError(f"{what}: expected a 32-byte key, found {size}")
