"""kill -9 a device mid-stream: no seq is ever handed out twice, no kept entry is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chain.entries import parse_entry, verify_entry
from signer.device import Device
from signer.identity import DeviceIdentity
from signer.outbox import Outbox

_SEQ_WRITER = textwrap.dedent(
    """
    import sys
    from signer.identity import DeviceIdentity

    identity = DeviceIdentity.open_or_create(
        sys.argv[1], "b1-temp", seed=bytes(32), reserve_block=int(sys.argv[2])
    )
    while True:
        print(identity.next_seq(), flush=True)
    """
)

_OUTBOX_WRITER = textwrap.dedent(
    """
    import sys
    from signer.outbox import Outbox

    outbox = Outbox.open(sys.argv[1])
    seq = outbox.highest_seq
    while True:
        seq += 1
        outbox.put(seq, (str(seq).encode() + b":") * 40)
        print("put", seq, flush=True)
        if seq % 7 == 0:
            outbox.acknowledge(seq - 20)
            print("ack", seq - 20, flush=True)
    """
)

_DEVICE = textwrap.dedent(
    """
    import sys
    from signer.device import Device
    from signer.identity import DeviceIdentity
    from signer.outbox import Outbox

    identity = DeviceIdentity.open_or_create(sys.argv[1] + "/id", "b1-temp", seed=bytes(32))
    device = Device(identity, Outbox.open(sys.argv[1] + "/outbox.db"))
    ts = 1_767_225_600_000
    while True:
        ts += 1000
        print(device.record("temperature", "barn:b1", 21.5, "Cel", ts), flush=True)
    """
)


def _run_and_kill(script: str, args: list[str], rng: random.Random) -> list[str]:
    """Start ``script``, let it print a few lines, SIGKILL it; return every line it printed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, env=env
    ) as child:
        assert child.stdout is not None
        lines = []
        for _ in range(rng.randint(3, 40)):
            line = child.stdout.readline()
            assert line, "the child died on its own"
            lines.append(line.strip())
        time.sleep(rng.random() * 0.01)
        child.send_signal(signal.SIGKILL)
        # What it printed before it died; a line the kill cut short does not count.
        lines += [line.strip() for line in child.stdout if line.endswith("\n")]
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return lines


@pytest.mark.parametrize("reserve_block", [1, 16])
def test_sigkill_never_makes_a_device_reuse_a_seq(tmp_path: Path, reserve_block: int) -> None:
    rng = random.Random(reserve_block)
    printed: list[int] = []
    for _ in range(4):
        seqs = [
            int(s) for s in _run_and_kill(_SEQ_WRITER, [str(tmp_path), str(reserve_block)], rng)
        ]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        if printed:
            assert printed[-1] < seqs[0] <= printed[-1] + 1 + reserve_block  # at most a gap
        printed += seqs
    with DeviceIdentity.open(tmp_path, reserve_block=reserve_block) as identity:
        assert identity.next_seq() > printed[-1]


def test_sigkill_loses_no_entry_the_outbox_accepted(tmp_path: Path) -> None:
    rng = random.Random(2)
    path = tmp_path / "outbox.db"
    puts: list[int] = []
    acks = [0]
    for _ in range(4):
        for line in _run_and_kill(_OUTBOX_WRITER, [str(path)], rng):
            verb, seq = line.split()
            (puts if verb == "put" else acks).append(int(seq))
        with Outbox.open(path) as outbox:
            assert outbox.acknowledged >= max(acks)
            kept = outbox.pending(limit=100_000)
            assert {e.seq for e in kept} >= {s for s in puts if s > outbox.acknowledged}
            assert [e.seq for e in kept] == list(
                range(outbox.acknowledged + 1, outbox.highest_seq + 1)
            )
            assert all(e.raw == (str(e.seq).encode() + b":") * 40 for e in kept)
            assert (outbox.count, outbox.bytes_used) == (len(kept), sum(len(e.raw) for e in kept))


def test_sigkill_mid_recording_keeps_every_recorded_reading_signed_and_unique(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    recorded: list[int] = []
    for _ in range(3):
        recorded += [int(s) for s in _run_and_kill(_DEVICE, [str(tmp_path)], rng)]
    assert recorded == sorted(set(recorded))
    identity = DeviceIdentity.open(tmp_path / "id")
    with Outbox.open(tmp_path / "outbox.db") as outbox:
        device = Device(identity, outbox)
        kept = device.unsent(limit=100_000)
        assert {e.seq for e in kept} >= set(recorded)
        for entry in kept:
            parsed = parse_entry(entry.raw)
            verify_entry(parsed, identity.key.public_key)
            assert parsed.seq == entry.seq
        assert device.record("temperature", "barn:b1", 20.0, "Cel", 1) > max(recorded)
    identity.close()
