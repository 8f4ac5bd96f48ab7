"""A device's readings must be what its registration allows (issue 11 item 5), at a real gateway.

A device registered for temperature at barn:b1 sends a weight for bird:0001
(its own signature, a kind it is not registered for), a temperature for
barn:b2 (a subject it is not registered for) and an activity of -1 for
bird:9999 (a value no count can have): each is refused with its own reason
in /metrics, none is committed, and its good readings are.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from gateway_harness import (
    GatewayProcess,
    Publisher,
    Signer,
    committed_entries,
    device_keys,
    metric,
    new_data_dir,
    now_ms,
)
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok

from chain.entries import reading_payload
from chain.jws import sign_compact

REJECTED = "farmtrace_entries_rejected_total"


def _signed(device: Signer, seq: int, kind: str, subject: str, value: float, unit: str) -> bytes:
    # Signed without sign_entry's checks, as a faulty or hostile device could.
    payload = reading_payload(device.id, seq, now_ms(), kind, subject, value, unit)
    return sign_compact(json.dumps(payload).encode(), device.id, device.key.seed)


def test_readings_outside_the_registration_are_refused_by_reason(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    thermometer = Signer(device_keys(1, prefix="b1-temp")[0])  # temperature at barn:b1
    gateway = GatewayProcess(data_dir, broker.url, ["--block-interval-ms", "50"])
    gateway.start()
    pub = Publisher(broker.port, "scope")
    try:
        pub.register(admin, [thermometer.key])
        pub.watch(thermometer.id)
        first = thermometer.reading(20.5)  # seq 1
        refused = {
            "kind_not_registered": _signed(thermometer, 2, "weight", "bird:0001", 99, "kg"),
            "value_out_of_range": _signed(thermometer, 2, "activity", "bird:9999", -1, "count"),
            "subject_not_registered": _signed(
                thermometer, 2, "temperature", "barn:b2", 21.0, "Cel"
            ),
        }
        last = thermometer.reading(21.5)  # seq 2: the refused ones held no seq
        # One topic: the gateway sees them in this order, so the receipt for
        # seq 2 comes after every refusal.
        pub.publish(thermometer.id, [first, *refused.values(), last])
        pub.wait_receipt(thermometer.id, lambda r: r.seq == 2)
        url = f"{gateway.http_url}/metrics"
        deadline = time.monotonic() + 10
        while True:
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            counts = {reason: metric(text, REJECTED, reason) for reason in refused}
            if all(counts.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert counts == dict.fromkeys(refused, 1.0)
        assert metric(text, REJECTED, "unauthorized") == 0
        assert metric(text, REJECTED, "malformed_entry") == 0
    finally:
        pub.close()
        assert gateway.terminate() == 0
    log = committed_entries(data_dir)
    assert first in log and last in log
    assert not set(refused.values()) & set(log)
    audit_ok(data_dir)
