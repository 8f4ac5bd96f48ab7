"""The gateway's dead-letter file: complete records, bounded size, never an exception."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from gateway.dead_letter import DeadLetterFile, Strikes, fingerprint


def test_a_record_names_time_topic_payload_and_error(tmp_path: Path) -> None:
    dead = DeadLetterFile(tmp_path / "dead-letter.jsonl")
    payload = b"\xff[[[\x00"
    assert dead.add("farmtrace/f/d/status", payload, "RecursionError: deep", 5)
    (line,) = (tmp_path / "dead-letter.jsonl").read_text().splitlines()
    assert json.loads(line) == {
        "time_ms": 5,
        "topic": "farmtrace/f/d/status",
        "payload_b64": base64.b64encode(payload).decode(),
        "error": "RecursionError: deep",
    }


def test_the_file_is_rotated_so_at_most_twice_the_bound_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "dead-letter.jsonl"
    dead = DeadLetterFile(path, max_bytes=4096)
    for i in range(200):
        assert dead.add("t", bytes([i]) * 500, f"error {i}", i)
        assert path.stat().st_size <= 4096
    rotated = path.with_name("dead-letter.jsonl.1")
    assert rotated.stat().st_size <= 4096
    newest = [json.loads(line)["time_ms"] for line in path.read_text().splitlines()]
    older = [json.loads(line)["time_ms"] for line in rotated.read_text().splitlines()]
    assert newest[-1] == 199 and older[-1] == newest[0] - 1  # nothing between them lost


def test_an_unwritable_file_logs_the_whole_record_instead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir").mkdir()
    dead = DeadLetterFile(tmp_path / "dir")  # a directory: open() fails
    with caplog.at_level(logging.ERROR):
        assert not dead.add("farmtrace/f/d/entry", b"poison", "boom", 1)
    assert base64.b64encode(b"poison").decode() in caplog.text


def test_strikes_are_counted_per_message_and_bounded() -> None:
    strikes = Strikes()
    a, b = fingerprint("t", b"a"), fingerprint("t", b"b")
    assert fingerprint("t", b"a") == a != fingerprint("u", b"a")
    assert strikes.add(a) == 1 and strikes.add(a) == 2 and strikes.add(b) == 1
    strikes.clear(a)
    assert strikes.count(a) == 0 and strikes.count(b) == 1
    for i in range(5000):
        strikes.add(fingerprint("t", str(i).encode()))
    assert strikes.count(b) == 0  # the oldest were forgotten
    assert strikes.count(fingerprint("t", b"4999")) == 1
