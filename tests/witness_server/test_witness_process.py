"""``farmtrace witness`` as real processes: kill -9, clean restarts, one server per dir, CLI."""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from witness_fake_log import FakeLog
from witness_harness import ROOT, WitnessProcess, make_witness_dir

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.tlog_witness import parse_size
from chain.trust import TrustRoot
from farmtrace.cli import main as farmtrace_main
from witness import read_states


def submit(port: int, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/add-checkpoint", body=body)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_state_survives_kill_9_during_a_stream_of_checkpoints(tmp_path: Path) -> None:
    log = FakeLog()
    directory = make_witness_dir(tmp_path / "w", "w.test/witness", [(log.origin, log.vkey)])
    rng = random.Random(6)
    witness = WitnessProcess(directory)
    witness.start()
    known, acked = 0, 0
    for _round in range(5):
        killer = threading.Timer(rng.uniform(0.05, 0.4), witness.kill)
        killer.start()
        while True:  # push until the kill cuts us off
            size = known + rng.randint(1, 4)
            try:
                status, answer = submit(witness.port, log.body(known, size))
            except (OSError, http.client.HTTPException):  # killed mid-answer: IncompleteRead
                break
            if status == 200:
                known = acked = size
            else:
                assert status == 409, answer
                known = parse_size(answer)
        killer.join()
        witness.restart()
        states = read_states(directory)
        assert states[log.origin].size >= acked
        stored = states[log.origin]
        assert open_checkpoint(stored.note, log.vkey).size == stored.size
        assert verify_cosignatures(stored.note, [witness.vkey])
        stale = stored.size - 1 if stored.size else 1
        assert submit(witness.port, log.body(stale, stored.size + 1)) == (
            409,
            f"{stored.size}\n".encode(),
        )
        known = stored.size
    assert acked > 10, "the client never got going"
    witness.stop()


def test_clean_restart_keeps_state_and_the_port(tmp_path: Path) -> None:
    log = FakeLog()
    directory = make_witness_dir(tmp_path / "w", "w.test/witness", [(log.origin, log.vkey)])
    with WitnessProcess(directory) as witness:
        assert submit(witness.port, log.body(0, 11))[0] == 200
        before = get(witness.port, "/latest-checkpoint?origin=log.test%2Fa")
        port = witness.port
        assert witness.stop() == 0
        assert "witness stopped" in witness.output()
        witness.restart()
        assert witness.port == port
        assert get(witness.port, "/latest-checkpoint?origin=log.test%2Fa") == before
        assert get(witness.port, "/")[0] == 200
        answer = get(witness.port, "/")[1]
        assert json.loads(answer)["logs"][0]["size"] == 11
        assert submit(witness.port, log.body(11, 12))[0] == 200


def test_a_second_server_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    directory = make_witness_dir(tmp_path / "w", "w.test/witness")
    with WitnessProcess(directory):
        command = [sys.executable, "-m", "farmtrace", "witness", "serve"]
        second = subprocess.run(
            [*command, "--dir", str(directory), "--port", "0"],
            capture_output=True,
            cwd=ROOT,
            timeout=30,
        )
    assert second.returncode == 2
    assert b"another witness process serves this directory" in second.stderr


def test_cli_init_add_log_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, other = FakeLog(), FakeLog("log.test/b")
    trust = tmp_path / "trust.json"
    trust.write_text(TrustRoot(log.origin, log.vkey, (("admin", bytes(32)),)).to_json())
    directory = tmp_path / "w"
    cli = ["witness"]
    assert farmtrace_main([*cli, "init", "--dir", str(directory), "--name", "w.test/x",
                           "--trust", str(trust)]) == 0  # fmt: skip
    vkey = capsys.readouterr().out.strip()
    assert vkey.startswith("w.test/x+")
    assert (directory / "witness.key").stat().st_mode & 0o777 == 0o600
    assert farmtrace_main([*cli, "init", "--dir", str(directory), "--name", "w.test/x"]) == 2
    assert "exists" in capsys.readouterr().err
    add = [*cli, "add-log", "--dir", str(directory)]
    assert farmtrace_main([*add, "--trust", str(trust)]) == 0
    assert "already followed" in capsys.readouterr().out
    assert farmtrace_main([*add, "--origin", other.origin, "--log-key", other.vkey]) == 0
    assert "now follows log.test/b" in capsys.readouterr().out
    assert farmtrace_main([*add, "--origin", other.origin]) == 2
    assert farmtrace_main([*add, "--origin", "x.test/log", "--log-key", vkey]) == 2
    assert "expected type 0x01" in capsys.readouterr().err
    assert farmtrace_main([*cli, "show", "--dir", str(directory)]) == 0
    assert capsys.readouterr().out.strip() == vkey
    assert farmtrace_main([*cli, "show", "--dir", str(directory), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [entry["origin"] for entry in status["logs"]] == [log.origin, other.origin]
    assert farmtrace_main([*cli, "show", "--dir", str(tmp_path / "none")]) == 2
