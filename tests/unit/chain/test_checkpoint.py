"""Tests for chain.checkpoint: c2sp.org/tlog-checkpoint and tlog-cosignature v1."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from chain import checkpoint, note
from chain.checkpoint import Checkpoint
from chain.errors import MalformedNoteError, SignatureError, UnknownSignerError

_DATA = Path(__file__).parent / "data"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_DATA / name).read_text(encoding="utf-8"))
    return data


SPEC = _load("checkpoint_c2sp_spec_examples.json")
ARCHE = _load("checkpoint_arche2025h1_cosigned.json")

ORIGIN = "farm.example/log"
LOG_SKEY, LOG_VKEY = note.generate_key(ORIGIN, seed=hashlib.sha256(b"log").digest())
W1_SKEY, W1_VKEY = checkpoint.generate_cosigner_key("w1.example", seed=bytes(range(32)))
W2_SKEY, W2_VKEY = checkpoint.generate_cosigner_key("w2.example", seed=bytes(range(1, 33)))
CP = Checkpoint(ORIGIN, 42, hashlib.sha256(b"root").digest())
SIGNED = checkpoint.sign_checkpoint(CP, LOG_SKEY)
T1 = 1_700_000_000


def _with_line(signed: str, line: str) -> str:
    sig = note.parse_signature_line(line)
    return note.add_signature(signed, sig.name, sig.key_id, sig.signature)


def _cosigned(*witnesses: tuple[str, int]) -> str:
    signed = SIGNED
    for skey, timestamp in witnesses:
        signed = _with_line(signed, checkpoint.cosign(CP.to_text(), skey, timestamp))
    return signed


# The checkpoint body


def test_spec_example_parses_and_reserialises_byte_for_byte() -> None:
    cp = Checkpoint.from_text(SPEC["checkpoint_text"])
    assert cp.origin == SPEC["checkpoint_origin"]
    assert cp.size == SPEC["checkpoint_size"]
    assert cp.root_hash.hex() == SPEC["checkpoint_root_hex"]
    assert cp.extensions == ()
    assert cp.to_text() == SPEC["checkpoint_text"]


def test_extension_lines_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 0, bytes(32), ("ext one", "\u00e9xt two"))
    assert cp.to_text().endswith("\next one\n\u00e9xt two\n")
    assert Checkpoint.from_text(cp.to_text()) == cp


@pytest.mark.parametrize("size", [0, 1, 10, 2**64 - 1])
def test_sizes_round_trip(size: int) -> None:
    cp = Checkpoint(ORIGIN, size, bytes(32))
    assert cp.to_text().split("\n")[1] == str(size)
    assert Checkpoint.from_text(cp.to_text()) == cp


def _body(size: str = "5", root: str = "", origin: str = ORIGIN, tail: str = "") -> str:
    return f"{origin}\n{size}\n{root or base64.b64encode(bytes(32)).decode()}\n{tail}"


BAD_BODIES = {
    "size with a leading zero": _body("05"),
    "size 00": _body("00"),
    "negative size": _body("-1"),
    "size with a plus sign": _body("+1"),
    "size with a space": _body(" 1"),
    "size with an underscore": _body("1_000"),
    "decimal fraction": _body("1.0"),
    "hexadecimal size": _body("0x10"),
    "non-ASCII digits": _body("\u0661\u0662"),
    "empty size": _body(""),
    "size 2**64": _body(str(2**64)),
    "root of 31 bytes": _body(root=base64.b64encode(bytes(31)).decode()),
    "root of 33 bytes": _body(root=base64.b64encode(bytes(33)).decode()),
    "root not base64": _body(root="not base64!"),
    "root unpadded": _body(root=base64.b64encode(bytes(32)).decode().rstrip("=")),
    "root non-canonical": _body(root="A" * 42 + "B="),
    "root URL-safe": _body(root="_" * 43 + "="),
    "empty origin": _body(origin=""),
    "origin with a tab": _body(origin="a\tb"),
    "empty extension line": _body(tail="\n"),
    "missing final newline": _body()[:-1],
    "two lines only": f"{ORIGIN}\n5\n",
    "empty text": "",
    "just a newline": "\n",
    "CRLF line endings": _body().replace("\n", "\r\n"),
    "lone surrogate in origin": _body(origin="\ud800"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_from_text_rejects(case: str) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint.from_text(BAD_BODIES[case])


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, bytes(32), ()),
        ("a\nb", 1, bytes(32), ()),
        (ORIGIN, -1, bytes(32), ()),
        (ORIGIN, 2**64, bytes(32), ()),
        (ORIGIN, True, bytes(32), ()),
        (ORIGIN, 1, bytes(31), ()),
        (ORIGIN, 1, bytes(33), ()),
        (ORIGIN, 1, bytes(32), ("",)),
        (ORIGIN, 1, bytes(32), ("a\nb",)),
        (ORIGIN, 1, bytes(32), ["ext"]),
    ],
)
def test_constructor_rejects(origin: str, size: int, root: bytes, extensions: Any) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint(origin, size, root, extensions)


# The log's signature


def test_sign_then_open_round_trips() -> None:
    assert SIGNED.startswith(CP.to_text() + "\n\u2014 " + ORIGIN + " ")
    assert checkpoint.open_checkpoint(SIGNED, LOG_VKEY) == CP
    assert checkpoint.open_checkpoint(SIGNED.encode(), LOG_VKEY) == CP
    assert checkpoint.open_checkpoint(SIGNED, note.parse_verifier_key(LOG_VKEY)) == CP


def test_sign_checkpoint_refuses_a_key_not_named_after_the_origin() -> None:
    other, _ = note.generate_key("other.example/log", seed=bytes(32))
    with pytest.raises(MalformedNoteError, match="origin"):
        checkpoint.sign_checkpoint(CP, other)


def test_open_checkpoint_rejects_a_wrong_origin() -> None:
    other = Checkpoint("farm.example/other", 42, CP.root_hash)
    forged = note.sign(other.to_text(), LOG_SKEY)  # the log's key, signing another origin
    with pytest.raises(UnknownSignerError, match="origin"):
        checkpoint.open_checkpoint(forged, LOG_VKEY)


def test_open_checkpoint_requires_the_log_signature() -> None:
    impostor, _ = note.generate_key(ORIGIN, seed=bytes(32))
    with pytest.raises(UnknownSignerError):
        checkpoint.open_checkpoint(checkpoint.sign_checkpoint(CP, impostor), LOG_VKEY)
    with pytest.raises(UnknownSignerError):
        checkpoint.open_checkpoint(SPEC["cosigned_checkpoint"], LOG_VKEY)


@pytest.mark.parametrize("index", range(32, 68 * 8, 7))
def test_open_checkpoint_rejects_a_flipped_signature_bit(index: int) -> None:
    body, line = SIGNED.split("\n\u2014 ")
    name, encoded = line[:-1].split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[index // 8] ^= 1 << (index % 8)
    flipped = f"{body}\n\u2014 {name} {base64.b64encode(raw).decode()}\n"
    with pytest.raises(SignatureError):
        checkpoint.open_checkpoint(flipped, LOG_VKEY)


def test_open_checkpoint_rejects_a_changed_size() -> None:
    tampered = SIGNED.replace("\n42\n", "\n43\n", 1)
    with pytest.raises(SignatureError):
        checkpoint.open_checkpoint(tampered, LOG_VKEY)


@pytest.mark.parametrize(
    "signed",
    [
        SIGNED[:-1],
        SIGNED + "trailing garbage\n",
        SIGNED.replace("\n", "\r\n"),
        SIGNED.replace("\n42\n", "\n042\n", 1),
        note.sign("just a line\n", LOG_SKEY),
    ],
)
def test_open_checkpoint_rejects_malformed_notes(signed: str) -> None:
    with pytest.raises(MalformedNoteError):
        checkpoint.open_checkpoint(signed, LOG_VKEY)


def test_open_checkpoint_wants_an_ed25519_log_key() -> None:
    with pytest.raises(MalformedNoteError, match="0x01"):
        checkpoint.open_checkpoint(SIGNED, W1_VKEY)


def test_open_checkpoint_ignores_cosignatures_and_unknown_signatures() -> None:
    signed = _cosigned((W1_SKEY, T1)) + "\u2014 stranger.example AAAAAAAAAA==\n"
    assert checkpoint.open_checkpoint(signed, LOG_VKEY) == CP


def test_real_cosigned_checkpoint_opens_and_its_witness_verifies() -> None:
    cp = checkpoint.open_checkpoint(ARCHE["note"], ARCHE["log_verifier_key"])
    assert (cp.origin, cp.size) == (ARCHE["origin"], ARCHE["size"])
    assert cp.root_hash == base64.b64decode(ARCHE["root_base64"])
    witnesses = checkpoint.verify_cosignatures(ARCHE["note"], [ARCHE["witness_verifier_key"]])
    assert witnesses == {"remora.n621.de": 1779573024}


def test_real_cosigned_checkpoint_with_a_changed_size_fails_both_keys() -> None:
    tampered = ARCHE["note"].replace(f"\n{ARCHE['size']}\n", "\n42\n", 1)
    with pytest.raises(SignatureError):
        checkpoint.open_checkpoint(tampered, ARCHE["log_verifier_key"])
    with pytest.raises(SignatureError):
        checkpoint.verify_cosignatures(tampered, [ARCHE["witness_verifier_key"]])


# Cosignatures


def test_generate_cosigner_key_has_type_4() -> None:
    signer, verifier = W1_SKEY, W1_VKEY
    key = note.parse_verifier_key(verifier)
    assert key.sig_type == note.COSIGNATURE_V1
    assert base64.b64decode(signer.split("+", 4)[4])[0] == note.COSIGNATURE_V1
    assert key.key_id == note.key_id("w1.example", 0x04, key.public_key)
    assert note.parse_signer_key(signer).verifier_key() == key


def test_cosign_round_trips_with_several_witnesses() -> None:
    signed = _cosigned((W1_SKEY, T1), (W2_SKEY, T1 + 5))
    both = checkpoint.verify_cosignatures(signed, [W1_VKEY, W2_VKEY])
    assert both == {"w1.example": T1, "w2.example": T1 + 5}
    assert checkpoint.verify_cosignatures(signed, [W2_VKEY]) == {"w2.example": T1 + 5}
    w1 = note.parse_verifier_key(W1_VKEY)
    assert checkpoint.verify_cosignatures(signed, [w1]) == {"w1.example": T1}
    assert checkpoint.verify_cosignatures(SIGNED, [W1_VKEY, W2_VKEY]) == {}
    assert checkpoint.open_checkpoint(signed, LOG_VKEY) == CP


def test_cosignature_verifies_with_pyca_cryptography_independently() -> None:
    line = checkpoint.cosign(CP.to_text(), W1_SKEY, T1)
    assert line.startswith("\u2014 w1.example ") and line.endswith("\n")
    raw = base64.b64decode(line[:-1].split(" ")[2])
    public_key = base64.b64decode(W1_VKEY.split("+", 2)[2])[1:]
    assert raw[:4] == hashlib.sha256(b"w1.example\n\x04" + public_key).digest()[:4]
    assert raw[4:12] == T1.to_bytes(8, "big")
    assert len(raw) == 4 + 8 + 64
    message = f"cosignature/v1\ntime {T1}\n".encode() + CP.to_text().encode()
    Ed25519PublicKey.from_public_bytes(public_key).verify(raw[12:], message)


def test_spec_cosignature_example_has_the_spec_timestamp_and_message() -> None:
    parsed = note.parse(SPEC["cosigned_checkpoint"])
    assert parsed.text == SPEC["checkpoint_text"]
    log_sig, witness_sig = parsed.signatures
    assert (len(log_sig.signature), len(witness_sig.signature)) == (64, 72)
    assert witness_sig.name == "witness.example.com/w1"
    timestamp = int.from_bytes(witness_sig.signature[:8], "big")
    assert timestamp == SPEC["cosignature_timestamp"]
    expected = f"cosignature/v1\ntime {timestamp}\n{parsed.text}"
    assert expected == SPEC["cosignature_signed_message"]


def test_cosignature_with_a_wrong_timestamp_fails() -> None:
    line = checkpoint.cosign(CP.to_text(), W1_SKEY, T1)
    sig = note.parse_signature_line(line)
    moved = (T1 + 1).to_bytes(8, "big") + sig.signature[8:]
    signed = note.add_signature(SIGNED, sig.name, sig.key_id, moved)
    with pytest.raises(SignatureError, match=r"w1\.example"):
        checkpoint.verify_cosignatures(signed, [W1_VKEY])


def test_cosignature_over_another_checkpoint_fails() -> None:
    other = Checkpoint(ORIGIN, 43, CP.root_hash)
    signed = _with_line(SIGNED, checkpoint.cosign(other.to_text(), W1_SKEY, T1))
    with pytest.raises(SignatureError):
        checkpoint.verify_cosignatures(signed, [W1_VKEY])


def test_cosignature_covers_extension_lines() -> None:
    cp = Checkpoint(ORIGIN, 1, bytes(32), ("ext",))
    line = checkpoint.cosign(cp.to_text(), W1_SKEY, T1)
    swapped = Checkpoint(ORIGIN, 1, bytes(32), ("exu",))
    signed = _with_line(checkpoint.sign_checkpoint(swapped, LOG_SKEY), line)
    with pytest.raises(SignatureError):
        checkpoint.verify_cosignatures(signed, [W1_VKEY])


def test_cosignature_with_a_timestamp_of_2_to_the_63_is_rejected() -> None:
    # Signed correctly over "time 9223372036854775808", which the spec forbids.
    _, secret = crypto_sign_seed_keypair(bytes(range(32)))
    message = f"cosignature/v1\ntime {2**63}\n{CP.to_text()}".encode()
    raw = (2**63).to_bytes(8, "big") + crypto_sign(message, secret)[:64]
    key = note.parse_verifier_key(W1_VKEY)
    signed = note.add_signature(SIGNED, key.name, key.key_id, raw)
    with pytest.raises(SignatureError, match="2\\*\\*63"):
        checkpoint.verify_cosignatures(signed, [W1_VKEY])


@pytest.mark.parametrize("length", [1, 8, 71, 73])
def test_cosignature_of_the_wrong_length_is_rejected(length: int) -> None:
    key = note.parse_verifier_key(W1_VKEY)
    signed = note.add_signature(SIGNED, key.name, key.key_id, b"\x00" * length)
    with pytest.raises(SignatureError, match="72 bytes"):
        checkpoint.verify_cosignatures(signed, [W1_VKEY])


@pytest.mark.parametrize("timestamp", [-1, 2**63])
def test_cosign_rejects_out_of_range_timestamps(timestamp: int) -> None:
    with pytest.raises(MalformedNoteError, match="timestamp"):
        checkpoint.cosign(CP.to_text(), W1_SKEY, timestamp)


def test_cosign_wants_a_cosigner_key_and_a_checkpoint() -> None:
    with pytest.raises(MalformedNoteError, match="0x04"):
        checkpoint.cosign(CP.to_text(), LOG_SKEY, T1)
    with pytest.raises(MalformedNoteError):
        checkpoint.cosign("not a checkpoint\n", W1_SKEY, T1)
    with pytest.raises(MalformedNoteError):
        checkpoint.cosign(SIGNED, W1_SKEY, T1)


def test_verify_cosignatures_rejects_bad_witness_key_sets() -> None:
    with pytest.raises(MalformedNoteError, match="0x04"):
        checkpoint.verify_cosignatures(SIGNED, [LOG_VKEY])
    _, same_name = checkpoint.generate_cosigner_key("w1.example", seed=bytes(32))
    with pytest.raises(MalformedNoteError, match="distinct"):
        checkpoint.verify_cosignatures(SIGNED, [W1_VKEY, same_name])


def test_verify_cosignatures_rejects_a_note_that_is_not_a_checkpoint() -> None:
    with pytest.raises(MalformedNoteError):
        checkpoint.verify_cosignatures(note.sign("hello\n", LOG_SKEY), [W1_VKEY])


def test_generic_verify_accepts_the_witness_key() -> None:
    signed = _cosigned((W1_SKEY, T1))
    assert note.verify(signed, [W1_VKEY]) == CP.to_text()


_LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20), min_size=1
)


@given(
    origin=_LINE,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_LINE, max_size=3).map(tuple),
)
def test_any_checkpoint_round_trips_through_text(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.from_text(cp.to_text()) == cp


@given(st.text(max_size=200))
def test_from_text_raises_only_malformed_note_error(text: str) -> None:
    try:
        cp = Checkpoint.from_text(text)
    except MalformedNoteError:
        return
    assert cp.to_text() == text
