"""Fixtures every test directory may use."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker, secured_settings


@pytest.fixture
def d1_log(tmp_path: Path) -> Iterator[Any]:
    """A ``LogFactory`` log (tests/integration/farm_logs.py) with one registered device, ``d1``.

    Closed after the test.
    """
    from farm_logs import LogFactory  # tests/integration, on the path where it is used

    log = LogFactory(tmp_path / "log")
    log.register("d1")
    yield log
    log.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port (anonymous, persistent, no queue limit)."""
    mosquitto = Broker(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.kill()
    collect_leaks()


SecuredBroker = Callable[..., Broker]


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """Start a real Mosquitto with farmtrace's password and ACL files.

    Call it as ``secured_broker(farm="farm1", devices=("dev-a", "dev-b"),
    gateway_user="gateway", passwords=None, **settings)``; each user's
    password is ``broker.password(user)`` (``<user>-secret`` unless given).
    Every broker started is killed at teardown.
    """
    started: list[Broker] = []

    def start(**kwargs: Any) -> Broker:
        root = tmp_path / f"secured-broker-{len(started)}"
        mosquitto = Broker(root, secured_settings(root, **kwargs))
        started.append(mosquitto)
        mosquitto.start()
        return mosquitto

    yield start
    for mosquitto in started:
        mosquitto.kill()
    collect_leaks()


def collect_leaks() -> None:
    """Collect garbage now, so a socket a broker test left open fails that test.

    Without this, the ResourceWarning surfaces in whichever later test happens
    to trigger a collection (filterwarnings=error), far from its cause.
    """
    gc.collect()
