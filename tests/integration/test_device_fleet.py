"""A whole simulated farm (230 devices, each its own MQTT connection) in one process."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from fake_gateway import FakeGateway
from mqtt_broker import Broker

from chain.entries import parse_entry, verify_entry
from firmware_sim.farm import AcceleratedClock, FarmConfig, SimulatedFarm
from firmware_sim.farm_runner import FarmRunner
from signer.mqtt_url import parse_mqtt_url

HOUR = 3_600_000


def test_230_devices_backfill_then_stream_live(broker: Broker, tmp_path: Path) -> None:
    config = FarmConfig(farm_id="demo-farm", tagged_birds=222)
    farm = SimulatedFarm(config, random.Random(3))
    assert len(farm.devices) == 230
    gateway = FakeGateway(broker.port, config.farm_id)
    try:
        with FarmRunner(
            farm, tmp_path / "fleet", parse_mqtt_url(broker.url), key_secret=b"t"
        ) as run:
            run.start()
            backfilled = run.backfill(config.start_ms + 2 * HOUR, chunk_ms=HOUR)
            assert backfilled > 230 * 4
            assert run.wait_drained(60)
            assert run.fleet.connected() == 230
            clock = AcceleratedClock(run.position, speed=3600.0)  # an hour per second
            stop = threading.Event()
            live = threading.Thread(target=run.run_live, args=(clock, stop, 0.1))
            live.start()
            time.sleep(1.0)
            stop.set()
            live.join()
            assert run.wait_drained(30)
            keys = run.public_keys()
            links = run.fleet.links
            assert sum(link.stats.sent for link in links) > backfilled + 230
            assert sum(link.stats.publish_failures for link in links) == 0
            for dev_id, device in run.devices.items():
                assert gateway.seqs(dev_id) == set(range(1, device.identity.last_seq + 1))
        assert gateway.duplicates == 0
        for (dev, _seq), raw in list(gateway.raw.items())[:: max(1, len(gateway.raw) // 200)]:
            verify_entry(parse_entry(raw), keys[dev])  # each signed by its own device key
    finally:
        gateway.stop()
