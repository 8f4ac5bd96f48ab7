"""The audit's fast paths give exactly what the plain code they replace gives."""

from __future__ import annotations

import base64
import binascii
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain import merkle
from chain._encoding import b64url_decode, b64url_encode
from chain.audit._blocks import entries_root
from chain.errors import MalformedEntryError
from chain.jws import loads_json_object


def _reference_b64url_decode(text: str) -> bytes:
    """The straightforward decoder: alphabet, length, decode, re-encode."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not unpadded base64url")
    if len(text) % 4 == 1:
        raise ValueError("impossible base64url length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise ValueError("non-canonical base64url (unused bits set)")
    return data


def _outcome(decode: object, text: object) -> tuple[str, object]:
    try:
        return "ok", decode(text)  # type: ignore[operator]
    except (ValueError, TypeError, binascii.Error) as exc:
        return type(exc).__name__, str(exc)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.text(alphabet=_ALPHABET + "=+/ .\n\x00é", max_size=14))
def test_b64url_decode_matches_the_reference_on_any_text(text: str) -> None:
    assert _outcome(b64url_decode, text) == _outcome(_reference_b64url_decode, text)


@given(st.binary(max_size=40), st.integers(min_value=0), st.sampled_from(_ALPHABET + "=+"))
def test_b64url_decode_matches_the_reference_on_one_changed_character(
    data: bytes, where: int, char: str
) -> None:
    text = b64url_encode(data)
    if text:
        i = where % len(text)
        text = text[:i] + char + text[i + 1 :]
    assert _outcome(b64url_decode, text) == _outcome(_reference_b64url_decode, text)


@pytest.mark.parametrize("wrong", [None, 5, b"Zm9v"])
def test_b64url_decode_rejects_what_is_not_a_string_as_before(wrong: object) -> None:
    assert _outcome(b64url_decode, wrong)[0] == "TypeError"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),
        (b" {} x", "Extra data"),
        (b"  ", "Expecting value"),
        (b'{"a":1,"a":1}', "found 'a' twice"),
    ],
)
def test_payload_json_errors_read_as_json_loads_words_them(data: bytes, message: str) -> None:
    with pytest.raises(MalformedEntryError, match=message):
        loads_json_object(data, "payload")


def test_payload_json_allows_surrounding_white_space() -> None:
    assert loads_json_object(b' \n{"a": [1, "b"]}\t', "payload") == {"a": [1, "b"]}


@pytest.mark.parametrize("count", [*range(1, 34), 63, 64, 65, 500, 1000])
def test_entries_root_is_the_rfc6962_root(count: int) -> None:
    leaves = [f"entry {i}".encode() for i in range(count)]
    assert entries_root(leaves) == merkle.root_hash(leaves)
    changed = [*leaves[:-1], b"entry x"]
    assert entries_root(changed) != merkle.root_hash(leaves)
