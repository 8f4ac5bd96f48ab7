"""``farmtrace audit --url`` against real witnesses (``farmtrace witness serve`` processes).

Three witnesses follow the log; the test plays the log's side of C2SP
tlog-witness (``POST /add-checkpoint``), then audits the log as served over
HTTP, once honest with one witness down, once restored from an old backup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from farm_logs import LogFactory
from followed_logs import fork, grow, serve
from live_audit_witnesses import dead_url, push, write_policy
from witness_harness import WitnessProcess, make_witness_dir

Cli = Callable[..., tuple[int, str, str]]


def test_real_witnesses_vouch_for_the_log_and_expose_its_restored_backup(
    source: LogFactory, run_cli: Cli, tmp_path: Path
) -> None:
    origin, log_key = source.trust.origin, source.trust.log_key
    dirs = [
        make_witness_dir(tmp_path / f"w{i}", f"w{i}.test/witness", [(origin, log_key)])
        for i in (1, 2, 3)
    ]
    backup = fork(source, tmp_path / "backup")
    old_size = source.store.size
    with WitnessProcess(dirs[0]) as w1, WitnessProcess(dirs[1]) as w2:
        w3 = WitnessProcess(dirs[2])  # never started: down for the whole test
        lines = push(w1.url, source.store, old_size, 0) + push(w2.url, source.store, old_size, 0)
        old_note = source.store.checkpoint(old_size) + lines
        backup.store.put_checkpoint(old_size, old_note)
        grow(source, 2)
        size = source.store.size
        lines = push(w1.url, source.store, size, old_size) + push(
            w2.url, source.store, size, old_size
        )
        source.store.put_checkpoint(size, source.store.checkpoint(size) + lines)
        policy = write_policy(
            tmp_path / "witnesses.json",
            2,
            [(w1.vkey, w1.url), (w2.vkey, w2.url), (w3.vkey, dead_url())],
        )
        honest, restored = serve(source), serve(backup)
        try:
            args = ["--trust", source.data_dir.trust, "--witnesses", policy, "--no-progress"]
            code, out, err = run_cli("audit", "--url", honest.url, *args)
            assert code == 0, out + err
            assert f"w1.test/witness: consistent: cosigned size {size} at" in out
            assert f"w2.test/witness: consistent: cosigned size {size} at" in out
            assert "w3.test/witness: unchecked:" in out

            code, out, err = run_cli("audit", "--url", restored.url, *args)
            assert code == 1, out + err
            for name in ("w1", "w2"):
                assert f"rollback: witness {name}.test/witness cosigned size {size} at" in out
            assert f"the log now serves only {old_size}" in out
        finally:
            honest.stop()
            restored.stop()
            backup.close()
