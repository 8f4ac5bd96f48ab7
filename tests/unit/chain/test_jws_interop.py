"""Interop of chain.jws / chain.entries with an independent JOSE implementation (joserfc).

joserfc warns that ``"alg":"EdDSA"`` is deprecated by RFC 9864 (which adds the
fully specified ``"Ed25519"``); design.md section 2 fixes ``EdDSA`` on the
wire, so that warning is expected here and silenced for this module only.
"""

from __future__ import annotations

import json
import re

import nacl.bindings
import pytest
from joserfc import jws as jose
from joserfc.errors import BadSignatureError
from joserfc.jwk import OKPKey

from chain._encoding import b64url_encode
from chain.entries import parse_entry, reading_payload, sign_entry, verify_entry
from chain.errors import MalformedEntryError, SignatureError
from chain.jws import parse_compact, sign_compact, verify_compact

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")

SEED = bytes(range(100, 132))
PUBLIC = nacl.bindings.crypto_sign_seed_keypair(SEED)[0]
OTHER_PUBLIC = nacl.bindings.crypto_sign_seed_keypair(bytes(32))[0]


def jose_key(public: bytes, seed: bytes | None = None) -> OKPKey:
    """An OKP JWK (RFC 8037 section 2) built from raw key bytes."""
    jwk: dict[str, str | list[str]] = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public)}
    if seed is not None:
        jwk["d"] = b64url_encode(seed)
    return OKPKey.import_key(jwk)


def test_entry_we_sign_verifies_with_joserfc() -> None:
    raw = sign_entry(
        reading_payload("dev-1", 1, 1_700_000_000_000, "water", "barn:1", 3, "l"), "dev-1", SEED
    )
    token = jose.deserialize_compact(raw, jose_key(PUBLIC), algorithms=["EdDSA"])
    assert token.protected == {"alg": "EdDSA", "kid": "dev-1"}
    assert json.loads(token.payload)["unit"] == "l"


def test_joserfc_rejects_our_entry_under_the_wrong_key() -> None:
    raw = sign_compact(b"{}", "k", SEED)
    with pytest.raises(BadSignatureError):
        jose.deserialize_compact(raw, jose_key(OTHER_PUBLIC), algorithms=["EdDSA"])


def test_jws_joserfc_signs_verifies_with_ours() -> None:
    protected = {"alg": "EdDSA", "kid": "dev-1"}
    payload = json.dumps(reading_payload("dev-1", 2, 0, "feed", "feeder:f1", 1.25, "kg")).encode()
    token = jose.serialize_compact(protected, payload, jose_key(PUBLIC, SEED), algorithms=["EdDSA"])
    parsed = parse_compact(token.encode("ascii"))
    assert (parsed.kid, parsed.payload) == ("dev-1", payload)
    verify_compact(parsed, PUBLIC)
    entry = parse_entry(token.encode("ascii"))
    verify_entry(entry, PUBLIC)
    assert entry.payload["value"] == 1.25
    with pytest.raises(SignatureError):
        verify_entry(entry, OTHER_PUBLIC)


@pytest.mark.parametrize(
    ("protected", "message"),
    [
        ({"alg": "EdDSA"}, "members alg, kid; found alg"),
        ({"alg": "EdDSA", "kid": "dev-1", "typ": "JWT"}, "members alg, kid; found alg, kid, typ"),
        ({"alg": "Ed25519", "kid": "dev-1"}, "expected alg 'EdDSA', found 'Ed25519'"),
        (
            {"kid": "dev-1", "alg": "EdDSA"},  # design.md v2: one byte form of the header
            'expected exactly the bytes {"alg":"EdDSA","kid":"dev-1"}',
        ),
    ],
    ids=["no_kid", "extra_typ", "rfc9864_alg", "members_reordered"],
)
def test_valid_joserfc_tokens_outside_our_profile_are_rejected(
    protected: dict[str, str], message: str
) -> None:
    algorithms = [protected["alg"]]
    token = jose.serialize_compact(protected, b"{}", jose_key(PUBLIC, SEED), algorithms=algorithms)
    with pytest.raises(MalformedEntryError, match=re.escape(message)):
        parse_compact(token.encode("ascii"))
