"""Issue 11: poison messages cannot stop a gateway, before or after a restart.

A real Mosquitto and a real ``farmtrace gateway run`` process: a device
publishes deeply nested JSON, numbers that overflow or have thousands of
digits, and invalid UTF-8 on its status topic (QoS 1, retained) and inside
entries; the gateway counts each, acknowledges it and keeps committing good
readings, and so does the restarted gateway (no poison is redelivered
forever, and the retained one is only counted again).
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from gateway_harness import (
    FARM,
    GatewayProcess,
    Publisher,
    Signer,
    committed_entries,
    device_keys,
    metric,
    new_data_dir,
)
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok

from chain.jws import sign_compact
from chain.wire import status_topic

NESTED = b'{"status":"online","x":' + b"[" * 1500 + b"]" * 1500 + b"}"
STATUS_POISONS = [
    NESTED,
    b'{"status":"online","outbox":1e999999}',
    b'{"status":"online","outbox":' + b"7" * 5000 + b"}",
    b'{"status":"online","fw":"\xff\xfe"}',
    b"[" * 3000,
]


def entry_poisons(device: Signer) -> list[bytes]:
    """Signed entries whose payloads are poison: the signature is fine, the JSON is not."""
    seed, kid = device.key.seed, device.id
    return [
        sign_compact(b'{"type":"reading","x":' + b"[" * 900 + b"]" * 900 + b"}", kid, seed),
        sign_compact(b'{"type":"reading","value":1e999999}', kid, seed),
        sign_compact(b'{"type":"reading","seq":' + b"9" * 2000 + b"}", kid, seed),
        sign_compact(b'{"type":"reading","unit":"\xc3\x28"}', kid, seed),
    ]


def scrape(gateway: GatewayProcess) -> str:
    with urllib.request.urlopen(gateway.http_url + "/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def wait_for(gateway: GatewayProcess, name: str, reason: str, value: float) -> str:
    deadline = time.monotonic() + 20
    while True:
        text = scrape(gateway)
        if metric(text, name, reason) >= value:
            return text
        assert gateway.proc is not None and gateway.proc.poll() is None, "gateway exited"
        assert time.monotonic() < deadline, f"{name}{{{reason}}} stayed below {value}"
        time.sleep(0.05)


def test_a_gateway_fed_poison_keeps_committing_good_readings(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    (device,) = (Signer(k) for k in device_keys(1))
    gateway = GatewayProcess(data_dir, broker.url, ["--block-interval-ms", "50"])
    gateway.start()
    pub = Publisher(broker.port, "poisoner")
    rejected = "farmtrace_entries_rejected_total"
    try:
        pub.register(admin, [device.key])
        pub.watch(device.id)
        for poison in STATUS_POISONS:
            info = pub.client.publish(status_topic(FARM, device.id), poison, qos=1, retain=True)
            info.wait_for_publish(10)
        pub.publish(device.id, entry_poisons(device))
        pub.publish(device.id, [device.reading(20.0)])
        pub.wait_receipt(device.id, lambda r: r.seq == 1)
        text = wait_for(gateway, rejected, "malformed_status", len(STATUS_POISONS))
        assert metric(text, rejected, "malformed_status") == len(STATUS_POISONS)
        assert metric(text, rejected, "malformed_entry") == len(entry_poisons(device))
        assert metric(text, rejected, "internal_error") == 0
        pub.publish(device.id, [device.reading(21.0)])
        pub.wait_receipt(device.id, lambda r: r.seq == 2)
        assert gateway.proc is not None and gateway.proc.poll() is None

        assert gateway.terminate() == 0
        # Queued in the gateway's persistent session while it is down: met first thing on start.
        info = pub.client.publish(status_topic(FARM, device.id), NESTED, qos=1)
        info.wait_for_publish(10)
        pub.publish(device.id, entry_poisons(device)[:1])
        gateway.start()  # the same session: what was acknowledged is not redelivered
        pub.publish(device.id, [device.reading(22.0)])
        pub.wait_receipt(device.id, lambda r: r.seq == 3)
        # The queued poison, and the retained one again on subscribing: counted, harmless.
        text = wait_for(gateway, rejected, "malformed_status", 2)
        assert metric(text, rejected, "malformed_status") == 2
        assert metric(text, rejected, "malformed_entry") == 1
        assert gateway.proc is not None and gateway.proc.poll() is None
        assert gateway.terminate() == 0
    finally:
        pub.close()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.kill()
    assert gateway.log is not None
    log = gateway.log.read_text()
    assert "Traceback" not in log and "RecursionError" not in log, log
    assert "malformed_status" in log  # logged, rate-limited, with the reason
    entries = committed_entries(data_dir)
    assert len(entries) == 1 + 1 + 3  # genesis registration, the device's, three readings
    audit_ok(data_dir)
    assert not data_dir.dead_letter.exists()  # bad input is rejected, not quarantined
