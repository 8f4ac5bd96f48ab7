"""Devices and the gateway over MQTT with TLS (``mqtts://``), as deployed off the broker's host.

A real Mosquitto with farmtrace's config and its TLS listener (client
certificates required, as docs/broker.md deploys it), a real
``farmtrace gateway run`` connecting over TLS, real TLS with a CA made here.
A device's link delivers its outbox and gets receipts; an operator's
publish-and-wait gets its receipt. A wrong CA, a wrong host name, TLS to a
plain port and plain MQTT to the TLS port are each refused with a one-line
error naming the cause, counted and retried, the readings kept; with the
right CA they are then delivered. ``farmtrace device run`` does the same as
a process.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from deploy_device import await_subscribed, committed
from deploy_pki import Pki, client_cert, make_pki
from deploy_stack import Services
from mqtt_broker import Broker, free_port, secured_settings

from chain.entries import device_payload, sign_entry
from chain.keyfile import SignerKey
from gateway.broker_config import TlsFiles
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from signer._paho_io import readable
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import MqttUrl
from signer.outbox import Outbox
from signer.transport import NotConnectedError, publish_and_wait

FARM = "farm1"
DEVICES = ("dev-a", "bad-ca", "bad-host", "tls-plain", "plain-tls", "tls-cli")
T0 = 1_767_225_600_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class TlsFarm:
    root: Path
    pki: Pki
    other_ca: Path
    """A CA that did not sign the broker's certificate."""
    broker: Broker
    gateway_url: str
    services: Services
    certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    @property
    def tls_port(self) -> int:
        return self.broker.settings.tls_port

    def url(self, user: str, *, host: str = "127.0.0.1", ca: Path | None = None) -> MqttUrl:
        """``user``'s login over TLS, with its client certificate."""
        if user not in self.certs:
            self.certs[user] = client_cert(self.pki, user, self.root / "pki")
        cert, key = self.certs[user]
        return MqttUrl(
            host,
            self.tls_port,
            user,
            self.broker.password(user),
            tls=True,
            ca_file=ca or self.pki.ca,
            cert_file=cert,
            key_file=key,
        )

    def committed(self, dev: str) -> int:
        """How many of ``dev``'s seqs the gateway has committed."""
        return committed(self.gateway_url, dev)


def _register(farm: TlsFarm, admin: SignerKey, seq: int, dev: str, key: SignerKey) -> None:
    payload = device_payload(
        "register",
        dev,
        seq,
        _now_ms() - 3_600_000,
        pubkey=key.public_key,
        kinds=["temperature"],
        subjects=["barn:*"],
    )
    raw = sign_entry(payload, admin.id, admin.seed)
    receipt = publish_and_wait(raw, seq, admin.id, farm.url(admin.id), FARM, 30)
    assert receipt.covers(seq)


@pytest.fixture(scope="module")
def tls_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFarm]:
    root = tmp_path_factory.mktemp("mqtts")
    (root / "pki").mkdir()
    pki = make_pki(root / "pki", ["broker.test"])  # names broker.test and 127.0.0.1
    (root / "other").mkdir()
    other_ca = make_pki(root / "other", ["broker.test"]).ca
    settings = secured_settings(
        root / "broker",
        farm=FARM,
        devices=("admin", *DEVICES),
        tls=TlsFiles(pki.ca, pki.cert, pki.key),
        tls_port=free_port(),
        tls_bind="127.0.0.1",
    )
    broker = Broker(root / "broker", settings)
    broker.start()
    services = Services(root)
    try:
        admin = SignerKey.generate("admin")
        data_dir = DataDir(root / "gw")
        init_data_dir(data_dir, "farm.test/log", [admin], _now_ms() - 7_200_000)
        secret = root / "gateway-password"
        secret.write_text(broker.password("gateway") + "\n")
        farm = TlsFarm(root, pki, other_ca, broker, "", services)
        gw = farm.url("gateway")
        assert gw.cert_file is not None and gw.key_file is not None
        gateway = services.farmtrace(
            "gateway", "gateway", "run", "--data-dir", str(data_dir.root), "--farm", FARM,
            "--mqtt", f"mqtts://gateway@127.0.0.1:{farm.tls_port}",
            "--mqtt-password-file", str(secret), "--mqtt-ca-file", str(pki.ca),
            "--mqtt-cert-file", str(gw.cert_file), "--mqtt-key-file", str(gw.key_file),
            "--http-port", "0", "--block-interval-ms", "200",
        )  # fmt: skip
        farm.gateway_url = gateway.wait_for(r"gateway running: (http://\S+)/checkpoint")[1]
        await_subscribed(farm.gateway_url)
        keys = {dev: SignerKey.generate(dev) for dev in DEVICES}
        for seq, dev in enumerate(("dev-a", "bad-ca", "tls-cli"), start=2):  # 1: genesis
            _register(farm, admin, seq, dev, keys[dev])
        for dev, key in keys.items():
            DeviceIdentity.create(root / "devices" / dev, key).close()
        yield farm
    finally:
        codes = services.stop_all()
        broker.kill()
    assert {name: code for name, code in codes.items() if code != 0} == {}


def _device(farm: TlsFarm, dev: str, readings: int) -> Device:
    identity = DeviceIdentity.open(farm.root / "devices" / dev)
    device = Device(identity, Outbox.open(farm.root / "devices" / dev / "outbox.db"))
    device.record_many(
        [
            ("temperature", "barn:b1", 20 + k / 10, "Cel", _now_ms() - 60_000 + k)
            for k in range(readings)
        ]
    )
    return device


def _close(device: Device) -> None:
    device.outbox.close()
    device.identity.close()


def test_a_device_sends_over_tls_and_the_gateway_over_tls_commits_and_receipts(
    tls_farm: TlsFarm,
) -> None:
    device = _device(tls_farm, "dev-a", 30)
    link = MqttLink(device, tls_farm.url("dev-a"), FARM, min_delay=0.1, max_delay=0.5)
    fleet = Fleet([link])
    fleet.start()
    try:
        assert link.wait_drained(30), link.stats  # every reading receipted
    finally:
        fleet.stop()
        _close(device)
    assert link.stats.connect_failures == 0 and link.stats.connects >= 1
    assert tls_farm.committed("dev-a") == 30


def test_tls_failures_are_named_counted_and_retried_and_the_readings_kept(
    tls_farm: TlsFarm, caplog: pytest.LogCaptureFixture
) -> None:
    farm = tls_farm
    plain = replace(farm.url("plain-tls"), tls=False, ca_file=None, cert_file=None, key_file=None)
    cases = {
        "bad-ca": (farm.url("bad-ca", ca=farm.other_ca), "(unknown CA)"),
        "bad-host": (farm.url("bad-host", host="localhost"), "(wrong host name)"),
        "tls-plain": (
            replace(farm.url("tls-plain"), port=farm.broker.port),
            "is it a plain MQTT port?",
        ),
        "plain-tls": (plain, "if that port is the broker's TLS listener, use mqtts://"),
    }
    devices = {dev: _device(farm, dev, 5) for dev in cases}
    links = {
        dev: MqttLink(devices[dev], url, FARM, min_delay=0.05, max_delay=0.2)
        for dev, (url, _) in cases.items()
    }
    fleet = Fleet(list(links.values()))
    caplog.set_level(logging.WARNING, logger="signer.mqtt_link")
    fleet.start()
    try:
        deadline = time.monotonic() + 30
        while min(link.stats.connect_failures for link in links.values()) < 3:
            assert time.monotonic() < deadline, {d: k.stats for d, k in links.items()}
            time.sleep(0.05)
    finally:
        fleet.stop()
    for dev, (_, cause) in cases.items():
        assert links[dev].stats.connects == 0 and links[dev].stats.sent == 0
        assert devices[dev].outbox.count == 5  # nothing lost
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(dev + ":")]
        assert any(cause in line for line in lines), (dev, lines)
        assert all("\n" not in line for line in lines)
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere

    # With the right CA, the readings kept through the failures are delivered.
    fixed = MqttLink(devices["bad-ca"], farm.url("bad-ca"), FARM, min_delay=0.1, max_delay=0.5)
    fleet = Fleet([fixed])
    fleet.start()
    try:
        assert fixed.wait_drained(30), fixed.stats
    finally:
        fleet.stop()
        for device in devices.values():
            _close(device)
    assert farm.committed("bad-ca") == 5


def test_publish_and_wait_with_an_unknown_ca_fails_at_once_naming_it(tls_farm: TlsFarm) -> None:
    started = time.monotonic()
    with pytest.raises(NotConnectedError, match=r"\(unknown CA\).*nothing signed"):
        publish_and_wait(
            b"x.y.z", 1, "admin", tls_farm.url("admin", ca=tls_farm.other_ca), FARM, 20
        )
    assert time.monotonic() - started < 10  # not retried until the timeout


def test_device_run_keeps_readings_through_a_tls_failure_then_delivers_them(
    tls_farm: TlsFarm,
) -> None:
    farm = tls_farm
    url = farm.url("tls-cli")
    assert url.cert_file is not None and url.key_file is not None
    state = farm.root / "devices" / "tls-cli"

    def run(name: str, ca: Path, duration: float) -> str:
        config = farm.root / f"{name}.toml"
        config.write_text(
            f'state_dir = "{state}"\nfarm = "{FARM}"\nsensor = "sim:b1-temp"\ninterval = 1\n'
            f'mqtt = "mqtts://tls-cli:{url.password}@127.0.0.1:{farm.tls_port}"\n'
            f'ca_file = "{ca}"\ncert_file = "{url.cert_file}"\nkey_file = "{url.key_file}"\n'
        )
        service = farm.services.farmtrace(
            name, "device", "run", "--config", str(config), "--duration", str(duration)
        )
        assert service.proc.wait(60) == 0, service.log.read_text()
        text = service.log.read_text()
        assert "Traceback" not in text, text
        return text

    refused = run("device-bad-ca", farm.other_ca, 2.0)
    assert "(unknown CA)" in refused
    recorded, kept = map(int, re.findall(r"recorded (\d+); kept (\d+) awaiting", refused)[0])
    assert recorded >= 1 and kept == recorded  # every reading kept
    assert farm.committed("tls-cli") == 0

    run("device-good-ca", farm.pki.ca, 2.0)
    deadline = time.monotonic() + 30
    while farm.committed("tls-cli") < recorded:  # the first run's readings arrived too
        assert time.monotonic() < deadline, farm.committed("tls-cli")
        time.sleep(0.1)


def test_bytes_tls_has_already_decrypted_count_as_readable(tmp_path: Path) -> None:
    """poll() sees only the kernel's buffer: a link must not wait there for a receipt TLS holds."""
    pki = make_pki(tmp_path, ["broker.test"])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.cert, pki.key)
    client_context = ssl.create_default_context(cafile=str(pki.ca))
    ours, theirs = socket.socketpair()
    answer: list[bytes] = []

    def serve() -> None:
        with server_context.wrap_socket(theirs, server_side=True) as server:
            server.sendall(b"0123456789")  # one TLS record
            answer.append(server.recv(1))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_context.wrap_socket(ours, server_hostname="broker.test") as client:
            assert client.recv(1) == b"0"  # TLS decrypted the whole record
            assert client.pending() == 9
            assert readable(client)
            client.sendall(b"x")
    finally:
        thread.join(10)
    assert answer == [b"x"]
