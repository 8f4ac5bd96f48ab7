"""Issue 16: the gateway's signature workers (gateway.verify_workers) under kill -9.

A real Mosquitto and a real ``farmtrace gateway run`` process with one
signature worker (``start_stream`` names it). A stream of readings is
published while a worker process is killed with SIGKILL again and again: the
gateway notices, starts another, resubmits the batch the dead one held, and
every reading reaches the log exactly once. And when the gateway itself is
killed with SIGKILL, its worker processes (and the forkserver that started
them) end too, and the restarted gateway commits every seq exactly once.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from gateway_harness import committed_entries, metric
from mqtt_broker import Broker
from test_gateway_crash import DEVICES, READINGS, resend_until_receipted, start_stream
from test_gateway_ingest import audit_ok

from chain.entries import parse_entry

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no workers")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Every descendant of ``pid``, as (pid, start time) so that a reused pid is not mistaken."""
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in _children(parent)]
        found += [(child, _started(child)) for child in frontier]
    return found


def _started(pid: int) -> str:
    """``pid``'s start time (clock ticks after boot), or "" once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X") and fields[19] == started


def _workers(gateway_pid: int) -> list[int]:
    """The signature workers: the children of the gateway's forkserver."""
    return [w for child in _children(gateway_pid) for w in _children(child)]


def _wait_worker(gateway_pid: int, not_: int | None, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while True:
        workers = [w for w in _workers(gateway_pid) if w != not_]
        if workers:
            return workers[0]
        assert time.monotonic() < deadline, "no signature worker appeared"
        time.sleep(0.02)


def test_kill_9_a_worker_during_a_stream_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, gateway, pub, sent, streamer = start_stream(tmp_path / "gw", broker, chunk=10)
    assert gateway.proc is not None
    kills, worker = 0, None
    try:
        while streamer.is_alive() or kills < 3:
            worker = _wait_worker(gateway.proc.pid, worker)
            time.sleep(0.1)
            os.kill(worker, signal.SIGKILL)
            kills += 1
        streamer.join()
        for device, raws in sent.items():
            resend_until_receipted(pub, device, raws)
        url = gateway.http_url + "/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        assert metric(text, "farmtrace_verify_worker_restarts_total") >= 1
        assert metric(text, "farmtrace_entries_rejected_total", "bad_signature") == 0
        assert gateway.proc.poll() is None, "the gateway itself must survive"
        assert gateway.terminate() == 0
    finally:
        streamer.join()
        pub.close()
        if gateway.proc.poll() is None:
            gateway.kill()
    assert kills >= 3
    assert gateway.log is not None
    assert "signature worker" in gateway.log.read_text()
    readings = [e for e in committed_entries(data_dir) if parse_entry(e).type == "reading"]
    assert len(readings) == len(set(readings)) == DEVICES * READINGS
    assert set(readings) == {raw for raws in sent.values() for raw in raws}
    audit_ok(data_dir)


def test_kill_9_the_gateway_ends_its_workers_and_a_restart_commits_each_seq_once(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, gateway, pub, sent, streamer = start_stream(tmp_path / "gw", broker, chunk=10)
    assert gateway.proc is not None
    try:
        _wait_worker(gateway.proc.pid, None)  # the stream is flowing through a worker
        family = _descendants(gateway.proc.pid)  # the forkserver, its workers, ...
        assert len(family) >= 2
        gateway.kill()
        deadline = time.monotonic() + 5
        while lingering := [pid for pid, started in family if _alive(pid, started)]:
            assert time.monotonic() < deadline, f"still running after the gateway: {lingering}"
            time.sleep(0.02)
        gateway.start()
        streamer.join()
        for device, raws in sent.items():
            resend_until_receipted(pub, device, raws)
        assert gateway.terminate() == 0
    finally:
        streamer.join()
        pub.close()
        if gateway.proc.poll() is None:
            gateway.kill()
    readings = [e for e in committed_entries(data_dir) if parse_entry(e).type == "reading"]
    assert len(readings) == len(set(readings)) == DEVICES * READINGS
    assert set(readings) == {raw for raws in sent.values() for raw in raws}
    audit_ok(data_dir)
