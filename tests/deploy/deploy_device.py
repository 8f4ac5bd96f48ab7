"""A device on the deployed stack: ``farmtrace device run`` over Mosquitto's TLS listener.

As docs/raspberry-pi.md sets one up: its key, its registration signed by
the farm's admin (sent with publish-and-wait, over TLS too), and a
device.toml with ``mqtts://``, the farm's CA and its client certificate.
Registering waits for a block, so it runs beside the other services' start.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy_pki import Pki, client_cert
from deploy_stack import Service, Services
from mqtt_broker import Broker

from chain.entries import device_payload, sign_entry
from chain.keyfile import SignerKey, load_key
from readapi.fleet import FLEET_PATH
from signer.identity import DeviceIdentity
from signer.mqtt_url import MqttUrl
from signer.transport import publish_and_wait

DEVICE = "tls-dev"
"""The device's id (the broker must have a login for it)."""


@dataclass
class TlsDevice:
    gateway_url: str
    thread: threading.Thread
    started: list[Service]
    failed: list[BaseException]

    def service(self) -> Service:
        """The ``device run`` process, once registered and started."""
        self.thread.join(60)
        if self.failed:
            raise self.failed[0]
        assert self.started, "the device did not start in time"
        return self.started[0]

    def committed(self) -> int:
        """How many of the device's seqs the gateway has committed."""
        return committed(self.gateway_url, DEVICE)


def committed(gateway_url: str, dev: str) -> int:
    """How many of ``dev``'s seqs the gateway at ``gateway_url`` has committed (its fleet view)."""
    with urllib.request.urlopen(gateway_url + FLEET_PATH, timeout=10) as response:
        rows = json.loads(response.read())["devices"]
    return next((int(row["seq_committed"]) for row in rows if row["dev"] == dev), 0)


def start_tls_device(
    root: Path,
    services: Services,
    broker: Broker,
    pki: Pki,
    admin_key: Path,
    admin_seq: int,
    farm: str,
    gateway_url: str,
) -> TlsDevice:
    """Register :data:`DEVICE` as the admin (its next seq: ``admin_seq``) and start it, in a thread.

    Precondition: the gateway at ``gateway_url`` reads ``broker``, whose TLS
    listener (``broker.settings.tls``) has a certificate from ``pki`` for 127.0.0.1.
    """
    device = TlsDevice(gateway_url, threading.Thread(), [], [])

    def start() -> None:
        try:
            device.started.append(
                _register_and_run(root, services, broker, pki, admin_key, admin_seq, farm)
            )
        except BaseException as exc:  # raised again by TlsDevice.service
            device.failed.append(exc)

    device.thread = threading.Thread(target=start, name="tls-device")
    await_subscribed(gateway_url)
    device.thread.start()
    return device


def _register_and_run(
    root: Path,
    services: Services,
    broker: Broker,
    pki: Pki,
    admin_key: Path,
    admin_seq: int,
    farm: str,
) -> Service:
    state = root / DEVICE
    device_key = SignerKey.generate(DEVICE)
    DeviceIdentity.create(state, device_key).close()
    admin = load_key(admin_key)
    cert, key = client_cert(pki, admin.id, root)
    login = MqttUrl(
        "127.0.0.1",
        broker.settings.tls_port,
        admin.id,
        broker.password(admin.id),
        tls=True,
        ca_file=pki.ca,
        cert_file=cert,
        key_file=key,
    )
    payload = device_payload(
        "register",
        DEVICE,
        admin_seq,
        time.time_ns() // 1_000_000 - 60_000,
        pubkey=device_key.public_key,
        kinds=["temperature"],
        subjects=["barn:*"],
    )
    raw = sign_entry(payload, admin.id, admin.seed)
    publish_and_wait(raw, admin_seq, admin.id, login, farm, 30)
    cert, key = client_cert(pki, DEVICE, root)
    config = root / "device.toml"
    config.write_text(
        f'state_dir = "{state}"\n'
        f'mqtt = "mqtts://{DEVICE}:{broker.password(DEVICE)}@127.0.0.1:{login.port}"\n'
        f'ca_file = "{pki.ca}"\ncert_file = "{cert}"\nkey_file = "{key}"\n'
        f'farm = "{farm}"\nsensor = "sim:b1-temp"\ninterval = 1\n'
    )
    config.chmod(0o600)
    return services.farmtrace("device", "device", "run", "--config", str(config))


def await_subscribed(gateway_url: str) -> None:
    """Until the gateway's subscription is acknowledged, what is published is not queued."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(gateway_url + "/metrics", timeout=10) as response:
            if re.search(rb"^farmtrace_mqtt_connected 1", response.read(), re.M):
                return
        assert time.monotonic() < deadline, "the gateway did not subscribe"
        time.sleep(0.05)
