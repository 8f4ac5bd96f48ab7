"""``farmtrace gateway backup``: a consistent copy from a running gateway (real processes).

The gateway (a real ``farmtrace gateway run``) keeps committing blocks while
``farmtrace gateway backup`` (run in process) has it copy its store through
its admin socket; the copy must audit clean, which it would not if it were
torn (a block without its entries or nodes, a count ahead of its blocks).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess, Publisher, Signer, device_keys, new_data_dir
from mqtt_broker import Broker

from chain.errors import StorageError
from chain.store import Store
from farmtrace.cli import main
from gateway.backup import MANIFEST
from gateway.datadir import DataDir


def farmtrace(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``farmtrace ARGS`` in process (the gateway it talks to is a real process)."""
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


class Stream:
    """Publishes readings of one device in batches, on a thread, until stopped."""

    def __init__(self, publisher: Publisher, device: Signer) -> None:
        self.publisher, self.device = publisher, device
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.wait(0.05):  # some 400 readings a second
            self.publisher.publish(self.device.id, [self.device.reading() for _ in range(20)])

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def running(tmp_path: Path, broker: Broker) -> Iterator[tuple[DataDir, Publisher, Signer]]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    gateway = GatewayProcess(data_dir, broker.url, ["--block-interval-ms", "20"])
    gateway.start()
    publisher = Publisher(broker.port, "backup-test")
    device = Signer(device_keys(1, "barn")[0])
    try:
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        yield data_dir, publisher, device
    finally:
        publisher.close()
        if gateway.proc is not None and gateway.proc.poll() is None:
            assert gateway.terminate() == 0


def test_backup_of_a_running_gateway_audits_clean(
    running: tuple[DataDir, Publisher, Signer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, publisher, device = running
    assert stat.S_IMODE(data_dir.admin_socket.stat().st_mode) == 0o600
    with Stream(publisher, device):
        publisher.wait_receipt(device.id, lambda r: r.seq >= 100)
        backup_to = ["gateway", "backup", "--data-dir", data_dir.root, "--out"]
        code, out, err = farmtrace(capsys, *backup_to, tmp_path / "b1")
        assert code == 0, err
        again = farmtrace(capsys, *backup_to, tmp_path / "b1")
        with_keys = farmtrace(capsys, *backup_to, tmp_path / "b2", "--include-keys")
        sent = device.seq
        publisher.wait_receipt(device.id, lambda r: r.seq >= sent)  # it went on all along
    assert "blocks" in out and "without keys" in out
    assert again[0] == 2 and "already exists" in again[2]
    assert with_keys[0] == 0, with_keys[2]
    backup = DataDir(tmp_path / "b1")
    assert (backup.root / MANIFEST).exists() and backup.trust.exists()
    assert not backup.keys.exists()  # the log's key stays with the operator unless asked for
    with Store.open(backup.log) as copy:
        assert copy.size >= 2 and copy.entry_count > 100
    code, out, err = farmtrace(capsys, "audit", "--data-dir", backup.root, "--no-progress")
    assert code == 0, out + err
    keyed = DataDir(tmp_path / "b2")
    assert keyed.log_key.read_text() == data_dir.log_key.read_text()
    assert stat.S_IMODE(keyed.keys.stat().st_mode) == 0o700


def test_backup_of_a_stopped_gateway_copies_the_store_directly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, _ = new_data_dir(tmp_path / "gw")
    code, _, err = farmtrace(
        capsys, "gateway", "backup", "--data-dir", data_dir.root, "--out", tmp_path / "b"
    )
    assert code == 0, err
    with Store.open(data_dir.log) as store, Store.open(tmp_path / "b" / "log") as copy:
        assert (copy.size, copy.root()) == (store.size, store.root())
        assert copy.latest_checkpoint() == store.latest_checkpoint()
        with pytest.raises(StorageError, match="already exists"):
            store.copy_to(tmp_path / "b" / "log")
    assert not (tmp_path / "b.partial").exists()
