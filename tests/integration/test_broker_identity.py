"""Client ids at the broker: a login cannot knock another user off, nor wipe its session.

Mosquitto lets any client take any client id: the broker then disconnects the
client that held it and, with clean start, discards its session (issue 11:
a device connecting as ``farmtrace-gateway-<farm>`` kept the gateway off the
broker a third of the time, and wiped what the broker had queued for it).
Our config sets ``use_username_as_clientid``: every client's id is its user
name, so a device's credentials only ever reach that device's own session.
Everything here is real: Mosquitto with the farm's passwords and ACL, and
``farmtrace gateway run`` as a child process.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gateway_harness import FARM, GatewayProcess, Signer, metric, new_data_dir
from mqtt_broker import TIMEOUT, Broker, Probe

from chain.keyfile import SignerKey
from chain.wire import entry_topic, parse_receipt, receipt_topic

SecuredBroker = Callable[..., Broker]
# What a device would try: the gateway's user name (its id now), the id it used to have,
# another device's.
IMPERSONATED = ("gateway", f"farmtrace-gateway-{FARM}", "dev-b")


@dataclass
class Farm:
    broker: Broker
    gateway: GatewayProcess
    dev_b: Signer
    victim: Probe
    """dev-b's own connection, subscribed to its receipts."""

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.gateway.http_url}/metrics", timeout=TIMEOUT) as r:
            return str(r.read().decode())

    def wait_gateway_connected(self) -> None:
        deadline = time.monotonic() + 30
        while metric(self.metrics(), "farmtrace_mqtt_connected") < 1:
            assert time.monotonic() < deadline, "the gateway did not connect"
            time.sleep(0.05)


def login(broker: Broker, user: str, client_id: str, *, clean_start: bool = True) -> Probe:
    probe = Probe(broker, client_id)
    reason = probe.connect(user, broker.password(user), clean_start=clean_start)
    assert not reason.is_failure, reason
    return probe


def committed(probe: Probe, signer: Signer, raws: list[bytes], timeout: float = 60) -> None:
    """Publish ``raws`` as ``signer`` until a receipt covers its last seq.

    Resent every few seconds: the gateway may not have subscribed yet (it
    treats an identical resend as a duplicate).
    """
    deadline = time.monotonic() + timeout
    while True:
        for raw in raws:
            assert probe.publish(entry_topic(FARM, signer.id), raw).value == 0
        resend = time.monotonic() + 5
        while time.monotonic() < min(resend, deadline):
            for topic, payload in probe.receive(1, timeout=0.2):
                receipt = parse_receipt(payload)
                if topic == receipt_topic(FARM, signer.id) and receipt.covers(signer.seq):
                    return
        assert time.monotonic() < deadline, f"no receipt for {signer.id} seq {signer.seq}"


@pytest.fixture
def farm(secured_broker: SecuredBroker, tmp_path: Path) -> Iterator[Farm]:
    broker = secured_broker(farm=FARM, devices=("admin", "dev-a", "dev-b"))
    data_dir, admin = new_data_dir(tmp_path / "gw")
    url = f"mqtt://gateway:{broker.password('gateway')}@127.0.0.1:{broker.port}"
    gateway = GatewayProcess(data_dir, url)
    gateway.start()
    dev_a, dev_b = SignerKey.generate("dev-a"), SignerKey.generate("dev-b")
    registrar = login(broker, "admin", "admin")
    registrar.subscribe(receipt_topic(FARM, "admin"))
    committed(registrar, admin, [admin.register(dev_a), admin.register(dev_b)])
    registrar.close()
    victim = login(broker, "dev-b", "dev-b")
    victim.subscribe(receipt_topic(FARM, "dev-b"))
    made = Farm(broker, gateway, Signer(dev_b), victim)
    made.wait_gateway_connected()
    yield made
    victim.close()
    if gateway.proc is not None and gateway.proc.poll() is None:
        gateway.terminate()


def test_a_device_taking_the_gateways_or_another_devices_id_disconnects_nobody(
    farm: Farm,
) -> None:
    committed(farm.victim, farm.dev_b, [farm.dev_b.reading()])
    for client_id in IMPERSONATED:
        impostor = login(farm.broker, "dev-a", client_id)
        # The broker takes over a client id while it answers the CONNECT: by now the
        # victim would be gone. It is not: it still publishes, and the gateway commits.
        committed(farm.victim, farm.dev_b, [farm.dev_b.reading()], timeout=30)
        impostor.close()
    assert farm.victim.disconnected.empty()
    metrics = farm.metrics()
    assert metric(metrics, "farmtrace_mqtt_connected") == 1
    assert metric(metrics, "farmtrace_mqtt_reconnects_total") == 0
    assert farm.gateway.log is not None
    assert "lost the broker" not in farm.gateway.log.read_text()


def test_a_clean_start_with_the_gateways_id_cannot_wipe_its_queued_session(farm: Farm) -> None:
    assert farm.gateway.terminate() == 0  # its session stays on the broker, and queues
    raws = [farm.dev_b.reading() for _ in range(5)]
    for raw in raws:  # acknowledged by the broker, queued for the gateway; sent once only
        assert farm.victim.publish(entry_topic(FARM, "dev-b"), raw).value == 0
    for client_id in IMPERSONATED[:2]:
        login(farm.broker, "dev-a", client_id, clean_start=True).close()
    farm.gateway.start()
    deadline = time.monotonic() + 60
    while True:  # no resend: only the gateway's queued session can deliver them
        got = farm.victim.receive(1, timeout=max(0.0, deadline - time.monotonic()))
        assert got, "the gateway's queued session was lost"
        if parse_receipt(got[0][1]).covers(farm.dev_b.seq):
            break
