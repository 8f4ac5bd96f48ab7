"""Every kind of bad message reaches a real gateway: each is counted by reason, none crashes it."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from pathlib import Path

from gateway_harness import (
    Publisher,
    Signer,
    committed_entries,
    device_keys,
    metric,
    new_data_dir,
)
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok, start_gateway

from chain.jws import sign_compact


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_each_bad_input_is_rejected_with_its_reason(tmp_path: Path, broker: Broker) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    good, other = (Signer(k) for k in device_keys(2))
    stranger = Signer(device_keys(1, prefix="stranger")[0])
    gateway = start_gateway(data_dir, broker)
    pub = Publisher(broker.port, "bad-inputs")
    try:
        pub.watch(admin.id)
        pub.publish(admin.id, [admin.register(good.key), admin.register(other.key)])
        pub.wait_receipt(admin.id, lambda r: r.seq == 3)
        pub.watch(good.id)
        first = good.reading(20.0)
        pub.publish(good.id, [first])
        pub.wait_receipt(good.id, lambda r: r.seq == 1)

        real = good.reading(21.0)  # seq 2
        header, payload, _sig = real.split(b".")
        alg_none = b64url(json.dumps({"alg": "none", "kid": good.id}).encode())
        forged_payload = json.loads(base64.urlsafe_b64decode(payload + b"=="))
        forged_payload["value"] = 99.0
        bad = {
            "malformed_entry": [
                b"\x00\xffgarbage",
                real[: len(real) // 2],  # truncated
                f"{alg_none}.{payload.decode()}.".encode(),  # alg: none
            ],
            "bad_signature": [
                # good's header and a changed payload under good's old signature
                b".".join([header, b64url(json.dumps(forged_payload).encode()).encode(), _sig]),
                # signed with another device's key but claiming good's kid
                sign_compact(json.dumps(forged_payload).encode(), good.id, other.key.seed),
            ],
            "unknown_signer": [stranger.reading()],
            "oversized": [b"x" * 5000],
            "clock_skew": [good.reading(ts=int(time.time() * 1000) + 3_600_000)],
        }
        for reason, raws in bad.items():
            pub.publish(good.id if reason != "unknown_signer" else stranger.id, raws)
        # another device's genuine entry published under good's topic
        pub.publish(good.id, [other.reading()], topic_device=None)
        pub.publish(other.id, [good.reading()])  # good's entry on other's topic: wrong_topic
        # an equivocation: same (dev, seq) as the committed `first`, different value
        equivocation = good.reading(25.0, seq=1)
        pub.publish(good.id, [equivocation])
        pub.publish(good.id, [first])  # an identical replay: a harmless duplicate
        pub.publish(good.id, [real])  # seq 2, finally the genuine one
        pub.wait_receipt(good.id, lambda r: r.seq == 2)
        url = f"http://127.0.0.1:{gateway.http_port}/metrics"

        def scrape() -> str:
            return str(urllib.request.urlopen(url).read().decode())

        # MQTT orders messages per topic only: wait for the one sent on other's topic too.
        rejected = "farmtrace_entries_rejected_total"
        deadline = time.monotonic() + 10
        while metric(scrape(), rejected, "wrong_topic") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        text = scrape()
        for reason, raws in bad.items():
            assert metric(text, rejected, reason) == len(raws), reason
        assert metric(text, rejected, "wrong_topic") == 2
        assert metric(text, rejected, "equivocation") == 1
        assert metric(text, "farmtrace_entries_duplicate_total") == 1
        assert gateway.running
        pool = gateway.mqtt._pool if gateway.mqtt is not None else None
        assert pool is not None and pool.size == 1  # a signature worker ran beside it
    finally:
        pub.close()
        gateway.stop()
    assert gateway.error is None
    log = committed_entries(data_dir)
    assert first in log and real in log and equivocation not in log
    assert len(log) == 1 + 2 + 2
    audit_ok(data_dir)
