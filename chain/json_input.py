"""The one JSON loader for bytes that come from outside (RFC 8259, strict).

Every parser of outside bytes (entries, device status, receipts, serial
lines, read-API answers, witness requests) decodes JSON through
:func:`load_json` or :func:`load_json_object`, so that no input, however
hostile, gets further than a typed :class:`~chain.errors.MalformedError`:

* at most ``max_bytes`` bytes, strict UTF-8, no byte order mark;
* at most ``max_depth`` nested arrays and objects (checked before decoding,
  so deep nesting never reaches the recursive decoder);
* integers of at most :data:`MAX_INT_DIGITS` digits, finite numbers only
  (no ``NaN``/``Infinity``, nor a literal like ``1e999999`` that overflows);
* no duplicate member names, at any depth.

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from chain.errors import MalformedError

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_JSON_BYTES",
    "load_json",
    "load_json_object",
]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (our formats need fewer than 8)."""

MAX_INT_DIGITS = 40
"""Most digits an integer may have (2**128 has 39); Python's own limit is 4300."""

MAX_JSON_BYTES = 1024 * 1024
"""The default size bound; callers with bigger documents (read-API blocks) pass their own."""

_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
# A string literal (so that brackets inside it are not counted), or a bracket. The
# closing quote is optional, so that no match ever fails and backtracks: the scan
# stays linear even on unterminated strings full of escaped quotes.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*"?|[\[\]{}]', re.S)


class _JsonDefect(Exception):
    """Internal: a defect found by a decoder hook, reported by :func:`load_json`."""


def load_json(
    data: bytes,
    what: str,
    *,
    error: type[MalformedError] = MalformedError,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Decode ``data`` as one strict JSON value (see the module docstring for the bounds).

    Raises:
        MalformedError: of class ``error``, its message starting with
            ``what``, for any input that breaks a rule or is not JSON.
    """
    if len(data) > max_bytes:
        raise error(f"{what}: expected at most {max_bytes} bytes of JSON, found {len(data)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what}: expected UTF-8, found {exc.reason}") from None
    try:
        if text.startswith("\ufeff"):  # worded as json.loads words it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        _check_depth(text, max_depth)
        return _DECODER.decode(text)
    except RecursionError:  # only if the caller's own stack is nearly exhausted
        raise error(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise error(f"{what}: expected JSON, found error: {exc}") from None
    except _JsonDefect as exc:
        raise error(f"{what}: {exc}") from None


def load_json_object(
    data: bytes,
    what: str,
    *,
    error: type[MalformedError] = MalformedError,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """:func:`load_json`, requiring a JSON object at the top.

    Raises:
        MalformedError: of class ``error``, as :func:`load_json`, or when the
            value is not an object.
    """
    value = load_json(data, what, error=error, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise error(f"{what}: expected a JSON object, found {_JSON_TYPES[type(value)]}")
    return value


def _check_depth(text: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:  # cheap: most inputs stop here
        return
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match[0]
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise _JsonDefect(f"expected JSON nested at most {max_depth} deep, found deeper")
        elif token in "]}":
            depth -= 1


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _JsonDefect(f"expected unique member names, found {name!r} twice")
            seen.add(name)
    return obj


def _reject_constant(name: str) -> Any:
    raise _JsonDefect(f"expected a finite number, found {name}")


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonDefect(
            f"expected an integer of at most {MAX_INT_DIGITS} digits, found {len(literal)}"
        )
    return int(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _JsonDefect(f"expected a finite number, found {literal[:40]}")
    return value


# One shared (stateless) decoder: building one per call costs more than the hooks.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_members,
    parse_constant=_reject_constant,
    parse_int=_bounded_int,
    parse_float=_finite_float,
)
