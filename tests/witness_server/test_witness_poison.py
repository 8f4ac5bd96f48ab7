"""Issue 11: a real witness process answers 400 to poison request bodies, and keeps cosigning."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_witness_process import submit
from witness_fake_log import FakeLog
from witness_harness import WitnessProcess, make_witness_dir

from chain.errors import MalformedWitnessMessageError
from chain.tlog_witness import AddCheckpointRequest


def poisons(log: FakeLog) -> dict[str, bytes]:
    good = log.body(0, 3)
    head, _, note = good.partition(b"\n\n")
    origin, _size, rest = note.split(b"\n", 2)
    return {
        "nested json": b'{"old":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "overflowing number": b"old 1e999999\n\n" + note,
        "5000-digit old size": b"old " + b"7" * 5000 + b"\n\n" + note,
        "5000-digit tree size": head + b"\n\n" + b"\n".join([origin, b"9" * 5000, rest]),
        "invalid utf-8": good.replace(b"old 0", b"old \xff\xfe"),
        "invalid utf-8 in the note": head + b"\n\n" + note.replace(b"\n", b"\xc3\x28\n", 1),
        "nul bytes": b"\0" * 1000,
    }


def test_poison_bodies_get_400_and_the_witness_keeps_cosigning(tmp_path: Path) -> None:
    log = FakeLog()
    directory = make_witness_dir(tmp_path / "w", "w.test/witness", [(log.origin, log.vkey)])
    with WitnessProcess(directory) as witness:
        for name, body in poisons(log).items():
            status, text = submit(witness.port, body)
            assert status == 400, (name, text)
            assert b"malformed request" in text, (name, text)
        status, text = submit(witness.port, log.body(0, 3))
        assert status == 200, text
        assert witness.running
    assert "Traceback" not in witness.output()


FRAGMENTS = [b"[" * 3000, b"1e999999", b"9" * 5000, b"\xff", b"\xc3\x28", b"\0", b"\n", b"\n\n"]
GOOD = FakeLog("fuzz.test/log").body(2, 9)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(GOOD)), st.integers(0, 40), st.sampled_from(FRAGMENTS))
def test_a_good_body_with_poison_spliced_in_parses_or_raises_the_typed_error(
    at: int, cut: int, fragment: bytes
) -> None:
    body = GOOD[:at] + fragment + GOOD[at + cut :]
    with contextlib.suppress(MalformedWitnessMessageError):
        AddCheckpointRequest.from_bytes(body)
