"""``farmtrace desk init|adduser|run``."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from chain.entries import event_payload
from chain.keyfile import SignerKey, load_key, save_key
from desk import KEY_FILE, SECRET_FILE, STATE_DIR, USERS_FILE, add_user, load_users
from farmtrace import _cmd_desk
from signer.transport import operator_identity

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_desk.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["desk", *argv])
    code: int = args.handler(args)
    return code


def reserved(state: Path) -> int:
    return int(json.loads((state / "seq.json").read_text())["reserved"])


def test_init_makes_a_private_desk_with_a_new_operator_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "desk"
    assert run("init", "--desk-dir", str(root), "--operator-id", "riverside") == 0
    out = capsys.readouterr().out
    key = load_key(root / KEY_FILE)
    assert key.id == "riverside" and key.public_key_b64 in out
    for name in (KEY_FILE, SECRET_FILE):
        assert (root / name).stat().st_mode & 0o777 == 0o600
    assert root.stat().st_mode & 0o777 == 0o700
    assert reserved(root / STATE_DIR) == 0
    assert run("init", "--desk-dir", str(root), "--operator-id", "riverside") == 2
    assert "set up already" in capsys.readouterr().err


def test_init_moves_an_existing_key_in_with_its_seq_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = SignerKey.generate("riverside")
    save_key(key, tmp_path / "riverside.key")
    old = tmp_path / "ops"
    with operator_identity(old, key) as identity:
        for _ in range(3):
            identity.sign_payload(
                lambda seq: event_payload("recalled", seq, 1, ["bird:1"], reason="x")
            )
    root = tmp_path / "desk"
    key_args = ("--operator-key", str(tmp_path / "riverside.key"))
    assert run("init", "--desk-dir", str(root), *key_args) == 2
    assert "--operator-state" in capsys.readouterr().err
    assert run("init", "--desk-dir", str(root), *key_args, "--operator-state", str(old)) == 0
    assert reserved(root / STATE_DIR) == 3  # the next event is seq 4: no seq reused
    with operator_identity(root / STATE_DIR, key) as identity:
        assert identity.next_seq() == 4


def test_adduser_keeps_a_hash_and_refuses_weak_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "desk"
    assert run("init", "--desk-dir", str(root), "--operator-id", "riverside") == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough secret\n"))
    assert run("adduser", "--desk-dir", str(root), "--username", "maria", "--password-stdin") == 0
    assert "added maria" in capsys.readouterr().out
    assert "a long enough secret" not in (root / USERS_FILE).read_text()
    assert set(load_users(root / USERS_FILE)) == {"maria"}
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert run("adduser", "--desk-dir", str(root), "--username", "jonas", "--password-stdin") == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert run("adduser", "--desk-dir", str(tmp_path / "nodesk"), "--username", "x") == 2


def test_run_refuses_a_desk_without_staff_or_with_a_bad_broker_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "desk"
    assert run("init", "--desk-dir", str(root), "--operator-id", "riverside") == 0
    common = ("--farm", "farm1", "--check-url", "http://127.0.0.1:9", "--port", "0")
    assert run("run", "--desk-dir", str(root), "--mqtt", "mqtt://127.0.0.1", *common) == 2
    assert "no staff accounts yet" in capsys.readouterr().err
    assert run("run", "--desk-dir", str(root), "--mqtt", "http://x", *common) == 2
    assert "MQTT URL" in capsys.readouterr().err


def test_run_serves_the_desk_until_sigterm(tmp_path: Path) -> None:
    root = tmp_path / "desk"
    assert run("init", "--desk-dir", str(root), "--operator-id", "riverside") == 0
    add_user(root / USERS_FILE, "maria", "a long enough secret")
    script = (
        "import argparse, sys\n"
        "from farmtrace import _cmd_desk\n"
        "p = argparse.ArgumentParser()\n"
        "_cmd_desk.add_parser(p.add_subparsers(dest='c', required=True))\n"
        "a = p.parse_args(sys.argv[1:])\n"
        "sys.exit(a.handler(a))\n"
    )
    argv = ["desk", "run", "--desk-dir", str(root), "--mqtt", "mqtt://127.0.0.1:9"]
    argv += ["--farm", "farm1", "--check-url", "http://127.0.0.1:9", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("desk running: http://127.0.0.1:"), line
        url = line.split()[-1].rstrip("/")
        with urllib.request.urlopen(url + "/login", timeout=10) as response:
            assert response.status == 200
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
