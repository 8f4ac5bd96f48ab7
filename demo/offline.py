"""An offline demo log: a small farm's signed history, built straight into a store.

Until the live demo (MQTT devices into a running gateway) arrives, ``farmtrace
demo`` builds the same kind of history offline: it creates a log, registers
barn sensors with the farm administrator's key, signs weeks of readings with
each device's own key, commits them in blocks with a checkpoint per block, and
audits the result. Tests and benchmarks build their logs with it too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from chain.entries import Entry, device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

__all__ = ["DemoFarm", "build_demo_log"]

_HOUR = 3_600_000


@dataclass(frozen=True, slots=True)
class DemoFarm:
    """Shape of the demo farm's history."""

    origin: str = "farmtrace.example/demo-farm"
    barns: int = 2
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    days: int = 42
    interval_ms: int = 10 * 60_000
    block_size: int = 500
    seed: int = 7


def _sensor_value(kind: str, barn: int, ts: int, rng: random.Random) -> float:
    day_phase = 2 * math.pi * ((ts / _HOUR) % 24) / 24
    if kind == "temperature":
        return round(24.0 + barn * 0.5 - 2.5 * math.cos(day_phase) + rng.gauss(0, 0.3), 2)
    return round(62.0 + 8.0 * math.cos(day_phase) + rng.gauss(0, 1.5), 1)


def _readings(farm: DemoFarm, devices: list[tuple[SignerKey, str, int]]) -> Iterator[bytes]:
    rng = random.Random(farm.seed)
    steps = farm.days * 24 * _HOUR // farm.interval_ms
    for step in range(steps):
        ts = farm.start_ms + step * farm.interval_ms
        for key, kind, barn in devices:
            unit = "Cel" if kind == "temperature" else "%RH"
            value = _sensor_value(kind, barn, ts, rng)
            payload = reading_payload(key.id, step + 1, ts, kind, f"barn:barn{barn}", value, unit)
            yield sign_entry(payload, key.id, key.seed)


def build_demo_log(data_dir: DataDir, farm: DemoFarm = DemoFarm()) -> TrustRoot:
    """Create ``data_dir`` holding the demo farm's whole history; return its trust root.

    Device keys are derived from ``farm.seed`` so that runs are reproducible;
    the admin key is saved under ``keys/`` like a real operator's.

    Raises:
        FileExistsError: ``data_dir`` already holds a log.
    """
    rng = random.Random(farm.seed)
    admin = SignerKey.generate("farm-admin", seed=rng.randbytes(32))
    trust = init_data_dir(data_dir, farm.origin, [admin], farm.start_ms - _HOUR)
    devices = [
        (SignerKey.generate(f"barn{b}-{kind[:4]}", seed=rng.randbytes(32)), kind, b)
        for b in range(1, farm.barns + 1)
        for kind in ("temperature", "humidity")
    ]
    # The admin's seq 1 is its genesis registration; these follow it.
    registrations = [
        parse_entry(
            sign_entry(
                device_payload(
                    "register",
                    key.id,
                    seq,
                    farm.start_ms - _HOUR // 2,
                    pubkey=key.public_key,
                    farm="demo-farm",
                    kinds=[kind],
                    subjects=[f"barn:barn{barn}"],
                ),
                admin.id,
                admin.seed,
            )
        )
        for seq, (key, kind, barn) in enumerate(devices, start=2)
    ]
    with Store.open(data_dir.log) as store:
        writer = LogWriter(store, read_log_signer(data_dir))
        writer.commit_block(registrations, farm.start_ms - _HOUR // 2)
        writer.sign_checkpoint()
        block: list[Entry] = []
        for raw in _readings(farm, devices):
            block.append(parse_entry(raw))
            if len(block) == farm.block_size:
                writer.commit_block(block, block[-1].ts)
                writer.sign_checkpoint()
                block = []
        if block:
            writer.commit_block(block, block[-1].ts)
            writer.sign_checkpoint()
    return trust
