"""DS18B20 1-Wire thermometer, read through the Linux ``w1_therm`` sysfs file.

With ``dtoverlay=w1-gpio`` the kernel lists each sensor as
``/sys/bus/w1/devices/28-<12 hex>/``; reading its ``w1_slave`` file makes the
kernel start a conversion and print the 9-byte scratchpad twice
(``drivers/w1/slaves/w1_therm.c``, ``w1_slave_show``)::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

Line 1 holds the bytes just read, the CRC the kernel computed and its verdict;
line 2 holds the last bytes that passed the check and ``t=``, the temperature
in millidegrees Celsius, computed by the kernel as ``raw * 1000 / 16`` with C
truncation. Recent kernels return an empty file instead of a ``NO`` line when
the read fails.

Scratchpad layout (Maxim DS18B20 datasheet): bytes 0-1 are the temperature,
little-endian two's complement in 1/16 degC; byte 4 is the configuration
register (bits 5-6 give the resolution, 9 to 12 bits; below 12 bits the lowest
bits of the temperature are undefined); byte 8 is the Dallas/Maxim CRC-8
(polynomial x^8 + x^5 + x^4 + 1, 0x31, processed LSB first as 0x8C) of bytes
0-7 (Maxim Application Note 27).

This module trusts nothing it did not check: it recomputes the CRC, requires
both lines and ``t=`` to agree with the scratchpad, and rejects the power-on
reset value (85 degC) and the all-zero answer of a disconnected sensor::

    SensorError(FarmtraceError)
    ├── SensorIdError               not a DS18B20 id of the form 28-<12 hex>
    ├── SensorMissingError          no such device directory or w1_slave file
    ├── NoReadingError              the kernel returned nothing (retried)
    ├── CrcError                    CRC-8 failed, by the kernel or by us (retried)
    ├── MalformedReadingError       the text is not in the w1_slave format
    ├── InconsistentReadingError    the text contradicts itself
    ├── PowerOnResetError           85 degC: no conversion since power-up
    └── DisconnectedError           all-zero bytes and t=0: no sensor answered
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from chain.errors import FarmtraceError

__all__ = [
    "DEFAULT_SYSFS_ROOT",
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

_logger = logging.getLogger(__name__)

DEFAULT_SYSFS_ROOT = Path("/sys/bus/w1/devices")
"""Where the kernel's w1 bus lists its devices."""

_SENSOR_ID = re.compile(r"28-[0-9a-f]{12}")
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{2}")
_CRC_FIELD = re.compile(r"crc=([0-9a-fA-F]{2}) (YES|NO)")
_T_FIELD = re.compile(r"t=(-?[0-9]+)")
_POWER_ON_RESET_MILLI = 85000
_SCRATCHPAD_LEN = 9


class SensorError(FarmtraceError):
    """A sensor could not give a trustworthy reading."""

    reason = "sensor"


class SensorIdError(SensorError):
    """The sensor id is not a DS18B20 id (``28-`` and 12 lowercase hex digits)."""

    reason = "sensor_bad_id"


class SensorMissingError(SensorError):
    """The sensor's sysfs directory or ``w1_slave`` file does not exist."""

    reason = "sensor_missing"


class NoReadingError(SensorError):
    """The kernel returned an empty ``w1_slave``: a failed CRC or bus error on recent kernels."""

    reason = "sensor_no_reading"


class CrcError(SensorError):
    """The scratchpad failed its CRC-8, as judged by the kernel (``NO``) or by us."""

    reason = "sensor_crc"


class MalformedReadingError(SensorError):
    """The text is not in the two-line ``w1_slave`` format."""

    reason = "sensor_malformed"


class InconsistentReadingError(SensorError):
    """Well-formed text whose parts disagree (bytes of the two lines, CRC field, ``t=``)."""

    reason = "sensor_inconsistent"


class PowerOnResetError(SensorError):
    """The sensor still holds its power-on value (85 degC): no conversion happened."""

    reason = "sensor_power_on_reset"


class DisconnectedError(SensorError):
    """All scratchpad bytes are zero and ``t=0``: the data line is held low or open."""

    reason = "sensor_disconnected"


def _crc8_table() -> tuple[int, ...]:
    table = []
    for value in range(256):
        crc = value
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def dallas_crc8(data: bytes) -> int:
    """The Dallas/Maxim 1-Wire CRC-8 of ``data`` (initial value 0, reflected poly 0x8C).

    A scratchpad or ROM code is intact when the CRC of its first bytes equals
    its last byte (equivalently, the CRC of all of it is 0). Raises nothing.
    """
    crc = 0
    for byte in data:
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def parse_w1_slave(text: str) -> float:
    """The temperature in degC from the text of a DS18B20 ``w1_slave`` file.

    Precondition: ``text`` is the whole file as read (a final newline is optional).
    The result is the scratchpad value in 1/16 degC with the bits that the
    configured resolution leaves undefined cleared; it equals ``t=`` / 1000 to
    within the kernel's truncation of half millidegrees (raw 1 gives ``t=62``
    and 0.0625 here).

    Raises NoReadingError (empty text), MalformedReadingError, CrcError,
    InconsistentReadingError, DisconnectedError or PowerOnResetError.
    """
    if not text.strip():
        raise NoReadingError("w1_slave is empty: the kernel could not read the sensor")
    lines = text.removesuffix("\n").split("\n")
    if len(lines) != 2:
        raise MalformedReadingError(f"w1_slave: expected 2 lines, found {len(lines)}")
    fresh, crc_field, verdict = _parse_crc_line(lines[0])
    kept, milli = _parse_t_line(lines[1])
    if verdict == "NO":
        raise CrcError(f"kernel CRC check failed: bytes {fresh.hex(' ')}, crc={crc_field:02x} NO")
    computed = dallas_crc8(fresh[:8])
    if computed != fresh[8]:
        raise CrcError(
            f"scratchpad CRC: expected {fresh[8]:02x} (byte 8), computed {computed:02x}"
            " (the kernel said YES)"
        )
    if crc_field != computed:
        raise InconsistentReadingError(
            f"crc field: expected {computed:02x}, found crc={crc_field:02x}"
        )
    if kept != fresh:
        raise InconsistentReadingError(
            f"line 2 bytes: expected {fresh.hex(' ')} (line 1), found {kept.hex(' ')}"
        )
    if milli == 0 and not any(fresh):
        raise DisconnectedError("all scratchpad bytes are zero and t=0: no sensor answered")
    raw = int.from_bytes(fresh[0:2], "little", signed=True)
    # t is raw * 1000 / 16 truncated by the kernel: allow it to be off by under 1 m°C.
    if abs(milli * 16 - raw * 1000) >= 16:
        raise InconsistentReadingError(
            f"t=: expected {raw * 1000 / 16:g} (scratchpad 0x{raw & 0xFFFF:04x}), found t={milli}"
        )
    if milli == _POWER_ON_RESET_MILLI:
        raise PowerOnResetError("t=85000 is the DS18B20 power-on value: no conversion was done")
    resolution = 9 + ((fresh[4] >> 5) & 0b11)
    undefined = (1 << (12 - resolution)) - 1
    return (raw & ~undefined) / 16


def _parse_crc_line(line: str) -> tuple[bytes, int, str]:
    data, sep, rest = line.partition(":")
    if not sep:
        raise MalformedReadingError(f"line 1: expected '<9 bytes> : crc=XX YES|NO', found {line!r}")
    match = _CRC_FIELD.fullmatch(rest.strip())
    if match is None:
        raise MalformedReadingError(f"line 1: expected 'crc=XX YES|NO' after ':', found {rest!r}")
    return _parse_bytes(data, "line 1"), int(match[1], 16), match[2]


def _parse_t_line(line: str) -> tuple[bytes, int]:
    data, sep, rest = line.rpartition("t=")
    if not sep:
        raise MalformedReadingError(f"line 2: expected '<9 bytes> t=<int>', found {line!r}")
    match = _T_FIELD.fullmatch(sep + rest.strip())
    if match is None:
        raise MalformedReadingError(f"line 2: expected t=<integer>, found {sep + rest!r}")
    return _parse_bytes(data, "line 2"), int(match[1])


def _parse_bytes(field: str, where: str) -> bytes:
    tokens = field.split()
    if len(tokens) != _SCRATCHPAD_LEN:
        raise MalformedReadingError(
            f"{where}: expected {_SCRATCHPAD_LEN} scratchpad bytes, found {len(tokens)}"
        )
    for token in tokens:
        if _HEX_BYTE.fullmatch(token) is None:
            raise MalformedReadingError(f"{where}: expected a 2-digit hex byte, found {token!r}")
    return bytes(int(token, 16) for token in tokens)


_RETRIED = (CrcError, NoReadingError)


@dataclass(frozen=True, slots=True)
class DS18B20:
    """One DS18B20 on the Linux 1-Wire bus.

    ``sensor_id`` is the sysfs directory name, ``28-`` and 12 lowercase hex
    digits (e.g. ``28-0316a2794aff``); ``sysfs_root`` is where it is looked
    up (a fake tree in tests); ``sleep`` pauses between retries. Nothing is
    read until :meth:`read_celsius`. Raises SensorIdError for a bad id.
    """

    sensor_id: str
    _: KW_ONLY
    sysfs_root: Path = DEFAULT_SYSFS_ROOT
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if _SENSOR_ID.fullmatch(self.sensor_id) is None:
            raise SensorIdError(
                f"sensor id: expected 28-<12 lowercase hex digits>, found {self.sensor_id!r}"
            )

    @classmethod
    def discover(
        cls,
        sysfs_root: Path = DEFAULT_SYSFS_ROOT,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> list[DS18B20]:
        """Every DS18B20 listed under ``sysfs_root``, sorted by id (possibly none).

        Only directories named ``28-<12 hex>`` count; other 1-Wire families and
        the bus master are skipped. Raises SensorMissingError when
        ``sysfs_root`` is not a directory (the w1-gpio overlay is not loaded).
        """
        try:
            entries = list(sysfs_root.iterdir())
        except OSError as exc:
            raise SensorMissingError(
                f"{sysfs_root}: expected the 1-Wire device directory, found {exc.strerror}"
                " (is dtoverlay=w1-gpio set?)"
            ) from exc
        names = sorted(
            entry.name for entry in entries if _SENSOR_ID.fullmatch(entry.name) and entry.is_dir()
        )
        return [cls(name, sysfs_root=sysfs_root, sleep=sleep) for name in names]

    @property
    def path(self) -> Path:
        """The sensor's ``w1_slave`` file."""
        return self.sysfs_root / self.sensor_id / "w1_slave"

    def read_celsius(self, retries: int = 2, *, retry_delay: float = 0.25) -> float:
        """Read the sensor once (a conversion takes up to 750 ms) and return degC.

        A CrcError or NoReadingError is retried up to ``retries`` more times,
        pausing ``retry_delay`` seconds before each; the last one is raised if
        all fail. Other errors are raised at once. Precondition: ``retries >= 0``
        (else ValueError). Raises SensorMissingError, SensorError (reason
        ``sensor_io``) for another OS error, or any error of :func:`parse_w1_slave`.
        """
        if retries < 0:
            raise ValueError(f"retries: expected >= 0, found {retries}")
        attempt = 0
        while True:
            try:
                return parse_w1_slave(self._read_text())
            except _RETRIED as exc:
                if attempt >= retries:
                    raise
                attempt += 1
                _logger.warning("%s: %s; retry %d of %d", self.sensor_id, exc, attempt, retries)
                self.sleep(retry_delay)

    def _read_text(self) -> str:
        try:
            data = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise SensorMissingError(
                f"{self.path}: expected the sensor's w1_slave file, found none"
                " (unplugged, or a wrong id?)"
            ) from exc
        except OSError as exc:
            raise SensorError(f"{self.path}: {exc.strerror}", reason="sensor_io") from exc
        try:
            return data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedReadingError(f"{self.path}: expected ASCII text") from exc
