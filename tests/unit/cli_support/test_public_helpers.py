"""The public functions the command line calls, on their own (no processes, no network)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chain import note
from chain.errors import GS1Error, MalformedError
from chain.gs1 import DigitalLink, parse_gtin_pair
from chain.keyfile import SignerKey, save_key, save_log_key
from devices.service import DeviceSettings, load_settings
from readapi.base_url import base_url_problem
from signer.log_checks import rejections_text
from signer.registration import parse_public_key, read_public_key_file
from verify.inputs import load_trust_root, load_witness_policy, parse_block_hash

KEY = SignerKey.generate("vet-anna", seed=bytes(range(32)))


def test_a_public_key_is_32_bytes_of_base64url_with_or_without_padding() -> None:
    assert parse_public_key(KEY.public_key_b64, "--pubkey") == KEY.public_key
    assert parse_public_key(KEY.public_key_b64 + "=", "--pubkey") == KEY.public_key
    for bad in ("", "short", KEY.public_key_b64 + "AAAA", "!" * 43):
        with pytest.raises(ValueError, match="--pubkey: expected a base64url 32-byte"):
            parse_public_key(bad, "--pubkey")


def test_a_public_key_file_is_a_key_file_or_its_text_and_names_its_signer(
    tmp_path: Path,
) -> None:
    save_key(KEY, tmp_path / "anna.key")
    assert read_public_key_file(tmp_path / "anna.key", "vet-anna") == KEY.public_key
    (tmp_path / "anna.pub").write_text(f"pubkey {KEY.public_key_b64}\n")
    assert read_public_key_file(tmp_path / "anna.pub", "vet-anna") == KEY.public_key
    with pytest.raises(ValueError, match="holds the key of 'vet-anna', not of 'vet-bob'"):
        read_public_key_file(tmp_path / "anna.key", "vet-bob")
    (tmp_path / "broken.key").write_text("{not json")
    with pytest.raises(ValueError, match="expected a key file with a pubkey member"):
        read_public_key_file(tmp_path / "broken.key", "vet-anna")
    with pytest.raises(OSError):
        read_public_key_file(tmp_path / "missing.key", "vet-anna")


def test_rejections_are_put_into_words_only_when_they_grew() -> None:
    assert "counts what it rejects" in rejections_text(None, {"bad_signature": 1.0})
    same = {"bad_signature": 2.0}
    assert "counted no rejection" in rejections_text(same, dict(same))
    grown = rejections_text(same, {"bad_signature": 3.0, "unknown_signer": 1.0})
    assert grown.endswith("bad_signature (+1), unknown_signer (+1).")


def test_device_settings_come_from_the_toml_file_overridden_by_options(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text('state_dir = "/var/d"\nfarm = "f1"\nmqtt = "mqtt://h"\ninterval = 30\n')
    settings = load_settings(config, {"farm": "f2", "speed": None, "handler": print})
    assert settings == DeviceSettings(Path("/var/d"), "f2", mqtt="mqtt://h", interval=30.0)
    config.write_text('state_dir = "/var/d"\nfarm = "f1"\nmqtt = "mqtt://h"\ncolour = "red"\n')
    with pytest.raises(ValueError, match=r"unknown settings \['colour'\]"):
        load_settings(config, {})
    with pytest.raises(ValueError, match="exactly one of --mqtt and --serial"):
        load_settings(None, {"state_dir": Path("d"), "farm": "f", "mqtt": "m", "serial": "s"})
    with pytest.raises(ValueError, match=r"--farm \(or farm in --config\) is required"):
        load_settings(None, {"state_dir": Path("d"), "mqtt": "m"})
    with pytest.raises(ValueError, match="could not convert"):
        load_settings(None, {"state_dir": Path("d"), "farm": "f", "mqtt": "m", "speed": "x"})


def test_a_gtin_pair_names_a_pack_or_a_lot() -> None:
    assert parse_gtin_pair("9506000134352/S0001", "serial") == DigitalLink(
        "09506000134352", serial="S0001"
    )
    assert parse_gtin_pair("09506000134352/L1", "lot") == DigitalLink("09506000134352", lot="L1")
    with pytest.raises(GS1Error, match="expected GTIN/LOT"):
        parse_gtin_pair("09506000134352", "lot")
    with pytest.raises(GS1Error):
        parse_gtin_pair("09506000134353/S0001", "serial")  # check digit


def test_a_log_key_is_written_once_with_mode_0600(tmp_path: Path) -> None:
    signer, _ = note.generate_key("farm.example/log")
    path = tmp_path / "log.key"
    save_log_key(signer, path)
    assert path.read_text() == signer + "\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        save_log_key(signer, path)
    save_log_key(signer, path, overwrite=True)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8080", None),
        ("https://farm.example/prefix", None),
        ("ftp://farm.example", "expected http://HOST[:PORT]"),
        ("http://farm.example:99999", "out of range"),
        ("http://farm.example/?a=1", "no query or fragment"),
    ],
)
def test_a_base_url_is_http_without_query(url: str, problem: str | None) -> None:
    found = base_url_problem(url, "--check-url")
    assert found is None if problem is None else (found is not None and problem in found)
    if found is not None:
        assert found.startswith("--check-url ")


def test_pinned_inputs_are_read_or_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(MalformedError, match=r"cannot read the trust root .*missing\.json") as exc:
        load_trust_root(tmp_path / "missing.json")
    assert exc.value.reason == "unreadable_input"
    (tmp_path / "w.json").write_text('{"quorum": 3, "witnesses": []}')
    with pytest.raises(MalformedError, match=r"cannot read the witness policy .*w\.json"):
        load_witness_policy(tmp_path / "w.json")
    assert parse_block_hash(" " + "AB" * 32 + "\n") == "ab" * 32
    with pytest.raises(MalformedError, match="a block hash is 64 hex digits"):
        parse_block_hash("ab" * 31)
