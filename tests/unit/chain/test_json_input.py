"""chain.json_input: any outside bytes give a JSON value or a typed MalformedError (issue 11)."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.errors import MalformedBlockError, MalformedError, MalformedWireError
from chain.json_input import MAX_DEPTH, MAX_INT_DIGITS, load_json, load_json_object
from chain.wire import parse_receipt, parse_status

POISON = [
    (b'{"status":"online","x":' + b"[" * 1500 + b"]" * 1500 + b"}", "nested at most 64 deep"),
    (b"[" * 100_000, "nested at most 64 deep"),
    (b'{"a":' * 5000, "nested at most 64 deep"),
    (b'{"a":1e999999}', "finite number, found 1e999999"),
    (b'{"a":-1e999999}', "finite number, found -1e999999"),
    (b'{"a":' + b"1" * 400 + b".0}", "finite number"),
    (b'{"a":' + b"9" * 5000 + b"}", "at most 40 digits, found 5000"),
    (b'{"a":-' + b"9" * 41 + b"}", "at most 40 digits"),
    (b'{"a":NaN}', "finite number, found NaN"),
    (b'{"a":"\xff"}', "expected UTF-8"),
    (b'{"a":"\xed\xa0\x80"}', "expected UTF-8"),  # an encoded surrogate
    (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),
    (b'{"a":1,"a":2}', "'a' twice"),
    (b"", "expected JSON"),
    (b"[1]", "expected a JSON object, found array"),
]


@pytest.mark.parametrize(("data", "message"), POISON)
def test_poison_raises_the_callers_error_class(data: bytes, message: str) -> None:
    with pytest.raises(MalformedBlockError, match=message) as caught:
        load_json_object(data, "thing", error=MalformedBlockError)
    assert str(caught.value).startswith("thing: ")


def test_the_bounds_are_exact() -> None:
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "x") is not None
    with pytest.raises(MalformedError, match="nested"):
        load_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "x")
    assert load_json(b"9" * MAX_INT_DIGITS, "x") == int("9" * MAX_INT_DIGITS)
    assert load_json(b"-" + b"9" * MAX_INT_DIGITS, "x") == -int("9" * MAX_INT_DIGITS)
    assert load_json(b"1.7976931348623157e308", "x") == 1.7976931348623157e308
    assert load_json(b'"' + b"x" * 98 + b'"', "x", max_bytes=100) == "x" * 98
    with pytest.raises(MalformedError, match="at most 100 bytes of JSON, found 101"):
        load_json(b'"' + b"x" * 99 + b'"', "x", max_bytes=100)


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = {"a": "[" * 500 + '\\"{' * 100, "b": ["]]]", "{{{"]}
    assert load_json_object(json.dumps(text).encode(), "x") == text


def test_status_and_receipt_parsers_use_it() -> None:
    nested = b'{"status":"online","x":' + b"[" * 1500 + b"]" * 1500 + b"}"
    for parse in (parse_status, parse_receipt):
        with pytest.raises(MalformedWireError, match="nested"):
            parse(nested)
        with pytest.raises(MalformedWireError, match="finite number"):
            parse(b'{"status":"online","seq":1e999999}')
        with pytest.raises(MalformedWireError, match="UTF-8"):
            parse(b'{"status":"\xff"}')


JSONISH = st.lists(
    st.sampled_from(
        [
            b"[",
            b"]",
            b"{",
            b"}",
            b'"',
            b"\\",
            b":",
            b",",
            b"1",
            b"e999",
            b"-",
            b".5",
            b"null",
            b"NaN",
            b"\xff",
            b"\xc3",
            b" ",
            b'"a"',
            b"9" * 45,
        ]
    ),
    max_size=200,
).map(b"".join)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**127), 2**127) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(st.binary(max_size=300) | JSONISH)
def test_any_bytes_give_a_value_or_a_malformed_error(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        load_json(data, "x")


@given(VALUES)
def test_what_json_dumps_writes_loads_back(value: object) -> None:
    assert load_json(json.dumps(value).encode(), "x") == value


@pytest.mark.parametrize("filler", [b'\\"', b'"\\', b'"\\\\\\['])
def test_the_depth_scan_is_linear_on_unterminated_strings(filler: bytes) -> None:
    # 100k escaped quotes: a backtracking scan restarts at each one (quadratic: minutes).
    data = b"[]" * 70 + b'"' + filler * 100_000
    started = time.monotonic()
    with pytest.raises(MalformedError):
        load_json(data, "x")
    assert time.monotonic() - started < 10
