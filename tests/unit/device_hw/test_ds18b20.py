"""DS18B20 driver: the w1_slave parser, the CRC, and the driver on a fake sysfs tree.

The fake tree mirrors the kernel's: ``<root>/28-<12 hex>/w1_slave`` holding the
text ``w1_slave_show`` prints (drivers/w1/slaves/w1_therm.c). Expected CRCs and
``t=`` values come from the independent helpers below, not from the driver.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import devices.hardware as hardware
from chain.errors import FarmtraceError
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

SENSOR = "28-0316a2794aff"


def _crc8_reference(data: bytes) -> int:
    """Dallas CRC-8 bit by bit: the datasheet's shift register, fed LSB first."""
    crc = 0
    for byte in data:
        for bit in range(8):
            feedback = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if feedback:
                crc ^= 0x8C
    return crc


def _scratchpad(raw: int, *, config: int = 0x7F) -> bytes:
    """Bytes 0-7 of a DS18B20 scratchpad holding ``raw`` (1/16 degC), as real parts show."""
    return (raw & 0xFFFF).to_bytes(2, "little") + bytes(
        [0x4B, 0x46, config, 0xFF, 0x10 - (raw & 0x0F), 0x10]
    )


def _kernel_t(raw: int) -> int:
    """``t=`` as the kernel prints it: raw * 1000 / 16 in C, truncated toward zero."""
    return int(raw * 1000 / 16)


def _w1_text(
    head: bytes,
    *,
    verdict: str = "YES",
    crc_byte: int | None = None,
    kept: bytes | None = None,
    t: int | None = None,
) -> str:
    """The two lines of ``w1_slave`` for scratchpad bytes 0-7 ``head``."""
    computed = _crc8_reference(head)
    fresh = head + bytes([computed if crc_byte is None else crc_byte])
    kept = fresh if kept is None else kept
    raw = int.from_bytes(head[:2], "little", signed=True)
    t = _kernel_t(raw) if t is None else t
    line1 = "".join(f"{b:02x} " for b in fresh) + f": crc={computed:02x} {verdict}\n"
    line2 = "".join(f"{b:02x} " for b in kept) + f"t={t}\n"
    return line1 + line2


def _plant(root: Path, sensor_id: str, text: str | bytes) -> Path:
    path = root / sensor_id / "w1_slave"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# The example of shared/notes/mqtt-and-devices.md section 5.
NOTES_EXAMPLE = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


# --- CRC-8 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        # The CRC catalogue's check value for CRC-8/MAXIM-DOW ("123456789").
        (b"123456789", 0xA1),
        # Maxim Application Note 27: family 02, serial 00 00 00 01 B8 1C -> CRC A2.
        (bytes.fromhex("021cb801000000"), 0xA2),
        (bytes.fromhex("72014b467fff0e10"), 0x57),
        (b"\x00" * 8, 0x00),
        (b"\xff" * 8, 0xC9),
        (b"", 0x00),
    ],
)
def test_dallas_crc8_known_answers(data: bytes, crc: int) -> None:
    assert dallas_crc8(data) == crc
    assert _crc8_reference(data) == crc


@given(st.binary(max_size=64))
def test_dallas_crc8_matches_the_bitwise_reference(data: bytes) -> None:
    crc = dallas_crc8(data)
    assert crc == _crc8_reference(data)
    assert dallas_crc8(data + bytes([crc])) == 0


# --- parse_w1_slave: good readings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        (NOTES_EXAMPLE, 23.125),
        (NOTES_EXAMPLE.removesuffix("\n"), 23.125),
        # Computed with _crc8_reference and _kernel_t, written out as the kernel prints them.
        ("fe ff 4b 46 7f ff 02 10 8c : crc=8c YES\nfe ff 4b 46 7f ff 02 10 8c t=-125\n", -0.125),
        ("5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n", -10.125),
        ("90 fc 4b 46 7f ff 10 10 ee : crc=ee YES\n90 fc 4b 46 7f ff 10 10 ee t=-55000\n", -55.0),
        # One step of 1/16 degC: the kernel truncates 62.5 m°C to t=62.
        ("01 00 4b 46 7f ff 0f 10 de : crc=de YES\n01 00 4b 46 7f ff 0f 10 de t=62\n", 0.0625),
    ],
)
def test_parse_literal_readings(text: str, celsius: float) -> None:
    assert parse_w1_slave(text) == celsius


@pytest.mark.parametrize(
    ("raw", "celsius"),
    [
        (0x0172, 23.125),
        (1, 0.0625),
        (-1, -0.0625),
        (-2, -0.125),
        (-162, -10.125),
        (-880, -55.0),
        (0x07D0, 125.0),
        (0, 0.0),  # a real 0 degC: the other scratchpad bytes are not zero
        (1359, 84.9375),  # one step below the power-on value is a temperature
        (1361, 85.0625),
    ],
)
def test_parse_scratchpad_temperatures(raw: int, celsius: float) -> None:
    assert parse_w1_slave(_w1_text(_scratchpad(raw))) == celsius


def test_parse_every_12_bit_value_in_the_sensor_range() -> None:
    for raw in range(-55 * 16, 125 * 16 + 1):
        if raw == 85 * 16:
            continue
        assert parse_w1_slave(_w1_text(_scratchpad(raw))) == raw / 16, raw


@pytest.mark.parametrize(
    ("raw", "config", "celsius"),
    [
        (0x0173, 0x1F, 23.0),  # 9 bits: bits 2-0 undefined, steps of 0.5
        (0x0173, 0x3F, 23.0),  # 10 bits: bits 1-0 undefined, steps of 0.25
        (0x0173, 0x5F, 23.125),  # 11 bits: bit 0 undefined
        (0x0173, 0x7F, 23.1875),  # 12 bits: all defined
        (-161, 0x3F, -10.25),  # negative values round toward minus infinity
    ],
)
def test_parse_ignores_bits_the_resolution_leaves_undefined(
    raw: int, config: int, celsius: float
) -> None:
    assert parse_w1_slave(_w1_text(_scratchpad(raw, config=config))) == celsius


# --- parse_w1_slave: rejections ------------------------------------------------------------

_GOOD = _scratchpad(0x0172)
_RESET = bytes.fromhex("50054b467fff0c10")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", NoReadingError),
        ("\n", NoReadingError),
        (_w1_text(_GOOD, verdict="NO", crc_byte=0x00), CrcError),
        # Line 2 keeps the last good bytes after a failed read; still a CRC failure.
        (_w1_text(_GOOD, verdict="NO", crc_byte=0x00, kept=_GOOD + b"\x57"), CrcError),
        # Older kernels with nothing on the bus: all ones, which fail the CRC.
        ("ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n", CrcError),
        # The kernel said YES, but byte 8 is not the CRC of bytes 0-7.
        (_w1_text(_GOOD, crc_byte=0x58, kept=_GOOD + b"\x58"), CrcError),
        (
            "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n",
            PowerOnResetError,
        ),
        (_w1_text(_RESET), PowerOnResetError),
        (_w1_text(bytes(8)), DisconnectedError),
        (
            "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0",
            DisconnectedError,
        ),
    ],
)
def test_parse_rejects_unusable_readings(text: str, error: type[SensorError]) -> None:
    with pytest.raises(error):
        parse_w1_slave(text)


_L1 = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES"
_L2 = "72 01 4b 46 7f ff 0e 10 57 t=23125"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_L1 + "\n", "expected 2 lines, found 1"),
        (_L2 + "\n", "expected 2 lines, found 1"),
        (f"{_L1}\n{_L2}\n{_L2}\n", "expected 2 lines, found 3"),
        (f"{_L1}\n\n{_L2}\n", "expected 2 lines, found 3"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57\n", "line 2: expected '<9 bytes> t=<int>'"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=\n", "expected t=<integer>"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=23.125\n", "expected t=<integer>"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=abc\n", "expected t=<integer>"),
        (f"72 01 4b 46 7f ff 0e 10 57 crc=57 YES\n{_L2}\n", "line 1: expected '<9 bytes> :"),
        (f"72 01 4b 46 7f ff 0e 10 57 : crc=57 MAYBE\n{_L2}\n", "expected 'crc=XX YES|NO'"),
        (f"72 01 4b 46 7f ff 0e 10 57 : crc=5 YES\n{_L2}\n", "expected 'crc=XX YES|NO'"),
        (f"72 01 4b 46 7f ff 0e 10 zz : crc=57 YES\n{_L2}\n", "found 'zz'"),
        (f"72 01 4b 46 7f ff 0e 10 057 : crc=57 YES\n{_L2}\n", "found '057'"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 5g t=23125\n", "found '5g'"),
        (f"72 01 4b 46 7f ff 0e 10 : crc=57 YES\n{_L2}\n", "expected 9 scratchpad bytes, found 8"),
        (f"72 01 4b 46 7f ff 0e 10 57 00 : crc=57 YES\n{_L2}\n", "bytes, found 10"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 t=23125\n", "line 2: expected 9 scratchpad bytes"),
    ],
)
def test_parse_rejects_malformed_text(text: str, message: str) -> None:
    with pytest.raises(MalformedReadingError, match=message.replace("|", r"\|")):
        parse_w1_slave(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # t= must be the scratchpad's temperature, to within the kernel's truncation.
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=23000\n", "t=: expected 23125"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=23124\n", "found t=23124"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 57 t=-23125\n", "found t=-23125"),
        (_w1_text(_scratchpad(1), t=64), "found t=64"),
        (_w1_text(_scratchpad(-1), t=-61), "found t=-61"),
        (_w1_text(bytes(8), t=85000), "found t=85000"),
        (f"{_L1}\n72 01 4b 46 7f ff 0e 10 58 t=23125\n", "line 2 bytes"),
        (f"72 01 4b 46 7f ff 0e 10 57 : crc=58 YES\n{_L2}\n", "found crc=58"),
    ],
)
def test_parse_rejects_self_contradicting_text(text: str, message: str) -> None:
    with pytest.raises(InconsistentReadingError, match=message):
        parse_w1_slave(text)


def test_t_may_be_off_by_the_kernels_truncation_only() -> None:
    # raw 1 is 62.5 m°C exactly: 62 (C truncation) and 63 (rounding) are both within 1 m°C.
    for t in (62, 63):
        assert parse_w1_slave(_w1_text(_scratchpad(1), t=t)) == 0.0625
        assert parse_w1_slave(_w1_text(_scratchpad(-1), t=-t)) == -0.0625


def test_error_classes_are_farmtrace_errors_with_distinct_reasons() -> None:
    classes = [
        SensorError,
        SensorIdError,
        SensorMissingError,
        NoReadingError,
        CrcError,
        MalformedReadingError,
        InconsistentReadingError,
        PowerOnResetError,
        DisconnectedError,
    ]
    assert all(issubclass(cls, FarmtraceError) for cls in classes)
    assert all(issubclass(cls, SensorError) for cls in classes)
    reasons = [cls.reason for cls in classes]
    assert len(set(reasons)) == len(reasons)
    assert all(reason.startswith("sensor") for reason in reasons)


def test_package_reexports_the_driver() -> None:
    for name in hardware.__all__:
        assert getattr(hardware, name) is not None
    assert hardware.DS18B20 is DS18B20
    assert hardware.parse_w1_slave is parse_w1_slave


# --- the driver on a fake sysfs tree -------------------------------------------------------


def test_read_celsius_reads_the_sensors_w1_slave(tmp_path: Path) -> None:
    path = _plant(tmp_path, SENSOR, NOTES_EXAMPLE)
    sensor = DS18B20(SENSOR, sysfs_root=tmp_path)
    assert sensor.path == path
    assert sensor.read_celsius() == 23.125
    _plant(tmp_path, SENSOR, _w1_text(_scratchpad(-162)))
    assert sensor.read_celsius() == -10.125


def test_default_root_is_the_kernels() -> None:
    assert DS18B20(SENSOR).path == Path("/sys/bus/w1/devices") / SENSOR / "w1_slave"


@pytest.mark.parametrize(
    "sensor_id",
    [
        "28-0316A2794AFF",
        "28-0316a2794af",
        "28-0316a2794aff0",
        "10-000802b4ba0e",
        "w1_bus_master1",
        "../28-0316a2794aff",
        "28-0316a2794aff/..",
        "",
    ],
)
def test_rejects_ids_that_are_not_ds18b20_ids(sensor_id: str) -> None:
    with pytest.raises(SensorIdError, match="expected 28-<12 lowercase hex digits>"):
        DS18B20(sensor_id)


def test_missing_device_directory(tmp_path: Path) -> None:
    with pytest.raises(SensorMissingError, match="found none"):
        DS18B20(SENSOR, sysfs_root=tmp_path).read_celsius()


def test_missing_w1_slave_file(tmp_path: Path) -> None:
    (tmp_path / SENSOR).mkdir()
    with pytest.raises(SensorMissingError):
        DS18B20(SENSOR, sysfs_root=tmp_path).read_celsius()


def test_other_os_errors_are_sensor_io_errors(tmp_path: Path) -> None:
    (tmp_path / SENSOR / "w1_slave").mkdir(parents=True)
    with pytest.raises(SensorError) as info:
        DS18B20(SENSOR, sysfs_root=tmp_path).read_celsius()
    assert info.value.reason == "sensor_io"
    assert not isinstance(info.value, SensorMissingError)


def test_non_ascii_file_is_malformed(tmp_path: Path) -> None:
    _plant(tmp_path, SENSOR, NOTES_EXAMPLE.encode().replace(b"YES", b"YE\xc3\x89"))
    with pytest.raises(MalformedReadingError, match="expected ASCII"):
        DS18B20(SENSOR, sysfs_root=tmp_path).read_celsius()


def test_discover_lists_only_ds18b20_directories_sorted(tmp_path: Path) -> None:
    ids = ["28-0316a2794aff", "28-000005e2fdc3", "28-0000075c293f"]
    for number, sensor_id in enumerate(ids):
        _plant(tmp_path, sensor_id, _w1_text(_scratchpad(-16 * number)))
    (tmp_path / "w1_bus_master1").mkdir()
    (tmp_path / "10-000802b4ba0e").mkdir()  # a DS18S20: another family
    (tmp_path / "28-00000XYZ0000").mkdir()
    (tmp_path / "28-0000075c2940").write_text("not a directory")
    found = DS18B20.discover(tmp_path)
    assert [s.sensor_id for s in found] == sorted(ids)
    assert all(s.sysfs_root == tmp_path for s in found)
    readings = {s.sensor_id: s.read_celsius() for s in found}
    assert readings == {ids[0]: 0.0, ids[1]: -1.0, ids[2]: -2.0}


def test_discover_follows_symlinks_as_sysfs_has_them(tmp_path: Path) -> None:
    real = tmp_path / "devices" / "w1_bus_master1" / SENSOR
    real.mkdir(parents=True)
    (real / "w1_slave").write_text(NOTES_EXAMPLE)
    root = tmp_path / "bus"
    root.mkdir()
    (root / SENSOR).symlink_to(real, target_is_directory=True)
    (found,) = DS18B20.discover(root)
    assert found.read_celsius() == 23.125


def test_discover_on_an_empty_bus(tmp_path: Path) -> None:
    assert DS18B20.discover(tmp_path) == []


def test_discover_without_the_w1_bus(tmp_path: Path) -> None:
    with pytest.raises(SensorMissingError, match="dtoverlay=w1-gpio"):
        DS18B20.discover(tmp_path / "absent")


# --- retries -------------------------------------------------------------------------------


class _FakeSleep:
    """Stands in for time.sleep: records each delay and swaps in the next file content."""

    def __init__(self, path: Path, then: list[str]) -> None:
        self.path = path
        self.then = list(then)
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.then:
            self.path.write_text(self.then.pop(0))


_CRC_NO = _w1_text(_GOOD, verdict="NO", crc_byte=0x00)


def _sensor_with(tmp_path: Path, first: str, then: list[str]) -> tuple[DS18B20, _FakeSleep]:
    path = _plant(tmp_path, SENSOR, first)
    sleep = _FakeSleep(path, then)
    return DS18B20(SENSOR, sysfs_root=tmp_path, sleep=sleep), sleep


@pytest.mark.parametrize("transient", [_CRC_NO, ""])
def test_a_transient_failure_is_retried(tmp_path: Path, transient: str) -> None:
    sensor, sleep = _sensor_with(tmp_path, transient, [NOTES_EXAMPLE])
    assert sensor.read_celsius(retries=2, retry_delay=0.5) == 23.125
    assert sleep.delays == [0.5]


def test_retries_are_bounded_and_the_last_error_is_raised(tmp_path: Path) -> None:
    sensor, sleep = _sensor_with(tmp_path, _CRC_NO, [_CRC_NO, ""])
    with pytest.raises(NoReadingError):
        sensor.read_celsius(retries=2)
    assert sleep.delays == [0.25, 0.25]


def test_success_on_the_last_allowed_attempt(tmp_path: Path) -> None:
    sensor, sleep = _sensor_with(tmp_path, _CRC_NO, [_CRC_NO, NOTES_EXAMPLE])
    assert sensor.read_celsius(retries=2) == 23.125
    assert len(sleep.delays) == 2


def test_no_retries_means_one_read(tmp_path: Path) -> None:
    sensor, sleep = _sensor_with(tmp_path, _CRC_NO, [NOTES_EXAMPLE])
    with pytest.raises(CrcError):
        sensor.read_celsius(retries=0)
    assert sleep.delays == []


@pytest.mark.parametrize(
    ("first", "error"),
    [
        (_w1_text(_RESET), PowerOnResetError),
        (_w1_text(bytes(8)), DisconnectedError),
        (NOTES_EXAMPLE.replace("t=23125", "t=23000"), InconsistentReadingError),
        ("garbage\n", MalformedReadingError),
    ],
)
def test_lasting_failures_are_not_retried(
    tmp_path: Path, first: str, error: type[SensorError]
) -> None:
    sensor, sleep = _sensor_with(tmp_path, first, [NOTES_EXAMPLE])
    with pytest.raises(error):
        sensor.read_celsius(retries=5)
    assert sleep.delays == []


def test_a_missing_sensor_is_not_retried(tmp_path: Path) -> None:
    sleep = _FakeSleep(tmp_path / SENSOR / "w1_slave", [])
    with pytest.raises(SensorMissingError):
        DS18B20(SENSOR, sysfs_root=tmp_path, sleep=sleep).read_celsius(retries=5)
    assert sleep.delays == []


def test_negative_retries_are_refused(tmp_path: Path) -> None:
    _plant(tmp_path, SENSOR, NOTES_EXAMPLE)
    with pytest.raises(ValueError, match="retries: expected >= 0, found -1"):
        DS18B20(SENSOR, sysfs_root=tmp_path).read_celsius(retries=-1)
