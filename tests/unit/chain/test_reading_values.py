"""The plausible values of each reading kind: ``value_out_of_range`` (issue 11 item 5)."""

from __future__ import annotations

import json

import pytest

from chain.entries import KIND_UNITS, VALUE_RANGES, parse_entry, reading_payload, sign_entry
from chain.errors import MalformedEntryError
from chain.jws import sign_compact
from chain.keyfile import SignerKey

DEV = SignerKey.generate("b1-sensor", seed=b"s" * 32)


def _raw(kind: str, value: float, unit: str) -> bytes:
    # Signed without sign_entry's validation: what a broken device could send.
    payload = reading_payload(DEV.id, 1, 1_767_225_600_000, kind, "bird:0001", value, unit)
    return sign_compact(json.dumps(payload, separators=(",", ":")).encode(), DEV.id, DEV.seed)


@pytest.mark.parametrize(
    ("kind", "value", "unit"),
    [
        ("temperature", -60, "Cel"),
        ("temperature", 21.5, "Cel"),
        ("temperature", 100, "Cel"),
        ("humidity", 0, "%RH"),
        ("humidity", 100.0, "%RH"),
        ("feed", 0.0, "kg"),
        ("feed", 1234.5, "g"),
        ("water", 0, "l"),
        ("activity", 0, "count"),
        ("activity", 17.0, "count"),  # a JSON serializer may write a count as 17.0
        ("weight", 0.042, "kg"),
        ("weight", 1000, "kg"),
        ("weight", 1_000_000, "g"),
        ("co2", -5.0, "count"),  # extension kinds have no range
    ],
)
def test_plausible_values_are_accepted(kind: str, value: float, unit: str) -> None:
    assert parse_entry(_raw(kind, value, unit)).payload["value"] == value


@pytest.mark.parametrize(
    ("kind", "value", "unit", "expected"),
    [
        ("temperature", -127, "Cel", "a number in [-60, 100] Cel"),  # a DS18B20 unplugged
        ("temperature", 100.01, "Cel", "a number in [-60, 100] Cel"),
        ("humidity", -0.1, "%RH", "a number in [0, 100] %RH"),
        ("humidity", 101, "%RH", "a number in [0, 100] %RH"),
        ("feed", -1, "kg", "a number >= 0 kg"),
        ("water", -0.5, "l", "a number >= 0 l"),
        ("activity", -1, "count", "a whole number >= 0 count"),
        ("activity", 2.5, "count", "a whole number >= 0 count"),
        ("weight", 0, "kg", "a number in (0, 1000] kg"),
        ("weight", -3, "g", "a number in (0, 1000000] g"),
        ("weight", 1001, "kg", "a number in (0, 1000] kg"),
        ("weight", 1_000_001, "g", "a number in (0, 1000000] g"),
    ],
)
def test_implausible_values_are_refused_with_their_own_reason(
    kind: str, value: float, unit: str, expected: str
) -> None:
    with pytest.raises(MalformedEntryError) as caught:
        parse_entry(_raw(kind, value, unit))
    assert caught.value.reason == "value_out_of_range"
    assert str(caught.value) == f"value: expected {expected} for kind {kind!r}, found {value}"


def test_we_never_sign_an_implausible_value() -> None:
    payload = reading_payload(DEV.id, 1, 0, "activity", "bird:9999", -1, "count")
    with pytest.raises(MalformedEntryError, match="value"):
        sign_entry(payload, DEV.id, DEV.seed)


def test_every_known_kind_has_a_range() -> None:
    assert set(VALUE_RANGES) == set(KIND_UNITS)
