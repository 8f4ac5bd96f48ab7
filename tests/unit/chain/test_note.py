"""Tests for chain.note: c2sp.org/signed-note with golang.org/x/mod/sumdb/note key strings."""

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

from chain import note
from chain.errors import (
    FarmtraceError,
    MalformedNoteError,
    SignatureError,
    UnknownSignerError,
)

_DATA = Path(__file__).parent / "data"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_DATA / name).read_text(encoding="utf-8"))
    return data


XMOD = _load("note_xmod_vectors.json")
THIRD = _load("note_third_party_vectors.json")
C2SP = _load("checkpoint_c2sp_spec_examples.json")

TEXT: str = XMOD["text"]
PETER_SKEY: str = XMOD["peter_signer_key"]
PETER_VKEY: str = XMOD["peter_verifier_key"]
ENOCH_VKEY: str = XMOD["enoch_verifier_key"]
PETER_SIG: str = XMOD["peter_sig_line"]
ENOCH_SIG: str = XMOD["enoch_sig_line"]
SIGNED = TEXT + "\n" + PETER_SIG


def _insert_abcd_at_byte_60(line: str) -> str:
    """x/mod's test slices the UTF-8 bytes (the em dash is 3 bytes), not characters."""
    raw = line.encode()
    return (raw[:60] + b"ABCD" + raw[60:]).decode()


def _seed_of(skey: str) -> bytes:
    return base64.b64decode(skey.split("+", 4)[4])[1:]


# Key strings


def test_generate_key_from_the_xmod_seed_reproduces_the_published_key_strings() -> None:
    assert note.generate_key("PeterNeumann", seed=_seed_of(PETER_SKEY)) == (PETER_SKEY, PETER_VKEY)


@pytest.mark.parametrize(
    ("vkey", "expected_id"),
    [(XMOD["peter_verifier_key"], XMOD["peter_key_id"]), (ENOCH_VKEY, XMOD["enoch_key_id"])],
)
def test_key_id_matches_the_published_key_ids(vkey: str, expected_id: str) -> None:
    name, _, key64 = vkey.split("+", 2)
    raw = base64.b64decode(key64)
    assert note.key_id(name, raw[0], raw[1:]) == int(expected_id, 16)
    assert note.parse_verifier_key(vkey).key_id == int(expected_id, 16)


def test_generate_key_with_random_seed_gives_a_working_pair() -> None:
    skey, vkey = note.generate_key("example.com/log")
    parsed = note.parse_verifier_key(vkey)
    assert skey.startswith(f"PRIVATE+KEY+example.com/log+{parsed.key_id:08x}+")
    encoded = base64.b64decode(skey.split("+", 4)[4])
    assert (encoded[0], len(encoded)) == (note.ED25519, 33)
    assert note.parse_signer_key(skey).verifier_key() == parsed
    assert note.verify(note.sign("hi\n", skey), [vkey]) == "hi\n"
    assert note.generate_key("example.com/log") != (skey, vkey)


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2028b", "a\u3000b", "a\u0085b", "\ud800"]
)
def test_generate_key_rejects_invalid_names(name: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.generate_key(name, seed=bytes(32))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_generate_key_rejects_seeds_not_32_bytes(size: int) -> None:
    with pytest.raises(MalformedNoteError, match="32-byte"):
        note.generate_key("a", seed=bytes(size))


def test_generate_key_rejects_unknown_signature_type() -> None:
    with pytest.raises(MalformedNoteError) as info:
        note.generate_key("a", seed=bytes(32), sig_type=0x02)
    assert info.value.reason == "unknown_key_type"


def test_parse_verifier_key_reads_every_field() -> None:
    key = note.parse_verifier_key(PETER_VKEY)
    assert (key.name, key.key_id, key.sig_type) == ("PeterNeumann", 0xC74F20A3, note.ED25519)
    assert key.public_key == base64.b64decode(PETER_VKEY.split("+", 2)[2])[1:]
    assert key.to_text() == PETER_VKEY


def _manglings(key: str) -> list[str]:
    """Every proper substring and every single-byte increment, as x/mod's tests build them."""
    subs = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)]
    bumps = [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return [k for k in subs + bumps if k != key]


def test_parse_verifier_key_rejects_every_mangling_of_the_xmod_key() -> None:
    accepted = []
    for mangled in _manglings(PETER_VKEY):
        try:
            note.parse_verifier_key(mangled)
        except MalformedNoteError:
            continue
        accepted.append(mangled)
    assert accepted == []


def test_parse_signer_key_rejects_every_mangling_of_the_xmod_key() -> None:
    accepted = []
    for mangled in _manglings(PETER_SKEY):
        try:
            note.parse_signer_key(mangled)
        except MalformedNoteError:
            continue
        accepted.append(mangled)
    assert accepted == []


@pytest.mark.parametrize("case", sorted(XMOD["bad_verifier_keys"]))
def test_parse_verifier_key_rejects_the_xmod_bad_keys(case: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.parse_verifier_key(XMOD["bad_verifier_keys"][case])


@pytest.mark.parametrize("vkey", sorted(THIRD["valid_verifier_keys"]))
def test_parse_verifier_key_accepts_published_keys_of_both_types(vkey: str) -> None:
    key = note.parse_verifier_key(vkey)
    assert key.sig_type == THIRD["valid_verifier_keys"][vkey]
    assert key.to_text() == vkey


@pytest.mark.parametrize("case", sorted(THIRD["invalid_verifier_keys"]))
def test_parse_verifier_key_rejects_published_bad_keys(case: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.parse_verifier_key(THIRD["invalid_verifier_keys"][case])


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY.replace("c74f20a3", "C74F20A3") + " ",  # trailing space
        "\n" + PETER_VKEY,
        PETER_VKEY.replace("c74f20a3", "0xc74f20a"),
        PETER_VKEY.replace("c74f20a3", "c74f_20a3"),
        PETER_VKEY.replace("c74f20a3", "+c74f20a"),
        PETER_VKEY[:-1] + "X",  # key changed: key ID no longer matches
        PETER_VKEY.replace("PeterNeumann", "PeterNeumann2"),
    ],
)
def test_parse_verifier_key_is_strict(vkey: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.parse_verifier_key(vkey)


def test_parse_verifier_key_accepts_uppercase_hex_like_go() -> None:
    key = note.parse_verifier_key(PETER_VKEY.replace("c74f20a3", "C74F20A3"))
    assert key.to_text() == PETER_VKEY


def test_signer_key_repr_and_errors_do_not_reveal_the_seed() -> None:
    key = note.parse_signer_key(PETER_SKEY)
    assert _seed_of(PETER_SKEY).hex() not in repr(key)
    secret = PETER_SKEY.split("+", 4)[4]
    with pytest.raises(MalformedNoteError) as info:
        note.parse_signer_key(PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    assert secret not in str(info.value)


# Signing


def test_sign_reproduces_the_xmod_note() -> None:
    assert note.sign(TEXT, PETER_SKEY) == SIGNED
    assert note.sign(TEXT, note.parse_signer_key(PETER_SKEY)) == SIGNED


@pytest.mark.parametrize(
    "text", ["", "abc", "\n\r", "a\r\n", "a\x01\n", "a\x00\n", "\ud800\n", "a\tb\n"]
)
def test_sign_rejects_invalid_texts(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.sign(text, PETER_SKEY)


def test_sign_rejects_a_cosigner_key() -> None:
    skey, _ = note.generate_key("w", seed=bytes(32), sig_type=note.COSIGNATURE_V1)
    with pytest.raises(MalformedNoteError, match="0x01"):
        note.sign(TEXT, skey)


def test_sign_accepts_a_text_ending_in_blank_lines() -> None:
    signed = note.sign("a\n\n\n", PETER_SKEY)
    assert note.verify(signed, [PETER_VKEY]) == "a\n\n\n"


def test_add_signature_gives_the_doubly_signed_doc_example() -> None:
    enoch = note.parse_signature_line(ENOCH_SIG)
    doubly = note.add_signature(SIGNED, enoch.name, enoch.key_id, enoch.signature)
    assert doubly == SIGNED + ENOCH_SIG
    assert note.verify(doubly, [PETER_VKEY, ENOCH_VKEY]) == TEXT


def test_add_signature_replaces_a_signature_by_the_same_key() -> None:
    peter = note.parse_signature_line(PETER_SIG)
    stale = note.NoteSignature(peter.name, peter.key_id, b"BADSIGN").to_line()
    renewed = note.add_signature(TEXT + "\n" + stale + ENOCH_SIG, *_fields(peter))
    assert renewed == TEXT + "\n" + ENOCH_SIG + PETER_SIG


def _fields(sig: note.NoteSignature) -> tuple[str, int, bytes]:
    return sig.name, sig.key_id, sig.signature


@pytest.mark.parametrize(
    ("name", "key_id", "signature"),
    [("a b", 1, b"x"), ("", 1, b"x"), ("a", -1, b"x"), ("a", 2**32, b"x"), ("a", 1, b"")],
)
def test_add_signature_rejects_invalid_fields(name: str, key_id: int, signature: bytes) -> None:
    with pytest.raises(MalformedNoteError):
        note.add_signature(SIGNED, name, key_id, signature)


def test_add_signature_refuses_a_101st_signature() -> None:
    lines = [note.NoteSignature(f"k{i}", i, b"sig").to_line() for i in range(100)]
    full = TEXT + "\n" + "".join(lines)
    with pytest.raises(MalformedNoteError, match="100"):
        note.add_signature(full, "k100", 100, b"sig")


# Verifying: x/mod's TestOpen


def test_verify_with_one_known_key_ignores_the_unknown_one() -> None:
    both = SIGNED + ENOCH_SIG
    assert note.verify(both, [PETER_VKEY]) == TEXT
    verified = note.verified_signatures(both, [PETER_VKEY])
    assert [(s.name, s.key_id) for s in verified] == [("PeterNeumann", 0xC74F20A3)]


def test_verify_with_both_keys_verifies_both_in_order() -> None:
    verified = note.verified_signatures(SIGNED + ENOCH_SIG, [ENOCH_VKEY, PETER_VKEY])
    assert [s.name for s in verified] == ["PeterNeumann", "EnochRoot"]
    assert [s.to_line() for s in verified] == [PETER_SIG, ENOCH_SIG]


def test_verify_without_a_known_signer_raises_unknown_signer() -> None:
    with pytest.raises(UnknownSignerError, match="PeterNeumann"):
        note.verify(SIGNED + ENOCH_SIG, [])
    assert note.verified_signatures(SIGNED + ENOCH_SIG, []) == ()


def test_verify_with_a_duplicated_verifier_key_is_ambiguous() -> None:
    with pytest.raises(MalformedNoteError) as info:
        note.verify(TEXT + "\n" + ENOCH_SIG, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY])
    assert info.value.reason == "ambiguous_key"


def test_verify_with_an_unused_duplicated_verifier_key_succeeds() -> None:
    assert note.verify(SIGNED, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]) == TEXT


@pytest.mark.parametrize("keys", [[PETER_VKEY], []])
def test_verify_rejects_more_than_100_signatures(keys: list[str]) -> None:
    with pytest.raises(MalformedNoteError, match="at most 100"):
        note.verify(TEXT + "\n" + PETER_SIG * 101, keys)


def test_verify_accepts_100_signatures() -> None:
    assert note.verify(TEXT + "\n" + PETER_SIG * 100, [PETER_VKEY]) == TEXT


def test_verify_rejects_an_invalid_signature_by_a_known_key() -> None:
    with pytest.raises(SignatureError, match=r"PeterNeumann\+c74f20a3"):
        note.verify(TEXT + "\n" + _insert_abcd_at_byte_60(PETER_SIG), [PETER_VKEY])


def test_verify_ignores_repeated_signatures_as_xmod_does() -> None:
    enoch_abcd = _insert_abcd_at_byte_60(ENOCH_SIG)
    msg = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert note.verify(msg, [PETER_VKEY]) == TEXT
    assert [s.to_line() for s in note.verified_signatures(msg, [PETER_VKEY])] == [PETER_SIG]
    assert len(note.parse(msg).signatures) == 5


def test_verify_checks_only_the_first_of_repeated_known_signatures() -> None:
    bad_first = TEXT + "\n" + _insert_abcd_at_byte_60(PETER_SIG) + PETER_SIG
    with pytest.raises(SignatureError):
        note.verify(bad_first, [PETER_VKEY])
    assert note.verify(SIGNED + _insert_abcd_at_byte_60(PETER_SIG), [PETER_VKEY]) == TEXT


MALFORMED: dict[str, str | bytes] = {
    # x/mod TestOpen badMsgs
    "text only": TEXT,
    "no signature after the blank line": TEXT + "\n",
    "missing final newline": TEXT + "\n" + PETER_SIG[:-1],
    "control character": "\x01" + TEXT + "\n" + PETER_SIG,
    "invalid UTF-8": b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
    "name with a space": TEXT + "\n" + "\u2014 Bad Name " + PETER_SIG.split(" ", 2)[2][:-1],
    "name with a space, newline-terminated": TEXT
    + "\n\u2014 Bad Name "
    + PETER_SIG.split(" ", 2)[2],
    "unexpected line after the signatures": TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    # farmtrace's own
    "CRLF line endings": SIGNED.replace("\n", "\r\n"),
    "CR before the final newline": SIGNED[:-1] + "\r\n",
    "trailing garbage": SIGNED + "garbage",
    "trailing garbage line": SIGNED + "garbage\n",
    "truncated signature": SIGNED[:-10] + "\n",
    "truncated to the blank line": TEXT + "\n\u2014",
    "lone surrogate": "\ud800" + SIGNED,
    "overlong UTF-8": b"\xc0\xaf" + SIGNED.encode(),
    "encoded surrogate": b"\xed\xa0\x80" + SIGNED.encode(),
    "hyphen instead of em dash": TEXT + "\n" + "-" + PETER_SIG[1:],
    "en dash instead of em dash": TEXT + "\n" + "\u2013" + PETER_SIG[1:],
    "no space after the dash": TEXT + "\n" + PETER_SIG.replace("\u2014 ", "\u2014"),
    "two spaces before the base64": TEXT + "\n" + PETER_SIG.replace("Neumann ", "Neumann  "),
    "no base64": TEXT + "\n\u2014 PeterNeumann\n",
    "empty base64": TEXT + "\n\u2014 PeterNeumann \n",
    "only 4 bytes": TEXT + "\n\u2014 PeterNeumann x08gow==\n",
    "unpadded base64": TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),
    "non-canonical base64": TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),
    "URL-safe base64": TEXT + "\n\u2014 PeterNeumann x08go_ZJ\n",
    "tab in the text": "a\tb\n\n" + PETER_SIG,
    "name with a plus": TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
    "name with a no-break space": TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter\xa0N"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_verify_rejects_malformed_notes(case: str) -> None:
    with pytest.raises(MalformedNoteError):
        note.verify(MALFORMED[case], [PETER_VKEY])


@pytest.mark.parametrize("index", range(68 * 8))
def test_verify_rejects_each_flipped_bit_of_the_signature(index: int) -> None:
    raw = bytearray(base64.b64decode(PETER_SIG.split(" ")[2]))
    raw[index // 8] ^= 1 << (index % 8)
    flipped = TEXT + "\n\u2014 PeterNeumann " + base64.b64encode(raw).decode() + "\n"
    # The first 4 bytes are the key ID: flipping one names an unknown key.
    expected = UnknownSignerError if index < 32 else SignatureError
    with pytest.raises(expected):
        note.verify(flipped, [PETER_VKEY])


@pytest.mark.parametrize("index", range(len(TEXT) - 1))
def test_verify_rejects_a_changed_text_character(index: int) -> None:
    changed = TEXT[:index] + ("X" if TEXT[index] != "X" else "Y") + TEXT[index + 1 :]
    with pytest.raises(SignatureError):
        note.verify(changed + "\n" + PETER_SIG, [PETER_VKEY])


def test_a_blank_line_among_the_signatures_moves_the_earlier_ones_into_the_text() -> None:
    msg = SIGNED + "\n" + ENOCH_SIG
    assert note.parse(msg).text == SIGNED
    with pytest.raises(UnknownSignerError):
        note.verify(msg, [PETER_VKEY])


def test_verify_accepts_bytes_and_str_alike() -> None:
    assert note.verify(SIGNED.encode(), [PETER_VKEY]) == TEXT


def test_verify_accepts_a_cosignature_verifier_key() -> None:
    skey, vkey = note.generate_key("w.example/1", seed=bytes(32), sig_type=note.COSIGNATURE_V1)
    cosig = note.create_signature(TEXT, note.parse_signer_key(skey), timestamp=1_700_000_000)
    cosigned = note.add_signature(SIGNED, *_fields(cosig))
    assert note.verify(cosigned, [vkey]) == TEXT
    assert note.verified_signatures(cosigned, [vkey, PETER_VKEY])[1] == cosig


def test_create_signature_timestamp_rules() -> None:
    ed_key = note.parse_signer_key(PETER_SKEY)
    cosigner = note.parse_signer_key(note.generate_key("w", sig_type=note.COSIGNATURE_V1)[0])
    with pytest.raises(MalformedNoteError, match="only for cosignature"):
        note.create_signature(TEXT, ed_key, timestamp=1)
    for bad in [None, -1, 2**63, True]:
        with pytest.raises(MalformedNoteError, match="timestamp"):
            note.create_signature(TEXT, cosigner, timestamp=bad)
    assert len(note.create_signature(TEXT, cosigner, timestamp=2**63 - 1).signature) == 72


# Parsing


def test_parse_splits_at_the_last_blank_line_of_the_c2sp_example() -> None:
    parsed = note.parse(C2SP["signed_note_example"])
    assert parsed.text == C2SP["signed_note_example_text"]
    [sig] = parsed.signatures
    assert sig.name == "quasimodo.example/salvatore"
    assert sig.key_id == 0x367BA04B
    assert len(sig.signature) == 64
    assert parsed.to_text() == C2SP["signed_note_example"]


def test_parse_round_trips_byte_for_byte() -> None:
    msg = TEXT + "\n" + PETER_SIG + ENOCH_SIG + PETER_SIG
    assert note.parse(msg).to_text() == msg


def test_parse_signature_line_needs_exactly_one_line() -> None:
    assert note.parse_signature_line(PETER_SIG).to_line() == PETER_SIG
    for bad in [PETER_SIG[:-1], PETER_SIG + PETER_SIG, PETER_SIG[:-1] + "\r\n", "\n"]:
        with pytest.raises(MalformedNoteError):
            note.parse_signature_line(bad)


def test_note_requires_one_to_100_signatures() -> None:
    with pytest.raises(MalformedNoteError):
        note.Note(TEXT, ())


# Other published vectors and an independent check


def test_third_party_ed25519_vector_verifies() -> None:
    vector = THIRD["ed25519_example"]
    key = note.parse_verifier_key(vector["verifier_key"])
    assert key.public_key.hex() == vector["public_key_hex"]
    assert key.key_id == int(vector["key_id"], 16)
    signed = vector["text"] + "\n" + vector["signature_line"]
    assert note.verify(signed, [vector["verifier_key"]]) == vector["text"]


def test_published_cosignature_timestamp_decodes() -> None:
    vector = THIRD["cosignature_timestamp"]
    line = "\u2014 w " + vector["signature_base64"] + "\n"
    sig = note.parse_signature_line(line)
    assert int.from_bytes(sig.signature[:8], "big") == vector["timestamp"]


def test_signature_verifies_with_pyca_cryptography_independently() -> None:
    skey, vkey = note.generate_key("example.com/indep", seed=hashlib.sha256(b"indep").digest())
    signed = note.sign(TEXT, skey)
    public_key = base64.b64decode(vkey.split("+", 2)[2])[1:]
    raw = base64.b64decode(signed.rsplit(" ", 1)[1])
    expected_id = hashlib.sha256(b"example.com/indep\n\x01" + public_key).digest()[:4]
    assert raw[:4] == expected_id
    assert vkey.split("+")[1] == expected_id.hex()
    Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], TEXT.encode())


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_parse_raises_only_malformed_note_error(data: bytes | str) -> None:
    try:
        parsed = note.parse(data)
    except MalformedNoteError:
        return
    encoded = data if isinstance(data, str) else data.decode()
    assert parsed.to_text() == encoded


@given(st.integers(min_value=0, max_value=len(SIGNED)), st.text(min_size=1, max_size=8))
def test_an_insertion_verifies_only_if_the_text_is_unchanged(position: int, insert: str) -> None:
    mangled = SIGNED[:position] + insert + SIGNED[position:]
    try:
        note.verify(mangled, [PETER_VKEY])
    except FarmtraceError as exc:
        assert isinstance(exc, MalformedNoteError | SignatureError | UnknownSignerError)
        return
    # Only an insertion that leaves text and signature intact may verify, e.g. a
    # second signature line after the first.
    assert note.parse(mangled).text == TEXT


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20) | st.just("\n"),
        max_size=100,
    ).map(lambda t: t + "\n")
)
def test_any_valid_text_signs_and_verifies(text: str) -> None:
    assert note.verify(note.sign(text, PETER_SKEY), [PETER_VKEY]) == text
