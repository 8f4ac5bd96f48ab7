"""Strict base64 codecs.

Python's ``base64`` module is lenient (it skips stray characters, accepts
either alphabet with ``altchars`` tricks, tolerates non-canonical trailing
bits). Signed formats must have exactly one encoding per value, so these
helpers reject everything but the canonical form.
"""

from __future__ import annotations

import base64
import binascii
import re

_B64URL_NOPAD = re.compile(r"[A-Za-z0-9_-]*")
# URL-safe to standard alphabet; "+", "/" and "=" become "!", which strict
# binascii decoding rejects, as it rejects every other stray character.
_URLSAFE_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
# The last character of a canonical encoding leaves no unused bit set: with 2
# (or 3) characters in the final group, its 6-bit value is a multiple of 16 (4).
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = ("", "", _B64URL_ALPHABET[::16], _B64URL_ALPHABET[::4])
_B64_STD = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 section 2), canonical form only.

    Raises:
        ValueError: on padding, characters outside the URL-safe alphabet, an
            impossible length, or non-zero unused trailing bits.
    """
    try:  # the common, valid case in one pass; a failure is explained below
        rest = len(text) % 4
        data = binascii.a2b_base64(
            text.encode("ascii").translate(_URLSAFE_TO_STD) + _PADDING[rest], strict_mode=True
        )
    except (TypeError, AttributeError, UnicodeEncodeError, binascii.Error):
        if not _B64URL_NOPAD.fullmatch(text):  # raises TypeError for a non-string
            raise ValueError("not unpadded base64url") from None
        raise ValueError("impossible base64url length") from None
    if rest and text[-1] not in _CANONICAL_LAST[rest]:
        raise ValueError("non-canonical base64url (unused bits set)")
    return data


def b64_encode(data: bytes) -> str:
    """Encode ``data`` as standard, padded base64 (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(text: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 section 4), canonical form only.

    Raises:
        ValueError: on a missing or extra ``=``, URL-safe or other characters,
            or non-zero unused trailing bits.
    """
    if not _B64_STD.fullmatch(text):
        raise ValueError("not padded standard base64")
    data = base64.b64decode(text, validate=True)
    if b64_encode(data) != text:
        raise ValueError("non-canonical base64 (unused bits set)")
    return data
