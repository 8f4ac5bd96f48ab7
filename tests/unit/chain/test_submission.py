"""chain.submission: the HTTP submission wire (statuses, receipts, answers)."""

from __future__ import annotations

import pytest

from chain.errors import MalformedWireError
from chain.submission import (
    SubmitReceipt,
    answer_json,
    check_entry_hash,
    parse_submit_answer,
    rejection_status,
)

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("oversized", 413),
        ("unsupported_media_type", 415),
        ("malformed_entry", 400),
        ("malformed_reference", 400),
        ("value_out_of_range", 400),
        ("unknown_signer", 403),
        ("bad_signature", 403),
        ("unauthorized", 403),
        ("equivocation", 409),
        ("lifecycle_conflict", 409),
        ("ref_unavailable", 503),
        ("ref_entry_mismatch", 422),
        ("clock_skew", 422),
        ("anything_new", 422),
    ],
)
def test_each_rejection_has_one_status(reason: str, status: int) -> None:
    assert rejection_status(reason) == status


def test_a_receipt_round_trips_through_the_answer() -> None:
    receipt = SubmitReceipt(DIGEST, 7, 3, 4)
    assert parse_submit_answer(answer_json(receipt.to_dict()), DIGEST) == receipt
    assert parse_submit_answer(answer_json({"hash": DIGEST}), DIGEST) is None


@pytest.mark.parametrize(
    "doc",
    [
        {"hash": "cd" * 32},  # about another entry
        {"hash": DIGEST, "index": 1},  # a partial receipt
        {"hash": DIGEST, "index": 1, "block": 0, "size": 1, "more": 1},
        {"hash": DIGEST, "index": 1, "block": 1, "size": 1},  # the checkpoint misses the block
        {"hash": DIGEST, "index": -1, "block": 0, "size": 1},
        {"hash": DIGEST, "index": True, "block": 0, "size": 1},
        {"hash": DIGEST, "index": 1.0, "block": 0, "size": 1},
    ],
)
def test_an_answer_that_is_not_the_protocols_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(MalformedWireError):
        parse_submit_answer(answer_json(doc), DIGEST)


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b'{"hash":"' + DIGEST.encode() + b'"} x'])
def test_an_answer_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedWireError):
        parse_submit_answer(raw, DIGEST)


@pytest.mark.parametrize("text", ["", "AB" * 32, "ab" * 31, "ab" * 32 + "\n", "zz" * 32])
def test_an_entry_hash_is_64_lowercase_hex_digits(text: str) -> None:
    with pytest.raises(MalformedWireError):
        check_entry_hash(text)
    assert check_entry_hash(DIGEST) == DIGEST
