"""``gateway recover`` from a real read API: what it takes, what it refuses, what it leaves behind.

The log is served over real HTTP from a real store (tests/integration/followed_logs.py);
the witnesses' answers are given as :class:`~gateway.witness_heads.WitnessHead` values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import fork, grow, serve

from chain.checkpoint import generate_cosigner_key, open_checkpoint
from chain.errors import ForkError, QuorumError, RollbackError, UnknownSignerError
from chain.log import LogWriter
from chain.note import generate_key
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from farmtrace.cli import main
from gateway.backup import backup_data_dir
from gateway.datadir import DataDir
from gateway.init import read_log_signer
from gateway.recover import Recovery, recover_data_dir
from gateway.witness_heads import WitnessHead
from readapi import ReadApiClient

NO_WITNESSES = WitnessPolicy(0, ())


def _head(factory: LogFactory, name: str = "w") -> WitnessHead:
    """A witness that cosigned ``factory``'s latest checkpoint."""
    latest = factory.store.latest_checkpoint()
    assert latest is not None
    return WitnessHead(name, "known", open_checkpoint(latest[1], factory.trust.log_key))


def _recover(
    factory: LogFactory,
    target: Path,
    heads: list[WitnessHead],
    *,
    policy: WitnessPolicy = NO_WITNESSES,
    backup: Path | None = None,
    log_key: str | None = None,
) -> tuple[DataDir, Recovery]:
    served = serve(factory)
    try:
        data_dir = DataDir(target)
        recovery = recover_data_dir(
            ReadApiClient(served.url),
            factory.trust,
            policy,
            data_dir,
            log_key=log_key or read_log_signer(factory.data_dir),
            witness_heads=lambda: heads,
            backup=backup,
        )
    finally:
        served.stop()
    return data_dir, recovery


def _nothing_left(target: Path) -> None:
    assert not (target / "log").exists() and not (target / "log.recovering").exists()
    assert not (target / "keys" / "log.key").exists()


def test_recovery_copies_the_log_exactly_with_its_checkpoint_and_nothing_pending(
    tmp_path: Path,
) -> None:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 4)
    heads = [_head(factory), WitnessHead("down", "unreachable", message="refused")]
    data_dir, _ = _recover(factory, tmp_path / "new", heads)
    with Store.open(data_dir.log) as store:
        assert store.size == factory.store.size == 5  # genesis and 4
        assert [store.block_raw(h) for h in range(5)] == [
            factory.store.block_raw(h) for h in range(5)
        ]
        assert store.root() == factory.store.root()
        assert store.latest_checkpoint() == factory.store.latest_checkpoint()
        assert store.pending() == []
    assert read_log_signer(data_dir) == read_log_signer(factory.data_dir)
    assert (data_dir.log_key.stat().st_mode & 0o777) == 0o600
    assert data_dir.trust.read_text() == factory.trust.to_json()
    factory.close()


def test_a_witness_that_cosigned_more_than_the_source_holds_stops_recovery(
    tmp_path: Path,
) -> None:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 3)
    behind = fork(factory, tmp_path / "mirror")  # a mirror that had pulled 4 blocks
    grow(factory, 2)  # the gateway went on; a witness cosigned 6
    with pytest.raises(RollbackError, match="cosigned a tree of 6 blocks, this copy holds 4"):
        _recover(behind, tmp_path / "new", [_head(factory, "coop")])
    _nothing_left(tmp_path / "new")
    factory.close()
    behind.close()


def test_a_witness_that_cosigned_another_history_stops_recovery(tmp_path: Path) -> None:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 3)
    twin = fork(factory, tmp_path / "twin")
    grow(factory, 2)
    grow(twin, 1, dev="d2")  # another block 3: what the witness saw
    with pytest.raises(ForkError, match="witness coop cosigned root"):
        _recover(factory, tmp_path / "new", [_head(twin, "coop")])
    _nothing_left(tmp_path / "new")
    factory.close()
    twin.close()


def test_recovery_refuses_another_logs_key_and_a_checkpoint_without_the_quorum(
    tmp_path: Path,
) -> None:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 2)
    stranger, _ = generate_key(factory.trust.origin)
    with pytest.raises(UnknownSignerError, match="log key"):
        _recover(factory, tmp_path / "new", [], log_key=stranger)
    _, witness_vkey = generate_cosigner_key("coop.test/witness")
    policy = WitnessPolicy(1, (Witness(witness_vkey),))  # it never cosigned this log
    with pytest.raises(QuorumError):
        _recover(factory, tmp_path / "new", [], policy=policy)
    _nothing_left(tmp_path / "new")
    factory.close()


def test_recovery_continues_a_backup_from_the_source(tmp_path: Path) -> None:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 3)
    factory.store.close()
    backup_data_dir(factory.data_dir, tmp_path / "backup", include_keys=False, now_ms=1)
    factory.store = Store.open(factory.data_dir.log)
    factory.writer = LogWriter(factory.store, read_log_signer(factory.data_dir))
    grow(factory, 2)
    backup = tmp_path / "backup"
    data_dir, recovery = _recover(factory, tmp_path / "new", [_head(factory)], backup=backup)
    assert recovery.from_backup == 4 and recovery.checkpoint_size == 6
    with Store.open(data_dir.log) as store:
        assert store.size == 6 and store.root() == factory.store.root()
    factory.close()


def test_the_cli_names_what_is_wrong_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = LogFactory(tmp_path / "gw")
    (tmp_path / "w.json").write_text(NO_WITNESSES.to_json())
    base = [
        "gateway", "recover", "--trust", str(factory.data_dir.trust),
        "--witnesses", str(tmp_path / "w.json"), "--data-dir", str(tmp_path / "new"),
    ]  # fmt: skip
    key = str(factory.data_dir.log_key)
    unreachable = [*base, "--from", "http://127.0.0.1:9", "--log-key", key]
    assert main(unreachable) == 2
    assert "gateway recover:" in capsys.readouterr().err
    _nothing_left(tmp_path / "new")
    stranger = tmp_path / "other.key"
    stranger.write_text(generate_key(factory.trust.origin)[0] + "\n")
    served = serve(factory)
    try:
        assert main([*base, "--from", served.url, "--log-key", str(stranger)]) == 1
        assert "log key: expected the key of" in capsys.readouterr().err
        _nothing_left(tmp_path / "new")
        assert main([*base, "--from", served.url, "--log-key", key]) == 0
        assert "recovered log test.example/log: 1 blocks" in capsys.readouterr().out
    finally:
        served.stop()
        factory.close()
    assert main([*base, "--from", served.url, "--log-key", key]) == 2
    assert "already exists" in capsys.readouterr().err
