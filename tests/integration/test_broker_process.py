"""``MosquittoProcess``: starting, refusing and reporting, with the real binary."""

from __future__ import annotations

from pathlib import Path

import pytest
from mqtt_broker import Broker, free_port

from gateway import mosquitto
from gateway.mosquitto import MosquittoError, MosquittoNotInstalledError, MosquittoProcess


def test_a_missing_binary_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(mosquitto, "_SBIN_MOSQUITTO", str(tmp_path / "mosquitto"))
    process = MosquittoProcess(tmp_path / "mosquitto.conf", port=free_port())
    with pytest.raises(MosquittoNotInstalledError, match="apt-get install mosquitto"):
        process.start()


def test_a_config_mosquitto_rejects_fails_with_its_log(tmp_path: Path) -> None:
    config = tmp_path / "mosquitto.conf"
    port = free_port()
    config.write_text(f"listener {port} 127.0.0.1\nno_such_option 1\n")
    process = MosquittoProcess(config, port=port)
    with pytest.raises(MosquittoError, match="no_such_option"):
        process.start()
    assert not process.running


def test_a_taken_port_is_refused_rather_than_probed(broker: Broker, tmp_path: Path) -> None:
    other = MosquittoProcess(broker.config, port=broker.port, log=tmp_path / "other.log")
    with pytest.raises(MosquittoError, match="already listens"):
        other.start()
    with pytest.raises(MosquittoError, match="not been started"):
        _ = other.pid
    with pytest.raises(MosquittoError, match="not running"):
        other.reload()


def test_start_stop_restart_keep_the_port(broker: Broker) -> None:
    first = broker.pid
    with pytest.raises(MosquittoError, match="already running"):
        broker.start()
    broker.restart()
    assert broker.running and broker.pid != first
    assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
    broker.stop()
    assert not broker.running
    broker.stop()  # stopping a stopped broker is a no-op
