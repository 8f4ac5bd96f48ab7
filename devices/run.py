"""A device's whole run: its sensor, its link, sampling until stopped (``farmtrace device run``).

The pieces are :mod:`devices.service`'s; this puts them together once::

    with open_identity(settings) as identity:
        ran = run_until_stopped(
            identity, settings, url, stop, now_ms=now, on_running=lambda: None
        )
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from chain.errors import FarmtraceError
from devices.service import DeviceSettings, make_sensor, sample
from signer.identity import DeviceIdentity
from signer.mqtt_url import MqttUrl
from signer.transport import DeviceTransport

__all__ = ["DeviceRun", "SamplingError", "run_until_stopped"]


class SamplingError(FarmtraceError):
    """A reading could not be signed or kept while running: the device's state is broken."""


@dataclass(frozen=True)
class DeviceRun:
    """How a run ended: readings recorded, and how many still await the gateway's receipts."""

    recorded: int
    awaiting: int


def run_until_stopped(
    identity: DeviceIdentity,
    settings: DeviceSettings,
    url: MqttUrl | None,
    stop: threading.Event,
    *,
    now_ms: int,
    on_running: Callable[[], None],
) -> DeviceRun:
    """Sample, sign and send readings as ``identity`` until ``stop`` is set.

    Sends over MQTT (``url``) or ``settings.serial``. ``on_running()`` is
    called once the sensor and the link are up, before the first reading.

    Raises:
        ValueError, OSError, FarmtraceError: the sensor or the link cannot be
            set up (nothing recorded).
        SamplingError: a reading could not be signed or kept.
    """
    sensor = make_sensor(settings, identity.id, now_ms=now_ms)
    with DeviceTransport(identity, settings.farm, url, settings.serial) as link:
        on_running()
        try:
            stats = sample(link, sensor, stop, speed=settings.speed)
        except FarmtraceError as exc:
            raise SamplingError(str(exc), reason=exc.reason) from exc
        return DeviceRun(stats.recorded, link.device.outbox.count)
