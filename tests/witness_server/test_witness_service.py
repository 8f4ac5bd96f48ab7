"""WitnessService and StateStore: atomic check-and-persist, durable state, evidence, metrics."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest
from witness_fake_log import FakeLog

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.errors import StorageError
from witness import LogState, Refusal, StateStore, WitnessService, init_witness_dir

NOW = 1_760_000_000


def open_service(directory: Path, clock: float = NOW) -> WitnessService:
    return WitnessService.open(directory, clock=lambda: clock)


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def wdir(tmp_path: Path, log: FakeLog) -> Path:
    init_witness_dir(tmp_path / "w", "w.test/witness", [(log.origin, log.vkey)])
    return tmp_path / "w"


def refused(service: WitnessService, body: bytes) -> Refusal:
    with pytest.raises(Refusal) as caught:
        service.add_checkpoint(body)
    return caught.value


def metric(service: WitnessService, name: str, **labels: str) -> float:
    value = service.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def race(service: WitnessService, bodies: list[bytes]) -> list[int | str]:
    """Send ``bodies`` from as many threads at once; each result: 409's size or the line."""
    barrier = threading.Barrier(len(bodies))
    results: list[int | str] = [0] * len(bodies)

    def send(i: int) -> None:
        barrier.wait()
        try:
            results[i] = service.add_checkpoint(bodies[i])
        except Refusal as refusal:
            assert refusal.status == 409, refusal
            assert refusal.latest_size is not None
            results[i] = refusal.latest_size

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_from_the_same_old_size_one_wins(wdir: Path, log: FakeLog) -> None:
    def slow_clock() -> float:  # widens the window between the check and the write
        time.sleep(0.01)
        return NOW

    service = WitnessService.open(wdir, clock=slow_clock)
    saved: list[int] = []
    save = service.store.save

    def recording_save(state: LogState) -> None:
        save(state)
        saved.append(state.size)

    service.store.save = recording_save  # type: ignore[method-assign]
    service.add_checkpoint(log.body(0, 5))
    sizes = [8, 12, 6, 20, 9, 15]
    results = race(service, [log.body(5, n) for n in sizes])
    winners = [sizes[i] for i, r in enumerate(results) if isinstance(r, str)]
    assert len(winners) == 1, results
    assert [r for r in results if not isinstance(r, str)] == [winners[0]] * (len(sizes) - 1)
    assert saved == [5, winners[0]]
    state = service.store.get(log.origin)
    assert state is not None and state.size == winners[0]
    assert metric(service, "farmtrace_witness_requests_total", outcome="conflict") == 5
    service.close()


def test_state_survives_a_restart(wdir: Path, log: FakeLog) -> None:
    service = open_service(wdir)
    line = service.add_checkpoint(log.body(0, 9))
    before = service.latest_note(log.origin)
    service.close()
    again = open_service(wdir, clock=NOW + 5)
    assert again.latest_note(log.origin) == before
    assert before is not None and before.endswith(line)
    assert open_checkpoint(before, log.vkey) == log.checkpoint(9)
    assert refused(again, log.body(4, 12)).latest_size == 9
    again.add_checkpoint(log.body(9, 12))
    assert metric(again, "farmtrace_witness_cosigned_size", origin=log.origin) == 12
    again.close()


def test_a_second_user_of_the_directory_is_refused(wdir: Path) -> None:
    first = open_service(wdir)
    with pytest.raises(StorageError, match="another witness process serves this directory"):
        StateStore(wdir)
    first.close()
    StateStore(wdir).close()


def test_left_over_temporary_files_are_ignored_and_removed(wdir: Path, log: FakeLog) -> None:
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 4))
    service.close()
    (state_file,) = (wdir / "state").glob("*.json")
    torn = state_file.with_name(f".{state_file.name}.tmp")
    torn.write_bytes(state_file.read_bytes()[:37])
    again = open_service(wdir)
    assert not torn.exists()
    state = again.store.get(log.origin)
    assert state is not None and state.size == 4
    again.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: text.replace('"size": 4', '"size": 3'),
        lambda text: "",
    ],
    ids=["truncated", "size-not-the-note's", "empty"],
)
def test_a_corrupt_state_file_stops_the_witness(wdir: Path, log: FakeLog, damage) -> None:
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 4))
    service.close()
    (state_file,) = (wdir / "state").glob("*.json")
    state_file.write_text(damage(state_file.read_text()))
    with pytest.raises(StorageError, match="corrupt witness state"):
        open_service(wdir)
    # the lock was released on failure: once the file is dealt with, it starts
    state_file.unlink()
    open_service(wdir).close()


def test_fork_and_bad_proof_are_kept_as_evidence_and_logged(
    wdir: Path, log: FakeLog, caplog: pytest.LogCaptureFixture
) -> None:
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 6))
    fork = log.sibling(b" forked")
    bodies = [fork.body(6, 6), fork.body(6, 10)]
    with caplog.at_level(logging.WARNING, logger="witness"):
        assert [refused(service, b).status for b in bodies] == [422, 422]
        assert refused(service, bodies[0]).reason == "fork"  # the same evidence, kept once
    kept = sorted(p.read_bytes() for p in (wdir / "evidence").glob("*.txt"))
    assert kept == sorted(bodies)
    assert metric(service, "farmtrace_witness_evidence_total", kept="true") == 3
    warning = caplog.records[0].getMessage()
    assert log.origin in warning and "size 6" in warning and "old size 6" in warning
    assert base64.b64encode(fork.root(6)).decode() in warning
    state = service.store.get(log.origin)
    assert state is not None and (state.size, state.root) == (6, log.root(6))
    service.close()


def test_evidence_is_bounded(wdir: Path, log: FakeLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("witness._state.MAX_EVIDENCE_FILES", 2)
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 3))
    for n in range(4):
        assert refused(service, log.sibling(b"%d" % n).body(3, 3)).reason == "fork"
    assert len(list((wdir / "evidence").glob("*.txt"))) == 2
    assert metric(service, "farmtrace_witness_evidence_total", kept="false") == 2
    service.close()


def test_malformed_bodies_are_400_and_counted(wdir: Path, log: FakeLog) -> None:
    service = open_service(wdir)
    good = log.body(0, 3)
    for body in [b"", b"garbage", b"old 01\n\n" + good.split(b"\n\n", 1)[1], b"\xff" + good]:
        found = refused(service, body)
        assert (found.status, found.reason) == (400, "malformed")
        assert str(found).startswith("malformed request: ")
    assert metric(service, "farmtrace_witness_requests_total", outcome="malformed") == 4
    assert service.store.get(log.origin) is None
    service.close()


def test_unwritable_state_is_500_and_nothing_changes(wdir: Path, log: FakeLog) -> None:
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 3))
    shutil.rmtree(wdir / "state")
    (wdir / "state").write_text("not a directory")
    found = refused(service, log.body(3, 5))
    assert (found.status, found.reason) == (500, "storage_error")
    state = service.store.get(log.origin)
    assert state is not None and state.size == 3
    service.close()


def test_status_lists_every_log(tmp_path: Path, log: FakeLog) -> None:
    other = FakeLog("log.test/b")
    wdir = tmp_path / "two"
    init_witness_dir(wdir, "w.test/witness", [(log.origin, log.vkey), (other.origin, other.vkey)])
    service = open_service(wdir)
    service.add_checkpoint(log.body(0, 2))
    status = service.status()
    assert status["name"] == "w.test/witness" and status["vkey"] == service.config.vkey
    assert status["logs"] == [
        {
            "origin": log.origin,
            "size": 2,
            "root": base64.b64encode(log.root(2)).decode(),
            "cosigned_at": NOW,
        },
        {"origin": other.origin, "size": 0, "root": None, "cosigned_at": None},
    ]
    served = service.latest_note(log.origin)
    assert served is not None
    assert verify_cosignatures(served, [service.config.vkey]) == {"w.test/witness": NOW}
    on_disk = json.loads(next((wdir / "state").glob("*.json")).read_text())
    assert LogState(**{**on_disk, "root": log.root(2)}) == service.store.get(log.origin)
    service.close()
