"""Key files, the trust root document and the strict base64 codecs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chain import note
from chain._encoding import b64_decode, b64_encode, b64url_decode, b64url_encode
from chain.errors import MalformedError
from chain.keyfile import SignerKey, load_key, save_key
from chain.trust import TrustRoot


def test_key_file_round_trips_with_owner_only_mode(tmp_path: Path) -> None:
    key = SignerKey.generate("barn1-temp")
    path = tmp_path / "k.key"
    save_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key
    with pytest.raises(FileExistsError):
        save_key(SignerKey.generate("other"), path)
    save_key(SignerKey.generate("other"), path, overwrite=True)
    assert load_key(path).id == "other"


def test_a_key_file_whose_public_key_does_not_match_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    save_key(SignerKey.generate("dev"), path)
    doc = json.loads(path.read_text())
    doc["pubkey"] = SignerKey.generate("dev").public_key_b64
    path.write_text(json.dumps(doc))
    with pytest.raises(MalformedError, match="does not belong"):
        load_key(path)
    path.write_text("{}")
    with pytest.raises(MalformedError):
        load_key(path)


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "a#", "-lead", "x" * 65, "bird:1", "é"])
def test_signer_ids_are_mqtt_topic_levels(bad: str) -> None:
    with pytest.raises(MalformedError):
        SignerKey.generate(bad)


def test_seeds_make_keys_deterministically() -> None:
    a = SignerKey.generate("dev", seed=bytes(32))
    assert a == SignerKey.generate("dev", seed=bytes(32))
    # RFC 8032 section 7.1, TEST 1
    rfc = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert SignerKey.generate("dev", seed=rfc).public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    with pytest.raises(MalformedError):
        SignerKey.generate("dev", seed=bytes(31))


def test_trust_root_round_trips_and_checks_itself() -> None:
    _, verifier = note.generate_key("farm.example/log")
    admin = SignerKey.generate("admin")
    trust = TrustRoot("farm.example/log", verifier, (("admin", admin.public_key),))
    assert TrustRoot.from_json(trust.to_json()) == trust
    assert trust.admin_keys == {"admin": admin.public_key}
    with pytest.raises(MalformedError, match="origin"):
        TrustRoot("other.example/log", verifier, (("admin", admin.public_key),))
    with pytest.raises(MalformedError, match="administrator"):
        TrustRoot("farm.example/log", verifier, ())
    with pytest.raises(MalformedError):
        TrustRoot.from_json('{"origin": "x"}')


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xff\xfe\xfd\xfc"])
def test_base64_round_trips(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
    assert b64_decode(b64_encode(data)) == data


@pytest.mark.parametrize("bad", ["Zg==", "Zg=", "Zh", "Z", "a+b/", "Zm9v\n", " Zm9v", "Zm9v!"])
def test_base64url_accepts_only_the_canonical_unpadded_form(bad: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(bad)


@pytest.mark.parametrize("bad", ["Zg", "Zg=", "Zh==", "Zm9v_-==", "Zm9v\n", "Zm9v===="])
def test_base64_accepts_only_the_canonical_padded_form(bad: str) -> None:
    with pytest.raises(ValueError):
        b64_decode(bad)
