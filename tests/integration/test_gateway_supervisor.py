"""Issue 11: a failing ingest loop is restarted, and a message it failed on twice is quarantined.

No real input makes the hardened handler fail any more, so the failure is
injected: an Ingest whose ``offer`` runs out of memory on one message. The
broker (real Mosquitto), the store (real LevelDB) and the MQTT loop are real.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import FARM, Publisher, Signer, device_keys, new_data_dir
from mqtt_broker import Broker

from chain.store import Store
from chain.trust import TrustRoot
from chain.wire import status_payload, status_topic
from gateway.admission import Decision
from gateway.datadir import DataDir
from gateway.dead_letter import DeadLetterFile
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest, MqttSettings
from gateway.supervisor import IngestSupervisor

BOOM = b"eyJhbGciOiJFZERTQSIsImtpZCI6ImRldjAwMCJ9.Ym9vbQ.Ym9vbQ"


class ExplodingIngest(Ingest):
    """The real pipeline, except that the message BOOM exhausts memory."""

    def offer(
        self, raw: bytes, publisher: str | None, now_ms: int, verified_key: bytes | None = None
    ) -> Decision:
        if raw == BOOM:
            raise MemoryError("injected: BOOM")
        return super().offer(raw, publisher, now_ms, verified_key)


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[DataDir, Signer, Store]]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    store = Store.open(data_dir.log)
    yield data_dir, admin, store
    store.close()


def test_a_failing_loop_restarts_and_quarantines_the_message_it_failed_on_twice(
    farm: tuple[DataDir, Signer, Store], broker: Broker
) -> None:
    data_dir, admin, store = farm
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    key = read_log_signer(data_dir)

    def reopen() -> Ingest:
        return ExplodingIngest.open(
            store,
            trust,
            key,
            IngestConfig(block_interval_ms=50),
            now_ms=time.time_ns() // 1_000_000,
        )

    metrics = GatewayMetrics()
    mqtt = MqttIngest(
        reopen(),
        FARM,
        MqttSettings(port=broker.port, client_id="gw-supervised"),
        metrics,
        dead_letter=DeadLetterFile(data_dir.dead_letter),
    )
    supervisor = IngestSupervisor(mqtt, reopen, metrics, backoff_min_s=0.05, backoff_max_s=0.2)
    thread = threading.Thread(target=supervisor.run, name="supervised-ingest")
    thread.start()
    pub = Publisher(broker.port, "supervisor-test")
    try:
        assert mqtt.connected.wait(10)
        (device,) = (Signer(k) for k in device_keys(1))
        pub.register(admin, [device.key])
        pub.watch(device.id)
        pub.publish(device.id, [device.reading(1.0), BOOM, device.reading(2.0)])
        for _ in range(60):  # a device's resend timer: nudges a resumed session's queue
            try:
                pub.wait_receipt(device.id, lambda r: r.seq == 2, timeout=0.5)
                break
            except AssertionError:
                pub.client.publish(status_topic(FARM, device.id), status_payload("online"), 1)
        pub.wait_receipt(device.id, lambda r: r.seq == 2, timeout=1)
        assert mqtt.connected.wait(10)
    finally:
        pub.close()
        mqtt.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert supervisor.failures == 2
    assert isinstance(supervisor.last_error, MemoryError)
    text = metrics.render().decode()
    assert "farmtrace_ingest_restarts_total 2.0" in text
    assert 'farmtrace_entries_rejected_total{reason="poison"} 1.0' in text
    (line,) = data_dir.dead_letter.read_text().splitlines()
    record = json.loads(line)
    assert record["topic"] == f"farmtrace/{FARM}/{device.id}/entry"
    assert base64.b64decode(record["payload_b64"]) == BOOM
    assert "failed 2 times" in record["error"]
    assert store.entry_count == 1 + 1 + 2  # genesis, registration, both readings, once each
