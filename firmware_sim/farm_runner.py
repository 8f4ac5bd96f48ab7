"""A simulated farm's devices over MQTT: weeks of backfill, then live readings.

Every device of a :class:`~firmware_sim.farm.SimulatedFarm` gets a state
directory ``<state_root>/<device id>/`` (key, seq, outbox), an
:class:`~signer.mqtt_link.MqttLink` with its own connection and
credentials, and one shared :class:`~signer.fleet.Fleet` thread.

:meth:`FarmRunner.backfill` signs the farm's history from
``config.start_ms`` up to a time, a chunk of simulated time at a time, with
one seq reservation and one outbox commit per device per chunk (a commit
per reading would be far too slow), waking the fleet after each chunk so
sending overlaps signing. :meth:`FarmRunner.run_live` then samples in step
with an :class:`~firmware_sim.farm.AcceleratedClock`. When a device's
outbox is full it stops sampling (the outbox logs it once) until receipts
free space: a backfill waits, a live device skips samples; no signed
reading is ever dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from firmware_sim.farm import AcceleratedClock, SimulatedFarm
from signer.device import Device, ReadingFields
from signer.errors import OutboxFullError
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import MqttUrl
from signer.outbox import DEFAULT_MAX_BYTES, Outbox

__all__ = ["DAY_MS", "FarmRunner", "derived_seed"]

_logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
OUTBOX_FILE = "outbox.db"


def derived_seed(secret: bytes, device_id: str) -> bytes:
    """A reproducible 32-byte key seed for ``device_id`` (simulations only: never on hardware)."""
    return hashlib.sha256(secret + b"\0" + device_id.encode()).digest()


class FarmRunner:
    """Opens (or creates) every device of ``farm`` under ``state_root`` and links it to ``url``.

    ``password(device_id)`` gives each device's MQTT password (None: the
    URL's, if any); ``key_secret`` makes new keys reproducible (see
    :func:`derived_seed`). Use as a context manager; :meth:`start` connects.

    Raises:
        StorageError: a state directory is locked or inconsistent.
    """

    def __init__(
        self,
        farm: SimulatedFarm,
        state_root: str | Path,
        url: MqttUrl,
        *,
        password: Callable[[str], str | None] | None = None,
        key_secret: bytes | None = None,
        window: int = 100,
        max_outbox_bytes: int = DEFAULT_MAX_BYTES,
        reserve_block: int = 64,
    ) -> None:
        self.farm = farm
        self.devices: dict[str, Device] = {}
        links = []
        root = Path(state_root)
        try:
            for spec in farm.devices:
                seed = None if key_secret is None else derived_seed(key_secret, spec.id)
                state = root / spec.id
                identity = DeviceIdentity.open_or_create(
                    state, spec.id, seed=seed, reserve_block=reserve_block
                )
                device = Device(
                    identity, Outbox.open(state / OUTBOX_FILE, max_bytes=max_outbox_bytes)
                )
                self.devices[spec.id] = device
                secret = url.password if password is None else password(spec.id)
                link_url = dataclasses.replace(url, username=spec.id, password=secret)
                links.append(MqttLink(device, link_url, farm.config.farm_id, window=window))
        except BaseException:
            self._close_devices()
            raise
        self.fleet = Fleet(links)
        self.position = farm.config.start_ms
        self.skipped = 0

    def public_keys(self) -> dict[str, bytes]:
        """Each device's raw Ed25519 public key, for registering them."""
        return {dev_id: d.identity.key.public_key for dev_id, d in self.devices.items()}

    def start(self) -> None:
        """Connect every device (in the fleet thread)."""
        self.fleet.start()

    def backfill(self, until_ms: int, *, chunk_ms: int = 7 * DAY_MS, wait: float = 600.0) -> int:
        """Sign and keep every reading from the current position up to ``until_ms``.

        Returns how many readings were recorded. A full outbox makes it wait
        (at most ``wait`` s per chunk) for receipts.

        Raises:
            OutboxFullError: an outbox stayed full for ``wait`` seconds.
            StorageError: a device's state failed.
        """
        total = 0
        while self.position < until_ms:
            end = min(until_ms, self.position + chunk_ms)
            per_device: dict[str, list[ReadingFields]] = defaultdict(list)
            for r in self.farm.readings(self.position, end):
                per_device[r.device].append((r.kind, r.subject, r.value, r.unit, r.ts))
            self.position = end
            for dev_id, readings in per_device.items():
                total += self._record_all(self.devices[dev_id], readings, wait)
            self.fleet.wake()
        return total

    def run_live(self, clock: AcceleratedClock, stop: threading.Event, tick: float = 1.0) -> None:
        """Sample in step with ``clock`` until ``stop`` is set (from the current position on)."""
        while not stop.is_set():
            now = clock.now_ms()
            if now > self.position:
                for r in self.farm.readings(self.position, now):
                    try:
                        self.devices[r.device].record(r.kind, r.subject, r.value, r.unit, r.ts)
                    except OutboxFullError:
                        self.skipped += 1  # sampling paused; the outbox logged why
                self.position = now
                self.fleet.wake()
            stop.wait(tick)

    def wait_drained(self, timeout: float) -> bool:
        """Wait until every outbox is empty; False on timeout."""
        return self.fleet.wait_drained(timeout)

    def close(self) -> None:
        """Disconnect every device (retained ``offline``) and close their state."""
        self.fleet.stop()
        self._close_devices()

    def __enter__(self) -> FarmRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record_all(self, device: Device, readings: list[ReadingFields], wait: float) -> int:
        done = 0
        deadline = time.monotonic() + wait
        while done < len(readings):
            try:
                done += device.record_many(readings[done:])
            except OutboxFullError:
                self.fleet.wake()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return done

    def _close_devices(self) -> None:
        for device in self.devices.values():
            device.outbox.close()
            device.identity.close()
