"""Drivers for the real sensors of a farmtrace device (Raspberry Pi).

Each driver reads its sensor through the interface the Linux kernel offers
(sysfs for 1-Wire) and raises a :class:`~devices.hardware.ds18b20.SensorError`
when it cannot vouch for a value; a device signs only what a driver returned.
Wiring and set-up: ``docs/raspberry-pi.md``.
"""

from __future__ import annotations

from devices.hardware.ds18b20 import (
    DS18B20,
    CrcError,
    DisconnectedError,
    InconsistentReadingError,
    MalformedReadingError,
    NoReadingError,
    PowerOnResetError,
    SensorError,
    SensorIdError,
    SensorMissingError,
    dallas_crc8,
    parse_w1_slave,
)

__all__ = [
    "DS18B20",
    "CrcError",
    "DisconnectedError",
    "InconsistentReadingError",
    "MalformedReadingError",
    "NoReadingError",
    "PowerOnResetError",
    "SensorError",
    "SensorIdError",
    "SensorMissingError",
    "dallas_crc8",
    "parse_w1_slave",
]
