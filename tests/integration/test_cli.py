"""The farmtrace command line, run as a user would."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from chain.keyfile import load_key
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir

Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["keygen"],
        ["audit"],
        ["gateway"],
        ["gateway", "init"],
        ["gateway", "run"],
        ["broker", "config"],
        ["device", "init"],
        ["device", "run"],
        ["device", "register"],
        ["bridge"],
    ],
)
def test_every_level_of_help_explains_with_an_example(run_cli: Cli, command: list[str]) -> None:
    code, out, _ = run_cli(*command, "--help")
    assert code == 0
    assert "usage: farmtrace" in out
    if command not in (["gateway"], ["device"]):
        assert "example" in out and "farmtrace " in out.split("example", 1)[1]


def test_keygen_writes_a_private_key_file(run_cli: Cli, tmp_path: Path) -> None:
    out_file = tmp_path / "barn1-temp.key"
    code, out, _ = run_cli("keygen", "--id", "barn1-temp", "--out", out_file)
    assert code == 0
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    key = load_key(out_file)
    assert key.id == "barn1-temp" and key.public_key_b64 in out
    code, _, err = run_cli("keygen", "--id", "barn1-temp", "--out", out_file)
    assert code == 2 and "exists" in err
    assert load_key(out_file) == key  # not overwritten


def test_keygen_rejects_an_id_that_is_not_a_topic_level(run_cli: Cli, tmp_path: Path) -> None:
    code, _, err = run_cli("keygen", "--id", "barn/1", "--out", tmp_path / "k")
    assert code == 2 and "signer id" in err
    assert not (tmp_path / "k").exists()


def test_keygen_log_key_prints_the_verifier(run_cli: Cli, tmp_path: Path) -> None:
    code, out, _ = run_cli("keygen", "--log", "farm.example/log", "--out", tmp_path / "log.key")
    assert code == 0
    signer = (tmp_path / "log.key").read_text()
    assert signer.startswith("PRIVATE+KEY+farm.example/log+")
    assert "farm.example/log+" in out and "PRIVATE" not in out


def test_gateway_init_then_audit_is_clean(run_cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "gw"
    code, out, _ = run_cli("gateway", "init", "--data-dir", data, "--origin", "farm.example/log")
    assert code == 0, out
    trust = TrustRoot.from_json((data / "trust.json").read_text())
    assert [admin for admin, _ in trust.admins] == ["admin"]
    assert stat.S_IMODE((data / "keys" / "log.key").stat().st_mode) == 0o600
    code, out, _ = run_cli("audit", "--data-dir", data, "--no-progress")
    assert code == 0 and "RESULT: OK" in out
    code, _, err = run_cli("gateway", "init", "--data-dir", data, "--origin", "farm.example/log")
    assert code == 2 and "already holds a log" in err


def test_audit_exit_codes_and_json(run_cli: Cli, demo_dir: DataDir, tmp_path: Path) -> None:
    code, out, _ = run_cli("audit", "--data-dir", demo_dir.root, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["entries"] == 581
    with Store.open(demo_dir.log) as store:
        height = 3
        first = store.block(height).first_index
    db = plyvel.DB(str(demo_dir.log))
    key = b"e:" + (first + 7).to_bytes(8, "big")
    db.put(key, db.get(key).replace(b".", b".A", 1), sync=True)
    db.close()
    code, out, _ = run_cli("audit", "--data-dir", demo_dir.root, "--no-progress")
    assert code == 1
    assert f"block {height}, entry {first + 7}: malformed_entry" in out
    code, out, _ = run_cli("audit", "--data-dir", demo_dir.root, "--json")
    failures = json.loads(out)["failures"]
    assert {(f["block"], f["entry"]) for f in failures} >= {(height, first + 7)}
    code, _, err = run_cli("audit", "--data-dir", tmp_path / "nothing")
    assert code == 2
    assert "cannot read the trust root" in err


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("farmtrace")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "subcommand" not in result.stderr
    assert "audit" in result.stdout
