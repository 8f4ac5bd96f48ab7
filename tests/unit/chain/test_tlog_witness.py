"""Tests for chain.tlog_witness: the C2SP tlog-witness request and answer formats."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from c2sp_witness_examples import SPEC_REQUEST, SPEC_RESPONSE
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chain import checkpoint, note
from chain.checkpoint import Checkpoint
from chain.errors import MalformedWitnessMessageError, SignatureError
from chain.tlog_witness import (
    MAX_PROOF_LINES,
    MAX_REQUEST_BYTES,
    AddCheckpointRequest,
    encode_size,
    merge_cosignatures,
    parse_cosignature_lines,
    parse_size,
)

ORIGIN = "farm.example/log"
LOG_SKEY, LOG_VKEY = note.generate_key(ORIGIN, seed=hashlib.sha256(b"log").digest())
W1_SKEY, W1_VKEY = checkpoint.generate_cosigner_key("w1.example", seed=bytes(range(32)))
W2_SKEY, W2_VKEY = checkpoint.generate_cosigner_key("w2.example", seed=bytes(range(1, 33)))
CP = Checkpoint(ORIGIN, 42, hashlib.sha256(b"root").digest())
SIGNED = checkpoint.sign_checkpoint(CP, LOG_SKEY)
PROOF = tuple(hashlib.sha256(bytes([i])).digest() for i in range(3))


def test_the_spec_example_request_parses_field_by_field() -> None:
    request = AddCheckpointRequest.from_bytes(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert [base64.b64encode(h).decode() for h in request.proof] == [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
    ]
    assert request.checkpoint.origin == "example.com/behind-the-sofa"
    assert request.checkpoint.size == 20852163
    assert len(note.parse(request.note).signatures) == 2
    assert request.to_bytes() == SPEC_REQUEST


def test_the_spec_example_response_parses_into_its_three_lines() -> None:
    lines = parse_cosignature_lines(SPEC_RESPONSE)
    assert [s.name for s in lines] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert all(len(s.signature) == 8 + 64 for s in lines)
    assert "".join(s.to_line() for s in lines).encode() == SPEC_RESPONSE


def test_a_request_encodes_exactly_as_the_spec_lays_it_out() -> None:
    body = AddCheckpointRequest(7, PROOF, SIGNED).to_bytes()
    expected = "old 7\n" + "".join(base64.b64encode(h).decode() + "\n" for h in PROOF) + "\n"
    assert body == (expected + SIGNED).encode()
    assert AddCheckpointRequest(0, (), SIGNED).to_bytes() == b"old 0\n\n" + SIGNED.encode()


@given(
    old=st.integers(min_value=1, max_value=2**64 - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_LINES),
)
def test_requests_round_trip(old: int, proof: list[bytes]) -> None:
    request = AddCheckpointRequest(old, tuple(proof), SIGNED)
    assert AddCheckpointRequest.from_bytes(request.to_bytes()) == request


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"old 1\n" + SIGNED.encode(), "proof line 1"),
        (b"old 1\n" + b"farm.example/log", "empty line"),
        (b"old 01\n\n" + SIGNED.encode(), "old size line"),
        (b"old -1\n\n" + SIGNED.encode(), "old size line"),
        (b"old  1\n\n" + SIGNED.encode(), "old size line"),
        (b"Old 1\n\n" + SIGNED.encode(), "old size line"),
        (b"old 18446744073709551616\n\n" + SIGNED.encode(), "old size"),
        (b"old 1\nAAAA\n\n" + SIGNED.encode(), "32-byte"),
        (b"old 1\nnot base64!\n\n" + SIGNED.encode(), "base64"),
        (b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + SIGNED.encode(), "old size 0"),
        (b"old 1\n\n" + b"farm.example/log\n42\n", "checkpoint"),
        (b"old 1\n\nnot a checkpoint\n\n\xe2\x80\x94 x AAAAAAA=\n", "checkpoint"),
        (b"old 1\n\n\xff" + SIGNED.encode(), "UTF-8"),
        (b"old 1\n\n" + SIGNED.encode() + b"x" * MAX_REQUEST_BYTES, "at most"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(MalformedWitnessMessageError, match=message) as caught:
        AddCheckpointRequest.from_bytes(body)
    assert caught.value.reason == "malformed_witness_message"


def test_more_than_63_proof_lines_are_refused() -> None:
    lines = b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(MAX_PROOF_LINES + 1))
    with pytest.raises(MalformedWitnessMessageError, match="at most 63"):
        AddCheckpointRequest.from_bytes(b"old 5\n" + lines + b"\n" + SIGNED.encode())
    with pytest.raises(MalformedWitnessMessageError, match="at most 63"):
        AddCheckpointRequest(5, (bytes(32),) * 64, SIGNED)


def test_sizes_encode_and_parse_as_one_decimal_line() -> None:
    assert encode_size(0) == b"0\n"
    assert encode_size(20852014) == b"20852014\n"
    assert parse_size(b"20852014\n") == 20852014
    for bad in (b"", b"12", b"012\n", b"-1\n", b"1 2\n", b"one\n"):
        with pytest.raises(MalformedWitnessMessageError):
            parse_size(bad)


def test_malformed_answers_are_refused() -> None:
    for bad in (b"", b"\n", b"no dash line\n", "— w1 AAAA\n".encode(), b"\xff\n"):
        with pytest.raises(MalformedWitnessMessageError):
            parse_cosignature_lines(bad)
    one = checkpoint.cosign(CP.to_text(), W1_SKEY, 1).encode()
    with pytest.raises(MalformedWitnessMessageError, match="newline"):
        parse_cosignature_lines(one[:-1])


def test_merge_adds_known_cosignatures_and_ignores_unknown_ones() -> None:
    lines = checkpoint.cosign(CP.to_text(), W1_SKEY, 1_700_000_000) + checkpoint.cosign(
        CP.to_text(), W2_SKEY, 1_700_000_001
    )
    merged, added = merge_cosignatures(SIGNED, parse_cosignature_lines(lines.encode()), [W1_VKEY])
    assert added == {"w1.example": 1_700_000_000}
    assert checkpoint.verify_cosignatures(merged, [W1_VKEY, W2_VKEY]) == added
    assert checkpoint.open_checkpoint(merged, LOG_VKEY) == CP
    again, _ = merge_cosignatures(merged, parse_cosignature_lines(lines.encode()), [W1_VKEY])
    assert again == merged  # a line of the same key replaces, never duplicates


def test_a_bad_cosignature_from_a_known_witness_raises() -> None:
    line = checkpoint.cosign(CP.to_text(), W1_SKEY, 5)
    other = Checkpoint(ORIGIN, 43, CP.root_hash)
    forged = checkpoint.cosign(other.to_text(), W1_SKEY, 5)  # W1's key, another checkpoint
    assert line != forged
    with pytest.raises(SignatureError):
        merge_cosignatures(SIGNED, parse_cosignature_lines(forged.encode()), [W1_VKEY])


def test_a_cosignature_made_by_an_independent_implementation_merges() -> None:
    """Build W1's cosignature with `cryptography` straight from tlog-cosignature's text."""
    seed = bytes(range(32))
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes_raw()
    key_id = hashlib.sha256(b"w1.example\n\x04" + public).digest()[:4]
    timestamp = 1_679_315_147
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + CP.to_text().encode()
    raw = key_id + timestamp.to_bytes(8, "big") + private.sign(message)
    line = f"— w1.example {base64.b64encode(raw).decode()}\n".encode()
    merged, added = merge_cosignatures(SIGNED, parse_cosignature_lines(line), [W1_VKEY])
    assert added == {"w1.example": timestamp}
    assert merged.endswith(line.decode())


def test_real_world_cosignatures_move_onto_a_bare_note() -> None:
    """Arche 2025h1's checkpoint: strip the witness lines, merge them back from an 'answer'."""
    data = json.loads(
        (Path(__file__).parent / "data" / "checkpoint_arche2025h1_cosigned.json").read_text()
    )
    parsed = note.parse(data["note"])
    log_key = note.parse_verifier_key(data["log_verifier_key"])
    witness_key = note.parse_verifier_key(data["witness_verifier_key"])
    own = [s for s in parsed.signatures if s.key_id == log_key.key_id]
    bare = note.Note(parsed.text, tuple(own)).to_text()
    answer = "".join(s.to_line() for s in parsed.signatures if s not in own).encode()
    merged, added = merge_cosignatures(
        bare, parse_cosignature_lines(answer), [data["witness_verifier_key"]]
    )
    assert list(added) == [witness_key.name]
    assert checkpoint.verify_cosignatures(merged, [witness_key]) == added
