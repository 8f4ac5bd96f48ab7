"""The mirror gate against real read APIs: a faithful mirror, a new one, a forked one."""

from __future__ import annotations

import shutil
from pathlib import Path

from followed_logs import HttpLog
from gateway_harness import Signer, device_keys, new_data_dir, now_ms

from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from gateway.datadir import DataDir
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.metrics import GatewayMetrics
from gateway.mirror_gate import MirrorGate, MirrorSettings
from readapi import LogInfo


def _commit(data_dir: DataDir, raws: list[tuple[bytes, str | None]]) -> None:
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        ingest = Ingest.open(
            store, trust, read_log_signer(data_dir), IngestConfig(block_interval_ms=0), now_ms()
        )
        for raw, publisher in raws:  # a block each
            ingest.offer(raw, publisher, now_ms())
            ingest.flush()
            list(ingest.close_blocks(now_ms()))


def _poll(store: Store, trust: TrustRoot, mirror: HttpLog) -> tuple[MirrorGate, str]:
    metrics = GatewayMetrics()
    gate = MirrorGate(
        store, MirrorSettings((mirror.url,)), trust.log_key, WitnessPolicy(0), metrics
    )
    gate.poll_once()
    return gate, metrics.render().decode()


def test_the_gate_releases_what_a_mirror_holds_and_never_what_a_fork_holds(
    tmp_path: Path,
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    device = Signer(device_keys(1)[0])
    _commit(data_dir, [(admin.register(device.key), None)])
    forked = DataDir(tmp_path / "forked")  # the same log key, another history from here
    shutil.copytree(data_dir.root, forked.root)
    _commit(data_dir, [(device.reading(value=20.0, seq=1), device.id)])
    _commit(forked, [(device.reading(value=30.0, seq=1), device.id)])
    trust = TrustRoot.from_json(data_dir.trust.read_text())

    with Store.open(data_dir.log) as store, Store.open(forked.log) as other:
        assert store.size == other.size == 3
        faithful = HttpLog(LogInfo(trust.origin, trust.log_key, (), store)).start()
        fresh = HttpLog(LogInfo(trust.origin, trust.log_key, (), store, publisher=lambda: None))
        fork = HttpLog(LogInfo(trust.origin, trust.log_key, (), other)).start()
        fresh.start()
        try:
            gate, _ = _poll(store, trust, faithful)
            assert (gate.released_size, gate.held_size) == (3, 3)
            gate, _ = _poll(store, trust, fresh)  # no checkpoint yet, but it holds the blocks
            assert (gate.released_size, gate.held_size) == (0, 3)
            gate, text = _poll(store, trust, fork)
            assert (gate.released_size, gate.held_size) == (0, 0)
            assert f'farmtrace_mirror_errors_total{{mirror="{fork.url}",reason="fork"}} 1.0' in text
        finally:
            for served in (faithful, fresh, fork):
                served.stop()
