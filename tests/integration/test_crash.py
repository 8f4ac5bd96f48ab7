"""kill -9 a process in the middle of writing blocks: the store reopens whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from farm_logs import START_MS, LogFactory

from chain.audit import audit_store
from chain.store import Store

_WRITER = textwrap.dedent(
    f"""
    import random, sys
    from pathlib import Path
    from chain.entries import parse_entry, reading_payload, sign_entry
    from chain.keyfile import SignerKey
    from chain.log import LogWriter
    from chain.store import Store
    from gateway.datadir import DataDir
    from gateway.init import read_log_signer

    data_dir = DataDir(Path(sys.argv[1]))
    key = SignerKey.generate("dev", seed=random.Random("dev").randbytes(32))
    store = Store.open(data_dir.log)
    writer = LogWriter(store, read_log_signer(data_dir))
    seq = sum(1 for _ in store.subject_entries("barn:b1"))
    while True:
        batch = []
        for _ in range(20):
            seq += 1
            payload = reading_payload("dev", seq, {START_MS} + seq * 1000, "temperature",
                                      "barn:b1", 20.0, "Cel")
            batch.append(parse_entry(sign_entry(payload, "dev", key.seed)))
        writer.commit_block(batch, {START_MS} + seq * 1000)
        print(store.size, flush=True)
        writer.sign_checkpoint()
    """
)


def test_kill_9_during_writes_loses_no_committed_block(tmp_path: Path) -> None:
    factory = LogFactory(tmp_path / "log")
    factory.register("dev")
    trust, data_dir = factory.trust, factory.data_dir
    factory.close()
    rng = random.Random(3)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for _ in range(5):
        with subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(data_dir.root)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as child:
            assert child.stdout is not None
            reported = 0
            for _ in range(rng.randint(2, 12)):
                line = child.stdout.readline()
                assert line, "the writer died on its own"
                reported = int(line)
            time.sleep(rng.random() * 0.02)
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        with Store.open(data_dir.log) as store:
            assert store.size >= reported
            report = audit_store(store, trust, jobs=1)
            assert report.ok, report.to_text()
            assert report.gaps == []  # blocks are whole: no reading half-committed
            assert {w.reason for w in report.warnings} <= {"unchecked_tail"}
            assert store.entry_count == 2 + 20 * (store.size - 2)
