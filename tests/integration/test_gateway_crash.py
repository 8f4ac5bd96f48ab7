"""kill -9 the gateway again and again during a stream: every reading ends up in the log once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import NamedTuple

from gateway_harness import (
    GatewayProcess,
    Publisher,
    Signer,
    committed_entries,
    device_keys,
    new_data_dir,
)
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok

from chain.entries import parse_entry
from gateway.datadir import DataDir

DEVICES = 4
READINGS = 600  # per device


def resend_until_receipted(pub: Publisher, device: str, raws: list[bytes]) -> None:
    """Wait for a receipt covering every entry, resending what it does not cover, as devices do.

    Mosquitto 2.0.11 can leave messages queued for a resumed session until
    the next publish reaches it; a device's resend timer is that publish.
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            pub.wait_receipt(device, lambda r: r.seq == len(raws), timeout=3)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        receipt = pub.receipts.get(device)
        pub.publish(
            device,
            [raw for seq, raw in enumerate(raws, 1) if not (receipt and receipt.covers(seq))],
        )


class Stream(NamedTuple):
    """A gateway, its publisher, and the thread publishing ``sent`` (readings per device)."""

    data_dir: DataDir
    gateway: GatewayProcess
    pub: Publisher
    sent: dict[str, list[bytes]]
    thread: threading.Thread


def start_stream(root: Path, broker: Broker, chunk: int, workers: int = 1) -> Stream:
    """Start a gateway in ``root`` with ``workers`` signature workers, register DEVICES
    devices, and start publishing READINGS readings of each, ``chunk`` per message, from a
    thread. (The default worker count is 0 on one core: the workers are named here.)"""
    data_dir, admin = new_data_dir(root)
    devices = [Signer(k) for k in device_keys(DEVICES)]
    extra = ["--block-interval-ms", "50", "--verify-workers", str(workers)]
    gateway = GatewayProcess(data_dir, broker.url, extra)
    gateway.start()
    pub = Publisher(broker.port, "stream")
    pub.watch(admin.id)
    pub.publish(admin.id, [admin.register(d.key) for d in devices])
    pub.wait_receipt(admin.id, lambda r: r.seq == 1 + DEVICES)
    for device in devices:
        pub.watch(device.id)
    sent = {d.id: [d.reading(i / 10) for i in range(READINGS)] for d in devices}

    def stream() -> None:
        for i in range(0, READINGS, chunk):
            for device in devices:
                pub.publish(device.id, sent[device.id][i : i + chunk])
            time.sleep(0.01)

    thread = threading.Thread(target=stream)
    thread.start()
    return Stream(data_dir, gateway, pub, sent, thread)


def test_kill_9_during_a_stream_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, gateway, pub, sent, streamer = start_stream(tmp_path / "gw", broker, chunk=20)
    kills = 0
    while streamer.is_alive() or kills < 3:
        time.sleep(0.4)
        gateway.kill()
        kills += 1
        gateway.start()
    streamer.join()
    try:
        for device, raws in sent.items():
            resend_until_receipted(pub, device, raws)
    finally:
        pub.close()
        if gateway.proc is not None and gateway.proc.poll() is None:
            assert gateway.terminate() == 0
    assert kills >= 3
    log = committed_entries(data_dir)
    readings = [e for e in log if parse_entry(e).type == "reading"]
    assert len(readings) == len(set(readings)) == DEVICES * READINGS
    assert set(readings) == {raw for raws in sent.values() for raw in raws}
    audit_ok(data_dir)
