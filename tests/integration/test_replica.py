"""consumer_web's replica against real read APIs over HTTP: sync, outages, conflicts, restarts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from farm_logs import LogFactory
from followed_logs import HttpLog, fork, grow, serve

from chain import checkpoint, note
from chain.audit import audit_store
from chain.store import Store
from consumer_web._replica import Replica
from demo.story_farm import StoryFarm, build_story_log
from gateway.datadir import DataDir
from readapi import LogInfo, create_app
from readapi.client import urllib_transport


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        self.now += 1000
        return self.now


class Recorder:
    """The real HTTP transport, remembering the URLs asked."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        self.urls.append(url)
        return urllib_transport(method, url, timeout)


def metric(replica: Replica, name: str, **labels: str) -> float | None:
    return replica.metrics_registry.get_sample_value(name, labels)


def same_log(replica: Replica, store: Store) -> None:
    assert replica.store.size == store.size
    assert replica.store.root() == store.root()
    for height in range(store.size):
        assert replica.store.block_raw(height) == store.block_raw(height)
        assert replica.store.block_entries(height) == store.block_entries(height)


def test_initial_then_incremental_sync(tmp_path: Path, source: LogFactory, http: HttpLog) -> None:
    size, signed = source.store.latest_checkpoint() or (0, "")
    witness, _ = checkpoint.generate_cosigner_key("witness.example", seed=bytes([4]) * 32)
    cosigned = signed + checkpoint.cosign(note.parse(signed).text, witness, 1_767_225_000)
    source.store.put_checkpoint(size, cosigned)
    clock, recorder = Clock(), Recorder()
    with Replica(
        tmp_path / "site", [http.url], trust=source.trust, transport=recorder, clock_ms=clock
    ) as replica:
        status = replica.sync_once()
        same_log(replica, source.store)
        assert status.tree_size == size
        assert status.checkpoint_note == cosigned  # exactly as received
        assert status.as_of_ms is not None and status.as_of_ms <= clock.now
        (src,) = status.sources
        assert (src.url, src.last_result, src.tree_size, src.last_error) == (
            http.url,
            "ok",
            size,
            None,
        )
        assert metric(replica, "replica_tree_size") == size
        assert metric(replica, "replica_entries") == source.store.entry_count
        assert metric(replica, "replica_blocks_fetched_total") == size
        assert metric(replica, "replica_sync_total", source=http.url, result="ok") == 1
        assert metric(replica, "replica_as_of_timestamp_seconds") == status.as_of_ms / 1000
        grow(source, 3)
        recorder.urls.clear()
        status = replica.sync_once()
        same_log(replica, source.store)
        assert status.tree_size == size + 3
        asked = [u.removeprefix(http.url) for u in recorder.urls]
        assert asked[:2] == ["/checkpoint", f"/api/v1/consistency?first={size}&second={size + 3}"]
        fetched = [u for u in asked if u.startswith("/api/v1/blocks/") and "/inclusion" not in u]
        assert fetched == [f"/api/v1/blocks/{h}" for h in range(size, size + 3)]
        assert metric(replica, "replica_blocks_fetched_total") == size + 3
        # Nothing new: one request, the head is confirmed again.
        recorder.urls.clear()
        before = status.as_of_ms
        status = replica.sync_once()
        assert len(recorder.urls) == 1
        assert status.as_of_ms is not None and before is not None and status.as_of_ms > before


def test_source_down_then_back(tmp_path: Path, source: LogFactory, http: HttpLog) -> None:
    with Replica(tmp_path / "site", [http.url], trust=source.trust, clock_ms=Clock()) as replica:
        synced = replica.sync_once()
        http.stop()
        grow(source, 2)
        down = replica.sync_once()
        (src,) = down.sources
        assert src.last_result == "unreachable"
        assert src.last_error is not None and "unreachable" in src.last_error
        assert src.last_success_ms == synced.sources[0].last_success_ms
        assert (down.tree_size, down.as_of_ms) == (synced.tree_size, synced.as_of_ms)
        assert metric(replica, "replica_sync_total", source=http.url, result="unreachable") == 1
        # The replica still serves its copy.
        client = create_app(replica).test_client()
        assert client.get("/checkpoint").get_data(as_text=True) == synced.checkpoint_note
        log = client.get("/api/v1/log").get_json()
        assert (log["origin"], log["vkey"]) == (source.trust.origin, source.trust.log_key)
        assert set(log["admins"]) == {"admin"}
        http.start()  # same port
        back = replica.sync_once()
        same_log(replica, source.store)
        (src,) = back.sources
        assert src.last_result == "ok" and src.last_error == down.sources[0].last_error
        assert back.as_of_ms is not None and synced.as_of_ms is not None
        assert back.as_of_ms > synced.as_of_ms


def test_two_sources_one_down(tmp_path: Path, source: LogFactory, http: HttpLog) -> None:
    dead = HttpLog(http.info).start()
    dead.stop()  # a port that refuses connections
    with Replica(
        tmp_path / "site", [dead.url, http.url], trust=source.trust, clock_ms=Clock()
    ) as replica:
        status = replica.sync_once()
        same_log(replica, source.store)
        assert [s.last_result for s in status.sources] == ["unreachable", "ok"]
        assert status.as_of_ms is not None


def test_a_fork_is_refused_recorded_and_survives_restart(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    twin = fork(source, tmp_path / "twin")
    twin_http = serve(twin)
    try:
        grow(source, 1)
        grow(twin, 4, dev="d9")  # same log key, another history, bigger
        site = tmp_path / "site"
        sources = [http.url, twin_http.url]
        with Replica(site, sources, trust=source.trust, clock_ms=Clock()) as replica:
            status = replica.sync_once()
            assert [s.last_result for s in status.sources] == ["ok", "conflict"]
            (conflict,) = status.conflicts
            assert conflict.source == twin_http.url and conflict.reason == "fork"
            assert conflict.ours == status.checkpoint_note
            assert conflict.theirs == (twin.store.latest_checkpoint() or (0, ""))[1]
            same_log(replica, source.store)  # ours kept
            assert metric(replica, "replica_conflicts_total", source=twin_http.url) == 1
            again = replica.sync_once()  # the same fork again: counted once
            assert len(again.conflicts) == 1
            assert metric(replica, "replica_conflicts_total", source=twin_http.url) == 1
            assert (
                metric(replica, "replica_sync_total", source=twin_http.url, result="conflict") == 2
            )
            served = create_app(replica).test_client().get("/checkpoint")
            assert served.get_data(as_text=True) == status.checkpoint_note
        state = json.loads((site / "replica-state.json").read_text())
        assert [c["reason"] for c in state["conflicts"]] == ["fork"]
        with Replica(site, sources, trust=source.trust, clock_ms=Clock()) as reopened:
            status = reopened.status()
            assert status.conflicts == again.conflicts
            assert status.tree_size == again.tree_size and status.as_of_ms == again.as_of_ms
            assert [s.last_result for s in status.sources] == ["ok", "conflict"]
            assert metric(reopened, "replica_conflicts_total", source=twin_http.url) == 1
            same_log(reopened, source.store)
    finally:
        twin_http.stop()
        twin.close()


def test_another_log_is_refused_and_a_lagging_source_is_behind(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    other = LogFactory(tmp_path / "other")  # same origin, another log key
    other_http = serve(other)
    lagging = fork(source, tmp_path / "lagging")
    lagging_http = serve(lagging)
    try:
        grow(source, 2)
        sources = [http.url, other_http.url, lagging_http.url]
        with Replica(tmp_path / "site", sources, trust=source.trust) as replica:
            status = replica.sync_once()
            assert [s.last_result for s in status.sources] == ["ok", "conflict", "behind"]
            assert [c.reason for c in status.conflicts] == ["wrong_log"]
            assert status.sources[2].tree_size == lagging.store.size < status.tree_size
            assert status.sources[2].last_success_ms is not None
            same_log(replica, source.store)
    finally:
        other_http.stop()
        other.close()
        lagging_http.stop()
        lagging.close()


def test_tampered_blocks_are_invalid_and_nothing_is_stored(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    def tampering(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = urllib_transport(method, url, timeout)
        if url.endswith("/api/v1/blocks/3"):
            obj = json.loads(body)
            obj["entries"][0] = obj["entries"][1]
            body = json.dumps(obj).encode()
        return status, headers, body

    with Replica(tmp_path / "site", [http.url], trust=source.trust, transport=tampering) as bad:
        status = bad.sync_once()
        (src,) = status.sources
        assert src.last_result == "invalid" and "entries_root" in (src.last_error or "")
        assert bad.store.size == 3  # blocks 0-2 verified and kept, block 3 refused
        assert status.tree_size == 0 and status.as_of_ms is None and not status.conflicts
    with Replica(tmp_path / "site", [http.url], trust=source.trust) as good:
        good.sync_once()  # continues from the verified blocks
        same_log(good, source.store)


def test_background_sync_follows_and_closes_promptly(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    replica = Replica(tmp_path / "site", [http.url], trust=source.trust)
    replica.start(interval_s=0.05)
    try:
        grow(source, 2)
        deadline = time.monotonic() + 10
        while replica.status().tree_size != source.store.size:
            assert time.monotonic() < deadline, replica.status()
            time.sleep(0.02)
    finally:
        started = time.monotonic()
        replica.close()
    assert time.monotonic() - started < 5
    assert not any(t.name == "replica-sync" for t in threading.enumerate())
    assert replica.status().tree_size == source.store.size  # still answers after close


def test_a_whole_story_farm_replicates_and_audits(tmp_path: Path) -> None:
    """Operators, events, devices with locations: every kind of entry verifies on the way in."""
    farm = StoryFarm(days=2, block_size=200, birds=6, shelf_birds=4, lot_birds=2)
    data_dir = DataDir(tmp_path / "farm")
    manifest = build_story_log(data_dir, farm)
    with Store.open(data_dir.log) as store:
        http = HttpLog(LogInfo(store.origin, manifest.trust.log_key, (), store)).start()
        try:
            with Replica(tmp_path / "site", [http.url], trust=manifest.trust) as replica:
                status = replica.sync_once()
                assert status.sources[0].last_result == "ok"
                same_log(replica, store)
                assert audit_store(replica.store, manifest.trust, jobs=1).ok
                pack = manifest.packs[0]
                subject = f"pack:{pack.gtin}.{pack.serial}"
                assert list(replica.store.subject_entries(subject)) == list(
                    store.subject_entries(subject)
                )
                assert metric(replica, "replica_entries") == manifest.entries
        finally:
            http.stop()
