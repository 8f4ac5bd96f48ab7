"""Logging in to the generated broker config: passwords, anonymous clients, reloads."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from mqtt_broker import Broker, Probe

from gateway.broker_config import hash_password, verify_password, write_broker_files

SecuredBroker = Callable[..., Broker]
NOT_AUTHORIZED = 0x87
BAD_CREDENTIALS = 0x86


def login(broker: Broker, user: str | None, password: str | None) -> int:
    """The CONNACK reason code of an MQTT 5 login (0 = accepted)."""
    probe = Probe(broker)
    reason = probe.connect(user, password)
    if not reason.is_failure:
        probe.close()
    return int(reason.value)


def test_the_generated_config_starts_and_refuses_anonymous_clients(
    secured_broker: SecuredBroker,
) -> None:
    broker = secured_broker(devices=("dev-a",))
    config = broker.config.read_text()
    assert "allow_anonymous false" in config and "use_username_as_clientid true" in config
    assert login(broker, None, None) in (NOT_AUTHORIZED, BAD_CREDENTIALS)


def test_right_password_connects_and_wrong_or_unknown_ones_are_refused(
    secured_broker: SecuredBroker,
) -> None:
    broker = secured_broker(devices=("dev-a", "dev-b"))
    assert login(broker, "dev-a", broker.password("dev-a")) == 0
    assert login(broker, "gateway", broker.password("gateway")) == 0
    refused = (NOT_AUTHORIZED, BAD_CREDENTIALS)
    assert login(broker, "dev-a", broker.password("dev-b")) in refused
    assert login(broker, "dev-a", broker.password("dev-a") + "x") in refused
    assert login(broker, "dev-c", "dev-c-secret") in refused


def test_our_hashes_and_mosquitto_passwd_hashes_work_side_by_side(
    secured_broker: SecuredBroker, tmp_path: Path
) -> None:
    """Independent check: the broker accepts both in one file; we verify mosquitto's."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    theirs = tmp_path / "theirs"
    subprocess.run([tool, "-b", "-c", str(theirs), "dev-b", "from-passwd-tool"], check=True)
    line = theirs.read_text().strip()
    user, encoded = line.split(":", 1)
    assert user == "dev-b" and encoded.startswith("$7$101$")
    assert verify_password(encoded, "from-passwd-tool")
    assert not verify_password(encoded, "from-passwd-too")

    broker = secured_broker(devices=("dev-a", "dev-b"))
    assert broker.settings.users.keys() == {"gateway", "dev-a", "dev-b"}
    ours = [f"{name}:{hash_password(broker.password(name))}" for name in ("gateway", "dev-a")]
    (broker.root / "passwd").write_text("\n".join([*ours, line]) + "\n")
    broker.restart()
    assert login(broker, "dev-a", broker.password("dev-a")) == 0
    assert login(broker, "dev-b", "from-passwd-tool") == 0
    assert login(broker, "dev-b", broker.password("dev-b")) != 0


def test_sighup_reloads_rewritten_users(secured_broker: SecuredBroker) -> None:
    broker = secured_broker(devices=("dev-a",))
    removed = Probe(broker, "removed")
    assert not removed.connect("dev-a", broker.password("dev-a")).is_failure
    users = {"gateway": broker.password("gateway"), "dev-new": "new-secret"}
    write_broker_files(replace(broker.settings, users=users), broker.root)
    broker.reload()
    deadline = time.monotonic() + 5
    while login(broker, "dev-new", "new-secret") != 0:
        assert time.monotonic() < deadline, "the reloaded password file was not used"
        time.sleep(0.05)
    while removed.client.is_connected():
        assert time.monotonic() < deadline, "a removed user's connection stayed open"
        time.sleep(0.05)
    removed.close()
    assert login(broker, "dev-a", broker.password("dev-a")) != 0
    assert broker.running
