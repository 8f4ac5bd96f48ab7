"""What one running device samples: a simulated farm model, or a real DS18B20.

A sensor's :meth:`~Sensor.sample` returns the readings due up to a time
(``(kind, subject, value, unit, ts)`` tuples, ready for ``Device.record``).
:func:`run_sampling` records them in step with a clock until told to stop;
a full outbox pauses sampling (logged once by the outbox), a failing sensor
is logged and skipped, and a signed reading is never dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from chain.errors import MalformedEntryError
from devices.hardware.ds18b20 import DS18B20, SensorError
from firmware_sim.farm import FarmConfig, SimulatedFarm
from signer.device import Device, ReadingFields
from signer.errors import OutboxFullError

__all__ = ["DS18B20Sensor", "SamplingStats", "Sensor", "SimSensor", "run_sampling"]

_logger = logging.getLogger(__name__)


class Sensor(Protocol):
    """Something that yields the readings due in ``(after_ms, now_ms]``."""

    def sample(self, now_ms: int) -> list[ReadingFields]:
        """The readings due by ``now_ms`` and not yet returned. May raise SensorError."""
        ...


class SimSensor:
    """The simulated farm's models for the one device ``device_id`` of ``config``.

    Raises:
        ValueError: ``device_id`` is not a device of the simulated farm.
    """

    def __init__(self, config: FarmConfig, device_id: str, seed: int = 1) -> None:
        self._farm = SimulatedFarm(config, random.Random(seed))
        ids = [spec.id for spec in self._farm.devices]
        if device_id not in ids:
            shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
            raise ValueError(
                f"--sensor sim: expected a device id of the simulated farm ({shown}), "
                f"found {device_id!r}"
            )
        self.device_id = device_id
        self._position = config.start_ms

    def sample(self, now_ms: int) -> list[ReadingFields]:
        if now_ms <= self._position:
            return []
        readings = self._farm.readings(self._position, now_ms)
        self._position = now_ms
        return [
            (r.kind, r.subject, r.value, r.unit, r.ts)
            for r in readings
            if r.device == self.device_id
        ]


class DS18B20Sensor:
    """A DS18B20 read every ``interval_ms``, reported as ``temperature`` of ``subject``."""

    def __init__(self, sensor: DS18B20, subject: str, interval_ms: int) -> None:
        self.sensor = sensor
        self.subject = subject
        self.interval_ms = interval_ms
        self._next = 0

    def sample(self, now_ms: int) -> list[ReadingFields]:
        if now_ms < self._next:
            return []
        self._next = now_ms + self.interval_ms
        value = round(self.sensor.read_celsius(), 3)
        return [("temperature", self.subject, value, "Cel", now_ms)]


class SamplingStats:
    """Counters of :func:`run_sampling`."""

    def __init__(self) -> None:
        self.recorded = 0
        self.paused = 0
        self.sensor_errors = 0


def run_sampling(
    device: Device,
    sensor: Sensor,
    stop: threading.Event,
    *,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    tick: float = 1.0,
    on_recorded: Callable[[], None] = lambda: None,
    stats: SamplingStats | None = None,
) -> SamplingStats:
    """Sample ``sensor`` every ``tick`` s and record into ``device`` until ``stop`` is set.

    Raises:
        StorageError: the device's state failed (the device must stop).
    """
    stats = stats or SamplingStats()
    while not stop.is_set():
        try:
            due = sensor.sample(now_ms())
        except SensorError as exc:
            stats.sensor_errors += 1
            _logger.warning("%s: no reading: %s (%s)", device.id, exc, exc.reason)
            due = []
        for kind, subject, value, unit, ts in due:
            try:
                device.record(kind, subject, value, unit, ts)
                stats.recorded += 1
            except OutboxFullError:
                stats.paused += 1  # sampling paused until receipts free space
            except MalformedEntryError as exc:
                stats.sensor_errors += 1
                _logger.warning("%s: reading not signed: %s", device.id, exc)
        if due:
            on_recorded()
        stop.wait(tick)
    return stats
