"""Issue 11 wire parts: the device status with ``low``, receipts that name entries by hash."""

from __future__ import annotations

import hashlib

import pytest

from chain.errors import MalformedWireError
from chain.wire import (
    MAX_RECEIPT_HASHES,
    MAX_RECEIPT_RANGES,
    DeviceStatus,
    Receipt,
    entry_digest,
    parse_device_status,
    parse_receipt,
    parse_status,
)

BIG = 2**53 - 1


def test_a_full_status_round_trips_and_a_plain_one_is_still_accepted() -> None:
    status = DeviceStatus("online", outbox=3, oldest_ts=1_767_225_600_000, fw="fw/1.2", low=41)
    payload = status.to_json()
    assert payload == (
        b'{"status":"online","outbox":3,"oldest_ts":1767225600000,"fw":"fw/1.2","low":41}'
    )
    assert parse_device_status(payload) == status and parse_status(payload) == "online"
    assert DeviceStatus("online", outbox=0).to_json() == (
        b'{"status":"online","outbox":0,"oldest_ts":null,"low":null}'
    )
    assert parse_device_status(b'{"status":"online"}') == DeviceStatus("online")
    assert parse_device_status(b'{"status":"offline","extra":[1]}') == DeviceStatus("offline")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"status":"online","low":0}',
        b'{"status":"online","low":-1}',
        b'{"status":"online","low":1.5}',
        b'{"status":"online","low":"7"}',
        b'{"status":"online","low":true}',
        b'{"status":"online","low":9007199254740992}',
        b'{"status":"online","outbox":-3}',
        b'{"status":"online","oldest_ts":"soon"}',
        b'{"status":"online","fw":""}',
        b'{"status":"online","fw":"a\\nb"}',
        b'{"status":"online","fw":7}',
        b'{"status":"asleep","low":3}',
    ],
)
def test_a_status_with_a_bad_member_is_refused(payload: bytes) -> None:
    with pytest.raises(MalformedWireError):
        parse_device_status(payload)


def test_receipts_name_entries_by_the_sha256_of_their_exact_bytes() -> None:
    digest = entry_digest(b"a.b.c")
    assert digest == hashlib.sha256(b"a.b.c").hexdigest()
    receipt = Receipt("b1-temp", 5, 2, ((7, 9),), ((9, digest),))
    assert receipt.to_json() == (
        b'{"dev":"b1-temp","seq":5,"block":2,"ranges":[[7,9]],"hashes":[[9,"'
        + digest.encode()
        + b'"]]}'
    )
    assert parse_receipt(receipt.to_json()) == receipt
    assert receipt.names(9, digest) and not receipt.names(8, digest)
    assert not receipt.names(9, entry_digest(b"a.b.d"))
    # the v2 form, without hashes, still reads (and is still written when there are none)
    plain = b'{"dev":"b1-temp","seq":5,"block":2,"ranges":[[7,9]]}'
    assert parse_receipt(plain) == Receipt("b1-temp", 5, 2, ((7, 9),))
    assert Receipt("b1-temp", 5, 2, ((7, 9),)).to_json() == plain


@pytest.mark.parametrize(
    "hashes",
    [
        b'"x"',
        b"[[1]]",
        b'[[1,"' + b"A" * 64 + b'"]]',  # upper case
        b'[[1,"' + b"a" * 63 + b'"]]',
        b'[[0,"' + b"a" * 64 + b'"]]',
        b'[["1","' + b"a" * 64 + b'"]]',
        b'[[1,"' + b"a" * 64 + b'"],[1,"' + b"b" * 64 + b'"]]',  # two entries for one seq
    ],
)
def test_bad_hashes_are_refused(hashes: bytes) -> None:
    with pytest.raises(MalformedWireError):
        parse_receipt(b'{"dev":"d","seq":1,"block":0,"ranges":[],"hashes":' + hashes + b"}")


def test_the_largest_receipt_fits_the_receipt_size_limit() -> None:
    ranges = tuple((BIG - 100 + 3 * i, BIG - 100 + 3 * i + 1) for i in range(MAX_RECEIPT_RANGES))
    hashes = tuple((BIG - i, "f" * 64) for i in range(MAX_RECEIPT_HASHES))
    receipt = Receipt("d" * 64, BIG - 200, BIG, ranges, hashes)
    assert parse_receipt(receipt.to_json()) == receipt
    with pytest.raises(MalformedWireError, match="hashes"):
        Receipt("d", 0, None, (), (*hashes, (1, "f" * 64)))
