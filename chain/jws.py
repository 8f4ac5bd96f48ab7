"""Strict JWS compact serialization with EdDSA / Ed25519 (design.md section 2).

Implements the one profile of RFC 7515 (JSON Web Signature) that farmtrace
entries use: the compact serialization (RFC 7515 section 7.1) with the
``EdDSA`` algorithm over Ed25519 (RFC 8037 section 3.1, RFC 8032 section 5.1)::

    BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)

The protected header is exactly ``{"alg":"EdDSA","kid":"<signer id>"}``. Parsing
is deliberately narrower than RFC 7515 allows: ASCII only, canonical unpadded
base64url in every part, no duplicate JSON members, no header member other
than ``alg`` and ``kid`` (so no ``crit``, ``jwk``, ``b64`` ...), a 64-byte
signature and at most :data:`MAX_ENTRY_BYTES` in all. So the signed bytes
have exactly one accepted compact form, and nothing beyond ``alg`` and ``kid``
can change how an entry is read: the log stores received bytes as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import nacl.bindings
import nacl.exceptions

from chain._encoding import b64url_decode, b64url_encode
from chain.errors import MalformedEntryError, SignatureError
from chain.json_input import load_json_object

__all__ = [
    "ALG",
    "ID_PATTERN",
    "MAX_ENTRY_BYTES",
    "JwsFields",
    "ParsedJws",
    "canonical_header",
    "check_id",
    "loads_json_object",
    "parse_compact",
    "parse_compact_fields",
    "sign_compact",
    "verify_compact",
    "verify_signature",
]

MAX_ENTRY_BYTES = 4096
"""Largest accepted compact JWS, in bytes (the whole ``header.payload.signature``)."""

ALG = "EdDSA"
"""The only accepted ``alg`` header value (RFC 8037 section 3.1)."""

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
"""Signer, device, operator and farm ids: MQTT topic levels, so no ``/ + # :``."""

_SIGNATURE_BYTES = 64
_SIGNATURE_B64_CHARS = 86
_KEY_BYTES = 32
_HEADER_MEMBERS = frozenset({"alg", "kid"})
_ID = re.compile(ID_PATTERN)
# ParsedJws's fields, in order: kid, header, payload, signing_input, signature.
JwsFields = tuple[str, tuple[tuple[str, str], ...], bytes, bytes, bytes]


@dataclass(frozen=True, slots=True)
class ParsedJws:
    """A compact JWS that passed :func:`parse_compact`; its signature is NOT yet verified.

    ``header`` holds the protected header's members as ``(name, value)`` pairs
    in received order; ``signing_input`` is the ASCII ``header.payload`` prefix
    of the received bytes, over which ``signature`` was made.
    """

    kid: str
    header: tuple[tuple[str, str], ...]
    payload: bytes
    signing_input: bytes
    signature: bytes


def check_id(value: object, field: str) -> str:
    """Return ``value`` if it is a farmtrace id (a string matching :data:`ID_PATTERN`).

    Raises:
        MalformedEntryError: naming ``field`` when ``value`` is not such a string.
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise MalformedEntryError(f"{field}: expected an id matching {ID_PATTERN}, found {value!r}")
    return value


def loads_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Decode ``data`` as one strict UTF-8 JSON object (RFC 8259).

    :func:`chain.json_input.load_json_object`: rejects invalid UTF-8
    (including a BOM), duplicate member names at any depth, ``NaN``/``Infinity``
    and overflowing numbers, deep nesting, huge integers and any top-level
    value that is not an object.

    Raises:
        MalformedEntryError: naming ``what`` and the defect.
    """
    return load_json_object(data, what, error=MalformedEntryError)


def sign_compact(payload: bytes, kid: str, seed: bytes) -> bytes:
    """Sign ``payload`` as a compact JWS with header ``{"alg":"EdDSA","kid":kid}``.

    ``seed`` is the 32-byte Ed25519 private seed (RFC 8032 section 5.1.5). The
    result is ASCII bytes without a trailing newline, and is accepted by
    :func:`parse_compact`.

    Raises:
        ValueError: if ``seed`` is not 32 bytes.
        MalformedEntryError: if ``kid`` is not an id, or the JWS would exceed
            :data:`MAX_ENTRY_BYTES`.
    """
    check_id(kid, "kid")
    if len(seed) != nacl.bindings.crypto_sign_SEEDBYTES:
        raise ValueError(f"seed: expected 32 bytes, found {len(seed)}")
    signing_input = f"{b64url_encode(canonical_header(kid))}.{b64url_encode(payload)}".encode()
    size = len(signing_input) + 1 + _SIGNATURE_B64_CHARS
    if size > MAX_ENTRY_BYTES:
        raise MalformedEntryError(
            f"entry: expected at most {MAX_ENTRY_BYTES} bytes, would be {size}"
        )
    _, secret_key = nacl.bindings.crypto_sign_seed_keypair(seed)
    signature = nacl.bindings.crypto_sign(signing_input, secret_key)[:_SIGNATURE_BYTES]
    return signing_input + b"." + b64url_encode(signature).encode()


def parse_compact(raw: bytes) -> ParsedJws:
    """Parse ``raw`` as a strict farmtrace compact JWS, without checking the signature.

    Raises:
        MalformedEntryError: if ``raw`` is larger than :data:`MAX_ENTRY_BYTES`,
            not ASCII, not three ``.``-separated canonical unpadded base64url
            parts, its header is not exactly ``alg`` = ``"EdDSA"`` plus an id
            ``kid``, or its signature is not 64 bytes.
    """
    return ParsedJws(*parse_compact_fields(raw))


def parse_compact_fields(raw: bytes) -> JwsFields:
    """:func:`parse_compact`'s work, returned as :class:`ParsedJws`'s fields in order.

    For hot paths (:func:`chain.entries.parse_entry`) that need the fields
    without building a ParsedJws per entry. Raises what parse_compact raises.
    """
    if len(raw) > MAX_ENTRY_BYTES:
        raise MalformedEntryError(
            f"entry: expected at most {MAX_ENTRY_BYTES} bytes, found {len(raw)}"
        )
    if not raw.isascii():
        raise MalformedEntryError("entry: expected ASCII, found a non-ASCII byte")
    parts = raw.decode("ascii").split(".")
    if len(parts) != 3:
        raise MalformedEntryError(f"entry: expected 3 '.'-separated parts, found {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    kid, header = _parse_header(header_b64)
    payload = _decode_part(payload_b64, "payload")
    signature = _decode_part(signature_b64, "signature")
    if len(signature) != _SIGNATURE_BYTES:
        raise MalformedEntryError(
            f"signature: expected {_SIGNATURE_BYTES} bytes, found {len(signature)}"
        )
    signing_input = raw[: len(header_b64) + 1 + len(payload_b64)]
    return kid, header, payload, signing_input, signature


def verify_compact(parsed: ParsedJws, public_key: bytes) -> None:
    """Check ``parsed.signature`` over ``parsed.signing_input`` with Ed25519 ``public_key``.

    Precondition: ``parsed`` came from :func:`parse_compact`. ``public_key`` is
    the raw 32-byte Ed25519 public key (RFC 8032 section 5.1.5).

    Raises:
        MalformedEntryError: if ``public_key`` is not 32 bytes.
        SignatureError: if the signature does not verify.
    """
    verify_signature(parsed.signing_input, parsed.signature, public_key, parsed.kid)


def verify_signature(
    signing_input: bytes, signature: bytes, public_key: bytes, signer: str
) -> None:
    """Check an Ed25519 ``signature`` over ``signing_input`` (RFC 8032 section 5.1.7).

    The primitive under :func:`verify_compact`, for callers that keep the
    signing input and signature but not the parsed header. ``signer`` only
    names the key in the error message.

    Raises:
        MalformedEntryError: if ``public_key`` is not 32 bytes or ``signature``
            not 64 bytes.
        SignatureError: if the signature does not verify.
    """
    if len(signature) != _SIGNATURE_BYTES:
        raise MalformedEntryError(
            f"signature: expected {_SIGNATURE_BYTES} bytes, found {len(signature)}"
        )
    if not isinstance(public_key, bytes) or len(public_key) != _KEY_BYTES:
        found = len(public_key) if isinstance(public_key, bytes) else type(public_key).__name__
        raise MalformedEntryError(f"public key: expected {_KEY_BYTES} bytes, found {found}")
    try:
        nacl.bindings.crypto_sign_open(signature + signing_input, public_key)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError(
            f"signature: expected a valid Ed25519 signature by {signer!r}, found an invalid one"
        ) from exc


def _decode_part(text: str, what: str) -> bytes:
    try:
        return b64url_decode(text)
    except ValueError as exc:
        raise MalformedEntryError(
            f"{what}: expected canonical unpadded base64url ({exc})"
        ) from None


@lru_cache(maxsize=4096)
def _parse_header(header_b64: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    # Cached: a device signs every entry with the same header, so an audit of
    # millions of entries decodes each distinct header once.
    data = _decode_part(header_b64, "header")
    header = loads_json_object(data, "header")
    if header.keys() != _HEADER_MEMBERS:
        found = ", ".join(sorted(header)) or "none"
        raise MalformedEntryError(f"header: expected exactly the members alg, kid; found {found}")
    alg = header["alg"]
    if alg != ALG:
        raise MalformedEntryError(f"header: expected alg {ALG!r}, found {alg!r}")
    kid = check_id(header["kid"], "header kid")
    canonical = canonical_header(kid)
    if data != canonical:  # design.md section 2: one byte form, as every verifier demands
        raise MalformedEntryError(
            f"header: expected exactly the bytes {canonical.decode()}, found {_shown(data)}"
        )
    return kid, tuple(header.items())


def canonical_header(kid: str) -> bytes:
    """The one accepted protected header of ``kid``: ``{"alg":"EdDSA","kid":"<kid>"}``.

    Precondition: ``kid`` matches :data:`ID_PATTERN` (so it needs no JSON escape).
    """
    return f'{{"alg":"{ALG}","kid":"{kid}"}}'.encode("ascii")


def _shown(data: bytes) -> str:
    text = data.decode("utf-8", "backslashreplace")
    return text if len(text) <= 100 else text[:97] + "..."
