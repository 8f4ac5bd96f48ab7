"""Tests for chain.jws: strict JWS compact EdDSA (RFC 7515, RFC 8037, RFC 8032)."""

from __future__ import annotations

import base64
import json
import re

import nacl.bindings
import nacl.exceptions
import pytest

from chain._encoding import b64url_decode, b64url_encode
from chain.errors import MalformedEntryError, SignatureError
from chain.jws import (
    MAX_ENTRY_BYTES,
    ParsedJws,
    check_id,
    loads_json_object,
    parse_compact,
    sign_compact,
    verify_compact,
    verify_signature,
)

# RFC 8037 Appendix A.1 (the Ed25519 private key d and public key x) and A.4
# (the JWS "Example of Ed25519 signing"; its header is {"alg":"EdDSA"}, no kid).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_JWS = (
    b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    b"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC8032_T1_SECRET = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)
RFC8032_T1_PUBLIC = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)
RFC8032_T1_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

SEED = bytes(range(32))
PUBLIC = nacl.bindings.crypto_sign_seed_keypair(SEED)[0]
OTHER_PUBLIC = nacl.bindings.crypto_sign_seed_keypair(bytes(32))[0]
PAYLOAD = b'{"type":"reading","seq":1}'


def forge(header: bytes | str, payload: bytes = PAYLOAD, seed: bytes = SEED) -> bytes:
    """A compact JWS with ANY header bytes, validly signed, so only the tested defect fails."""
    if isinstance(header, str):
        header = header.encode()
    signing_input = f"{b64url_encode(header)}.{b64url_encode(payload)}".encode()
    secret = nacl.bindings.crypto_sign_seed_keypair(seed)[1]
    signature = nacl.bindings.crypto_sign(signing_input, secret)[:64]
    return signing_input + b"." + b64url_encode(signature).encode()


def with_part(raw: bytes, index: int, text: str) -> bytes:
    parts = raw.decode().split(".")
    parts[index] = text
    return ".".join(parts).encode()


# --- known answers -----------------------------------------------------------------------


def test_rfc8037_a1_seed_derives_public_key() -> None:
    public, _ = nacl.bindings.crypto_sign_seed_keypair(b64url_decode(RFC8037_D))
    assert public == b64url_decode(RFC8037_X)


def test_rfc8037_a4_signature_verifies_but_entry_is_rejected_for_lacking_kid() -> None:
    signing_input, _, signature_b64 = RFC8037_JWS.rpartition(b".")
    verify_signature(
        signing_input, b64url_decode(signature_b64.decode()), b64url_decode(RFC8037_X), "rfc"
    )
    with pytest.raises(MalformedEntryError, match="expected exactly the members alg, kid"):
        parse_compact(RFC8037_JWS)


def test_rfc8037_a4_signature_is_reproduced_by_our_signing_primitive() -> None:
    # Ed25519 is deterministic: signing the A.4 input with the A.1 key must give A.4's bytes.
    # Our header carries a kid, so check through a forged header of exactly A.4's.
    jws = forge('{"alg":"EdDSA"}', b"Example of Ed25519 signing", b64url_decode(RFC8037_D))
    assert jws == RFC8037_JWS


def test_rfc8032_test1_raw_ed25519() -> None:
    public, secret = nacl.bindings.crypto_sign_seed_keypair(RFC8032_T1_SECRET)
    assert public == RFC8032_T1_PUBLIC
    assert nacl.bindings.crypto_sign(b"", secret)[:64] == RFC8032_T1_SIGNATURE
    verify_signature(b"", RFC8032_T1_SIGNATURE, RFC8032_T1_PUBLIC, "rfc8032")
    with pytest.raises(SignatureError):
        verify_signature(b"x", RFC8032_T1_SIGNATURE, RFC8032_T1_PUBLIC, "rfc8032")


def test_sign_compact_with_rfc8037_key_verifies_with_rfc8037_public_key() -> None:
    raw = sign_compact(b"Example of Ed25519 signing", "rfc8037", b64url_decode(RFC8037_D))
    parsed = parse_compact(raw)
    verify_compact(parsed, b64url_decode(RFC8037_X))
    assert parsed.payload == b"Example of Ed25519 signing"


# --- signing and parsing -----------------------------------------------------------------


def test_sign_compact_shape_and_round_trip() -> None:
    raw = sign_compact(PAYLOAD, "dev-01", SEED)
    header_b64, payload_b64, signature_b64 = raw.decode("ascii").split(".")
    assert b64url_decode(header_b64) == b'{"alg":"EdDSA","kid":"dev-01"}'
    assert b64url_decode(payload_b64) == PAYLOAD
    assert not raw.endswith(b"\n")
    parsed = parse_compact(raw)
    assert parsed == ParsedJws(
        kid="dev-01",
        header=(("alg", "EdDSA"), ("kid", "dev-01")),
        payload=PAYLOAD,
        signing_input=f"{header_b64}.{payload_b64}".encode(),
        signature=b64url_decode(signature_b64),
    )
    verify_compact(parsed, PUBLIC)


@pytest.mark.parametrize(
    "header",
    [
        '{"kid":"op.7","alg":"EdDSA"}',  # v1 accepted any member order; v2 one byte form
        '{"alg": "EdDSA", "kid": "op.7"}',
        '{"alg":"EdDSA","kid":"op.7"}\n',
        ' {"alg":"EdDSA","kid":"op.7"}',
        '{"alg":"\\u0045dDSA","kid":"op.7"}',
        '{"alg":"EdDSA","kid":"op\\u002e7"}',
        '{"alg":"EdDSA","kid":"op.7"}',  # the control: the canonical form is accepted
    ],
)
def test_only_the_canonical_header_bytes_are_accepted(header: str) -> None:
    canonical = '{"alg":"EdDSA","kid":"op.7"}'
    raw = forge(header)
    if header == canonical:
        assert parse_compact(raw).kid == "op.7"
        return
    expected = re.escape(f"header: expected exactly the bytes {canonical}, found ")
    with pytest.raises(MalformedEntryError, match=expected):
        parse_compact(raw)


def sized(total: int) -> tuple[bytes, str]:
    """A payload and kid whose signed entry is exactly ``total`` bytes long."""
    for kid in ("k", "kk", "kkk", "kkkk"):
        header = f'{{"alg":"EdDSA","kid":"{kid}"}}'
        start = (total - len(forge(header, b""))) * 3 // 4
        for n in range(start - 3, start + 4):
            if len(forge(header, b"x" * n)) == total:
                return b"x" * n, kid
    raise AssertionError(f"no entry of {total} bytes")  # pragma: no cover


def test_entry_of_exactly_the_size_limit_is_accepted() -> None:
    payload, kid = sized(MAX_ENTRY_BYTES)
    raw = sign_compact(payload, kid, SEED)
    assert len(raw) == MAX_ENTRY_BYTES
    verify_compact(parse_compact(raw), PUBLIC)


def test_entry_one_byte_over_the_size_limit_is_neither_signed_nor_parsed() -> None:
    payload, kid = sized(MAX_ENTRY_BYTES + 1)
    with pytest.raises(MalformedEntryError, match="at most 4096 bytes, would be 4097"):
        sign_compact(payload, kid, SEED)
    with pytest.raises(MalformedEntryError, match="at most 4096 bytes, found 4097"):
        parse_compact(forge(f'{{"alg":"EdDSA","kid":"{kid}"}}', payload))


@pytest.mark.parametrize("kid", ["", "-dev", "a/b", "a+b", "a#b", "a:b", "a b", "é", "x" * 65])
def test_sign_compact_rejects_a_bad_kid(kid: str) -> None:
    with pytest.raises(MalformedEntryError, match="kid"):
        sign_compact(PAYLOAD, kid, SEED)


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), bytes(64)])
def test_sign_compact_rejects_a_seed_that_is_not_32_bytes(seed: bytes) -> None:
    with pytest.raises(ValueError, match="seed: expected 32 bytes"):
        sign_compact(PAYLOAD, "k", seed)


GOOD = forge('{"alg":"EdDSA","kid":"k"}')
SIG_B64 = GOOD.decode().split(".")[2]
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# 64 bytes leave 4 unused bits in the last character; set one of them.
_NONCANONICAL_SIG = SIG_B64[:-1] + _ALPHABET[_ALPHABET.index(SIG_B64[-1]) | 1]
_STD_SIG = base64.b64encode(b"\xfb\xff" + bytes(62)).decode().rstrip("=")

_ALG = "header: expected alg 'EdDSA'"
_MEMBERS = "header: expected exactly the members alg, kid; found"
_KID = "header kid: expected an id"
_B64 = "expected canonical unpadded base64url"
_PARTS = "entry: expected 3 '.'-separated parts"

# name: (entry, what the error message must contain)
MALFORMED: dict[str, tuple[bytes, str]] = {
    "alg_none": (forge('{"alg":"none","kid":"k"}'), f"{_ALG}, found 'none'"),
    "alg_hs256": (forge('{"alg":"HS256","kid":"k"}'), f"{_ALG}, found 'HS256'"),
    "alg_es256": (forge('{"alg":"ES256","kid":"k"}'), f"{_ALG}, found 'ES256'"),
    "alg_lowercase": (forge('{"alg":"eddsa","kid":"k"}'), f"{_ALG}, found 'eddsa'"),
    "alg_trailing_space": (forge('{"alg":"EdDSA ","kid":"k"}'), f"{_ALG}, found 'EdDSA '"),
    "alg_rfc9864_ed25519": (forge('{"alg":"Ed25519","kid":"k"}'), f"{_ALG}, found 'Ed25519'"),
    "alg_not_a_string": (forge('{"alg":["EdDSA"],"kid":"k"}'), f"{_ALG}, found ['EdDSA']"),
    "alg_null": (forge('{"alg":null,"kid":"k"}'), f"{_ALG}, found None"),
    "alg_missing": (forge('{"kid":"k"}'), f"{_MEMBERS} kid"),
    "kid_missing": (forge('{"alg":"EdDSA"}'), f"{_MEMBERS} alg"),
    "kid_empty": (forge('{"alg":"EdDSA","kid":""}'), f"{_KID}"),
    "kid_not_a_string": (forge('{"alg":"EdDSA","kid":7}'), f"{_KID}"),
    "kid_with_slash": (forge('{"alg":"EdDSA","kid":"farm/dev"}'), f"{_KID}"),
    "kid_with_colon": (forge('{"alg":"EdDSA","kid":"bird:1"}'), f"{_KID}"),
    "crit_present": (
        forge('{"alg":"EdDSA","kid":"k","crit":["b64"],"b64":false}'),
        f"{_MEMBERS} alg, b64, crit, kid",
    ),
    "unknown_member": (forge('{"alg":"EdDSA","kid":"k","typ":"JWT"}'), f"{_MEMBERS} alg, kid, typ"),
    "embedded_jwk": (
        forge('{"alg":"EdDSA","kid":"k","jwk":{"kty":"OKP"}}'),
        f"{_MEMBERS} alg, jwk, kid",
    ),
    "duplicate_alg": (forge('{"alg":"none","kid":"k","alg":"EdDSA"}'), "'alg' twice"),
    "duplicate_kid": (forge('{"alg":"EdDSA","kid":"a","kid":"b"}'), "'kid' twice"),
    "header_array": (forge('["alg","EdDSA"]'), "header: expected a JSON object, found array"),
    "header_not_json": (forge("alg=EdDSA"), "header: expected JSON"),
    "header_not_utf8": (forge(b'{"alg":"EdDSA","kid":"k\xff"}'), "header: expected UTF-8"),
    "header_with_bom": (forge(b'\xef\xbb\xbf{"alg":"EdDSA","kid":"k"}'), "header: expected JSON"),
    "header_empty": (with_part(GOOD, 0, ""), "header: expected JSON"),
    "padded_signature": (GOOD + b"==", f"signature: {_B64}"),
    "padded_header": (
        with_part(GOOD, 0, b64url_encode(b'{"alg":"EdDSA","kid":"k1"}') + "="),
        f"header: {_B64}",
    ),
    "standard_alphabet": (with_part(GOOD, 2, _STD_SIG), f"signature: {_B64}"),
    "noncanonical_trailing_bits": (with_part(GOOD, 2, _NONCANONICAL_SIG), "unused bits set"),
    "impossible_length": (with_part(GOOD, 2, SIG_B64 + "AAA"), "impossible base64url length"),
    "two_parts": (GOOD.rpartition(b".")[0], f"{_PARTS}, found 2"),
    "four_parts": (GOOD + b".", f"{_PARTS}, found 4"),
    "empty_input": (b"", f"{_PARTS}, found 1"),
    "only_dots": (b"..", "header: expected JSON"),
    "empty_signature": (GOOD.rpartition(b".")[0] + b".", "signature: expected 64 bytes, found 0"),
    "signature_63_bytes": (
        with_part(GOOD, 2, b64url_encode(bytes(63))),
        "signature: expected 64 bytes, found 63",
    ),
    "signature_65_bytes": (
        with_part(GOOD, 2, b64url_encode(bytes(65))),
        "signature: expected 64 bytes, found 65",
    ),
    "non_ascii": (GOOD.replace(b".", b".\xc3\xa9", 1), "entry: expected ASCII"),
    "trailing_newline": (GOOD + b"\n", f"signature: {_B64}"),
    "leading_space": (b" " + GOOD, f"header: {_B64}"),
}


@pytest.mark.parametrize(("raw", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_parse_compact_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedEntryError, match=re.escape(message)):
        parse_compact(raw)


def test_a_bad_header_is_rejected_every_time_not_only_the_first() -> None:
    for _ in range(2):
        with pytest.raises(MalformedEntryError):
            parse_compact(MALFORMED["alg_none"][0])


# --- signature verification -------------------------------------------------------------


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_flipped_signature_bit_is_a_signature_error() -> None:
    raw = sign_compact(PAYLOAD, "k", SEED)
    signature = parse_compact(raw).signature
    for bit in range(512):
        tampered = parse_compact(with_part(raw, 2, b64url_encode(flip(signature, bit))))
        with pytest.raises(SignatureError):
            verify_compact(tampered, PUBLIC)


def test_every_flipped_payload_bit_is_a_signature_error() -> None:
    raw = sign_compact(PAYLOAD, "k", SEED)
    for bit in range(len(PAYLOAD) * 8):
        tampered = parse_compact(with_part(raw, 1, b64url_encode(flip(PAYLOAD, bit))))
        with pytest.raises(SignatureError):
            verify_compact(tampered, PUBLIC)


def test_a_changed_kid_is_a_signature_error() -> None:
    raw = sign_compact(PAYLOAD, "dev-1", SEED)
    header = b64url_encode(b'{"alg":"EdDSA","kid":"dev-2"}')
    with pytest.raises(SignatureError, match="'dev-2'"):
        verify_compact(parse_compact(with_part(raw, 0, header)), PUBLIC)


def test_wrong_key_is_a_signature_error_translated_from_nacl() -> None:
    parsed = parse_compact(sign_compact(PAYLOAD, "k", SEED))
    with pytest.raises(SignatureError) as caught:
        verify_compact(parsed, OTHER_PUBLIC)
    assert isinstance(caught.value.__cause__, nacl.exceptions.BadSignatureError)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("key", [b"", PUBLIC[:31], PUBLIC + b"\x00", RFC8037_X])
def test_public_key_must_be_32_bytes(key: object) -> None:
    parsed = parse_compact(sign_compact(PAYLOAD, "k", SEED))
    with pytest.raises(MalformedEntryError, match="public key: expected 32 bytes"):
        verify_compact(parsed, key)  # type: ignore[arg-type]


def test_verify_signature_rejects_a_signature_that_is_not_64_bytes() -> None:
    parsed = parse_compact(sign_compact(PAYLOAD, "k", SEED))
    with pytest.raises(MalformedEntryError, match="expected 64 bytes, found 63"):
        verify_signature(parsed.signing_input, parsed.signature[:63], PUBLIC, "k")


# --- helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "A.b_c-9", "0", "x" * 64, "farm-7.barn_2"])
def test_check_id_accepts(value: str) -> None:
    assert check_id(value, "dev") == value


@pytest.mark.parametrize(
    "value", ["", ".a", "_a", "a/b", "a+b", "a#b", "a:b", "a b", "ä", "x" * 65, 7, None, ["a"]]
)
def test_check_id_rejects(value: object) -> None:
    with pytest.raises(MalformedEntryError, match=r"^dev: expected an id"):
        check_id(value, "dev")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"v":NaN}', "finite number, found NaN"),
        (b'{"v":Infinity}', "finite number, found Infinity"),
        (b'{"v":-Infinity}', "finite number, found -Infinity"),
        (b'{"a":{"b":1,"b":2}}', "'b' twice"),
        (b"[1]", "JSON object, found array"),
        (b'"s"', "JSON object, found string"),
        (b"1", "JSON object, found number"),
        (b"null", "JSON object, found null"),
        (b"\xef\xbb\xbf{}", "expected JSON"),
        (b'{"a":"\xff"}', "expected UTF-8"),
        (b"{} x", "expected JSON"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply|expected JSON"),
        (b'{"a":' + b"9" * 5000 + b"}", "at most 40 digits, found 5000"),
    ],
)
def test_loads_json_object_rejects(data: bytes, message: str) -> None:
    with pytest.raises(MalformedEntryError, match=message):
        loads_json_object(data, "payload")


def test_loads_json_object_accepts_unicode_and_keeps_member_order() -> None:
    obj = loads_json_object(json.dumps({"z": "Stall Süd", "a": 1}).encode(), "payload")
    assert list(obj.items()) == [("z", "Stall Süd"), ("a", 1)]
