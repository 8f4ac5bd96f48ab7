"""Issue 16: an entry's receive time is when the gateway read it, not when it was admitted.

With signature workers a batch waits for a worker's answer (and the batch
before it) between being read from the socket and being admitted on the
ingest thread. Blocks close ``block_interval_ms`` after their oldest entry
was received, and ``farmtrace_commit_latency_seconds`` counts from then: both
must include that wait, or a loaded gateway closes its blocks late and its
histogram hides the delay (bench/RESULTS.md, "Gateway ingest").

The MQTT loop's two steps are driven by hand here (read, then admit later),
on a real store; the loop itself runs in tests/integration/test_gateway_*.
"""

from __future__ import annotations

import re

import paho.mqtt.client as mqtt
from farm_logs import START_MS, LogFactory

from chain.wire import entry_topic
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest, MqttSettings
from signer._paho_io import release_sockets

NOW = START_MS + 10 * 24 * 3_600_000
FARM = "farm"


def test_a_batch_admitted_late_keeps_the_time_it_was_read(d1_log: LogFactory) -> None:
    ingest = Ingest.open(
        d1_log.store,
        d1_log.trust,
        read_log_signer(d1_log.data_dir),
        IngestConfig(block_interval_ms=1_000),
        now_ms=NOW,
    )
    clock = [NOW]
    metrics = GatewayMetrics()
    loop = MqttIngest(ingest, FARM, MqttSettings(verify_workers=0), metrics, clock=lambda: clock[0])
    try:
        for mid in range(1, 4):  # read from the socket at NOW
            message = mqtt.MQTTMessage(mid, entry_topic(FARM, "d1").encode())
            message.payload = d1_log.reading("d1").raw
            loop._on_message(loop._client, None, message)
        clock[0] = NOW + 1_500  # the batch waited 1.5 s for a signature worker
        loop._sequence(loop._inbox, [None] * 3)
        assert ingest.pending_count == 3
        assert ingest.oldest_pending_ms() == NOW
        assert ingest.block_due(NOW + 1_500)  # its oldest entry arrived 1.5 s ago
        loop._commit_due(force=False)
    finally:
        release_sockets(loop._client)
    assert ingest.pending_count == 0
    histogram = metrics.render().decode()
    assert re.search(r"^farmtrace_commit_latency_seconds_sum 4\.5$", histogram, re.M)
    within_1s = r'^farmtrace_commit_latency_seconds_bucket\{le="1\.0"\} 0\.0$'
    assert re.search(within_1s, histogram, re.M)
