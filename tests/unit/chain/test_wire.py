"""The transport wire format: topics, status messages, receipts (design.md section 4)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.errors import MalformedWireError
from chain.wire import (
    MAX_RECEIPT_RANGES,
    Receipt,
    committed_ranges,
    entry_topic,
    parse_receipt,
    parse_status,
    parse_topic,
    receipt_topic,
    status_payload,
    status_topic,
    subscription,
)


def test_topics_round_trip() -> None:
    builders = ((entry_topic, "entry"), (status_topic, "status"), (receipt_topic, "receipt"))
    for build, kind in builders:
        topic = build("farm-1", "b1-temp")
        assert topic == f"farmtrace/farm-1/b1-temp/{kind}"
        parts = parse_topic(topic)
        assert (parts.farm, parts.device, parts.kind) == ("farm-1", "b1-temp", kind)
    assert subscription("farm-1", "entry") == "farmtrace/farm-1/+/entry"


@pytest.mark.parametrize(
    "topic",
    [
        "farmtrace/f/d/other",
        "farmtrace/f/d/entry/extra",
        "farmtrace/f/+/entry",
        "farmtrace/f/#",
        "other/f/d/entry",
        "farmtrace/f/a:b/entry",
        "",
    ],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(MalformedWireError):
        parse_topic(topic)


@pytest.mark.parametrize("device", ["", "a/b", "+", "#", "a:b", "x" * 65])
def test_bad_ids_make_no_topic(device: str) -> None:
    with pytest.raises(MalformedWireError):
        entry_topic("farm", device)


def test_status_round_trip_and_refusals() -> None:
    for status in ("online", "offline"):
        assert parse_status(status_payload(status)) == status
    for bad in (b"", b"online", b'{"status":"asleep"}', b"[]", b"\xff"):
        with pytest.raises(MalformedWireError):
            parse_status(bad)
    with pytest.raises(ValueError):
        status_payload("asleep")


def test_receipt_round_trip_and_cover() -> None:
    receipt = Receipt("b1-temp", 5, 2, ((7, 9), (12, 12)))
    assert receipt.to_json() == b'{"dev":"b1-temp","seq":5,"block":2,"ranges":[[7,9],[12,12]]}'
    assert parse_receipt(receipt.to_json()) == receipt
    assert [s for s in range(1, 15) if receipt.covers(s)] == [1, 2, 3, 4, 5, 7, 8, 9, 12]
    assert Receipt("d", 0, None).covers(1) is False


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"dev":"d","seq":1,"block":0}',  # no ranges
        b'{"dev":"d","seq":1,"block":0,"ranges":[],"extra":1}',
        b'{"dev":"d","seq":-1,"block":0,"ranges":[]}',
        b'{"dev":"d","seq":1.0,"block":0,"ranges":[]}',
        b'{"dev":"d","seq":true,"block":0,"ranges":[]}',
        b'{"dev":"d","seq":0,"block":3,"ranges":[]}',  # a block for nothing
        b'{"dev":"d","seq":2,"block":null,"ranges":[]}',  # committed but no block
        b'{"dev":"d","seq":2,"block":0,"ranges":[[3,4]]}',  # adjacent to seq: no gap
        b'{"dev":"d","seq":2,"block":0,"ranges":[[6,5]]}',
        b'{"dev":"d","seq":2,"block":0,"ranges":[[5,7],[7,9]]}',  # overlapping
        b'{"dev":"d","seq":2,"block":0,"ranges":[[9,10],[5,6]]}',  # descending
        b'{"dev":"d","seq":2,"block":0,"ranges":[[5]]}',
        b'{"dev":"a/b","seq":0,"block":null,"ranges":[]}',
        b'{"dev":7,"seq":0,"block":null,"ranges":[]}',
        b" " * 5000,
    ],
)
def test_malformed_receipts_are_refused(payload: bytes) -> None:
    with pytest.raises(MalformedWireError):
        parse_receipt(payload)


def test_receipt_range_count_is_bounded() -> None:
    ranges = tuple((10 * i, 10 * i) for i in range(1, MAX_RECEIPT_RANGES + 2))
    with pytest.raises(MalformedWireError, match="ranges"):
        Receipt("d", 0, None, ranges)
    Receipt("d", 0, None, ranges[:MAX_RECEIPT_RANGES])


@given(st.sets(st.integers(min_value=1, max_value=200)))
def test_committed_ranges_cover_exactly_the_seqs(seqs: set[int]) -> None:
    runs = committed_ranges(sorted(seqs))
    assert {s for first, last in runs for s in range(first, last + 1)} == seqs
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(runs))
