"""``MosquittoProcess``: starting, refusing and reporting, with the real binary."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from mqtt_broker import Broker, broker_settings, free_port

from gateway import mosquitto
from gateway.mosquitto import (
    MosquittoError,
    MosquittoNotInstalledError,
    MosquittoPortInUseError,
    MosquittoProcess,
)


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


def taken_port() -> socket.socket:
    """A socket bound (not listening) to a free port: a client's, say, that got it first."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def test_a_port_taken_while_the_broker_binds_is_a_port_in_use_error(tmp_path: Path) -> None:
    with taken_port() as sock:
        port = sock.getsockname()[1]
        config = tmp_path / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\n")
        with pytest.raises(MosquittoPortInUseError, match="Address already in use"):
            MosquittoProcess(config, port=port).start()


def test_the_test_broker_retries_on_new_ports_when_its_port_is_taken(tmp_path: Path) -> None:
    with taken_port() as sock:
        broker = Broker(tmp_path, broker_settings(tmp_path, port=sock.getsockname()[1]))
        broker.start()
        try:
            assert broker.port == broker.settings.port != sock.getsockname()[1]
            socket.create_connection(("127.0.0.1", broker.port), timeout=5).close()
        finally:
            broker.kill()


def test_every_listeners_port_is_checked_before_starting(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        busy = listening.getsockname()[1]
        config = tmp_path / "mosquitto.conf"
        config.write_text(f"listener {free_port()} 127.0.0.1\nlistener {busy}\n")
        with pytest.raises(MosquittoPortInUseError, match=f"already listens on 127.0.0.1:{busy}"):
            MosquittoProcess(config, port=free_port()).start()


# Listens on its config's first listener at once and on the second one a second later,
# as Mosquitto does when loading a TLS listener's keys is slow (a busy machine).
SLOW_SECOND_LISTENER = """
import re, socket, sys, time
ports = [int(p) for p in re.findall(r"^listener (\\d+)", open(sys.argv[2]).read(), re.M)]
first = socket.create_server(("127.0.0.1", ports[0]))
time.sleep(1.0)
second = socket.create_server(("127.0.0.1", ports[1]))
time.sleep(60)
"""


def test_start_returns_only_once_every_listener_accepts(tmp_path: Path) -> None:
    fake = tmp_path / "slow-mosquitto"
    fake.write_text(f"#!{sys.executable}\n{SLOW_SECOND_LISTENER}")
    fake.chmod(0o755)
    plain, tls = free_port(), free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {plain} 127.0.0.1\nlistener {tls}\n")
    process = MosquittoProcess(config, port=plain, binary=str(fake))
    process.start()
    try:
        socket.create_connection(("127.0.0.1", tls), timeout=5).close()
    finally:
        process.kill()
