"""kill -9 a replica process mid-sync: on restart its store is consistent and it catches up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import HttpLog, grow

from chain.audit import audit_store
from consumer_web._replica import Replica

_REPLICA = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from chain.trust import TrustRoot
    from consumer_web._replica import Replica
    from readapi.client import urllib_transport

    def transport(method, url, timeout):
        if "/inclusion" in url:
            time.sleep(0.05)  # so that the kill lands mid-sync
        return urllib_transport(method, url, timeout)

    def report(store):
        stored = store.size
        print("stored", stored, flush=True)
        while True:
            if store.size != stored:
                stored = store.size
                print("stored", stored, flush=True)
            time.sleep(0.001)

    trust = TrustRoot.from_json(Path(sys.argv[2]).read_text())
    replica = Replica(Path(sys.argv[1]), [sys.argv[3]], trust=trust, transport=transport)
    threading.Thread(target=report, args=(replica.store,), daemon=True).start()
    print("synced", replica.sync_once().tree_size, flush=True)
    """
)


@pytest.mark.parametrize("kill_after", [3, 17])
def test_kill_9_mid_sync_leaves_a_consistent_replica(
    tmp_path: Path, source: LogFactory, http: HttpLog, kill_after: int
) -> None:
    site = tmp_path / "site"
    with Replica(site, [http.url], trust=source.trust) as replica:
        first = replica.sync_once()
    base = first.tree_size
    assert base == source.store.size
    grow(source, 40, per_block=20)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    trust_file = source.data_dir.trust
    with subprocess.Popen(
        [sys.executable, "-c", _REPLICA, str(site), str(trust_file), http.url],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        assert child.stdout is not None
        stored = 0
        while stored < base + kill_after:
            line = child.stdout.readline()
            assert line.startswith("stored"), f"the child stopped: {line!r}"
            stored = int(line.split()[1])
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with Replica(site, [http.url], trust=source.trust) as replica:
        store = replica.store
        # Every block the child stored is whole and verified; the head is the old checkpoint.
        assert stored <= store.size < source.store.size
        assert replica.status().tree_size == base
        report = audit_store(store, source.trust, jobs=1)
        assert report.ok, report.to_text()
        assert [w.reason for w in report.warnings] == ["unchecked_tail"]
        for height in range(store.size):
            assert store.block_raw(height) == source.store.block_raw(height)
        status = replica.sync_once()
        assert status.tree_size == store.size == source.store.size
        assert store.root() == source.store.root()
        assert audit_store(store, source.trust, jobs=1).ok
