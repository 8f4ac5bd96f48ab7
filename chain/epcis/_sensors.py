"""Readings as EPCIS 2.0 sensor data: one ``sensor_reporting`` ObjectEvent per barn stay.

For each stay of a bird in a barn, one ObjectEvent OBSERVE (bizStep
``sensor_reporting``) names the bird, is located at the barn, and carries the
readings about the barn, its feeders and the bird's own tag inside the stay,
as a ``sensorElementList`` with one sensorElement per clock hour (UTC; the
first and last are cut to the stay). Each sensorElement has one sensorReport
per (kind, device, block): ``minValue``/``meanValue``/``maxValue`` of those
readings, ``farmtrace:count`` of them, the GS1 measurement type and UN/CEFACT
Rec. 20 unit code, ``deviceID`` and, as ``rawData``, the read API URL of the
signed block that holds those readings. A reader fetches the block, checks it
against a checkpoint and recomputes the figures. Tag readings outside every
stay get one more such event, with no location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from chain.epcis._ids import TZ_OFFSET, Identifiers, check_time, iso_time, summary_event_id
from chain.epcis._view import FOREVER, LogView, Reading

__all__ = ["HOUR_MS", "MEASURES", "Window", "sensor_event"]

HOUR_MS = 3_600_000

MEASURES: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "Cel": ("Temperature", "CEL"),
        "K": ("Temperature", "KEL"),
        "%RH": ("RelativeHumidity", "P1"),
        "%EL": ("Dimensionless", "P1"),
        "kg": ("Mass", "KGM"),
        "g": ("Mass", "GRM"),
        "l": ("Volume", "LTR"),
        "m3": ("Volume", "MTQ"),
        "m3/s": ("VolumeFlowRate", "MQS"),
        "l/s": ("VolumeFlowRate", None),
        "count": ("Count", None),
        "Pa": ("Pressure", "PAL"),
        "lx": ("Illuminance", "LUX"),
        "m": ("Length", "MTR"),
        "m/s": ("Speed", "MTS"),
        "s": ("Time", "SEC"),
        "V": ("Voltage", "VLT"),
        "A": ("ElectricCurrent", "AMP"),
        "W": ("Power", "WTT"),
        "J": ("Energy", "JOU"),
        "Hz": ("Frequency", "HTZ"),
        "1/s": ("Frequency", None),
        "1/min": ("Frequency", None),
        "beat/min": ("Frequency", None),
        "pH": ("Dimensionless", None),
    }
)
"""SenML unit -> (EPCIS measurement type, UN/CEFACT Rec. 20 code or None).

Where no code is given (a count needs none; for the others we do not claim
one) the report carries the SenML unit as ``farmtrace:unit`` instead.
"""


@dataclass(frozen=True, slots=True)
class Window:
    """Where and when readings were gathered: a barn stay, or (``barn`` None) a bird's tag."""

    barn: str | None
    start_ms: int
    end_ms: int
    opened_by: int | None = None
    closed_by: int | None = None


def _report(
    ids: Identifiers, dev: str, kind: str, unit: str, block_hash: str, values: Sequence[float]
) -> dict[str, Any]:
    measure, uom = MEASURES.get(unit, ("Dimensionless", None))
    report: dict[str, Any] = {
        "type": measure,
        "deviceID": ids.device(dev),
        "deviceMetadata": ids.signer(dev),
        "rawData": ids.batch(block_hash),
        "minValue": min(values),
        "meanValue": sum(values) / len(values),
        "maxValue": max(values),
    }
    report |= {"uom": uom} if uom is not None else {"farmtrace:unit": unit}
    report |= {"farmtrace:kind": kind, "farmtrace:count": len(values)}
    return report


def sensor_event(
    view: LogView, ids: Identifiers, bird: str, window: Window, readings: Sequence[Reading]
) -> dict[str, Any] | None:
    """The ``sensor_reporting`` event of ``bird``'s ``readings`` in ``window`` (None if none).

    Preconditions: every reading's ``ts`` lies in the window; none is repeated.
    """
    if not readings:
        return None
    hours: dict[int, dict[tuple[str, str, str, str], list[float]]] = {}
    for reading in sorted(readings, key=lambda r: (r.ts, r.index)):
        check_time(reading.ts, reading.index)
        _, block_hash = view.block(reading.index)
        key = (reading.kind, reading.dev, reading.unit, block_hash)
        hours.setdefault(reading.ts // HOUR_MS, {}).setdefault(key, []).append(reading.value)
    elements = []
    for hour, groups in sorted(hours.items()):
        start = max(hour * HOUR_MS, window.start_ms)
        end = min((hour + 1) * HOUR_MS, window.end_ms)
        reports = [
            _report(ids, dev, kind, unit, block_hash, values)
            for (kind, dev, unit, block_hash), values in sorted(groups.items())
        ]
        metadata = {"startTime": iso_time(start), "endTime": iso_time(end)}
        elements.append({"sensorMetadata": metadata, "sensorReport": reports})
    last = max(reading.ts for reading in readings)
    body: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": iso_time(last),
        "eventTimeZoneOffset": TZ_OFFSET,
        "epcList": [ids.subject(f"bird:{bird}")],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
    }
    if window.barn is not None:
        barn = ids.subject(f"barn:{window.barn}")
        body |= {"readPoint": {"id": barn}, "bizLocation": {"id": barn}}
    body["sensorElementList"] = elements
    subjects = sorted({reading.subject for reading in readings})
    body |= {"farmtrace:event": "readings", "farmtrace:subjects": subjects}
    body["farmtrace:readings"] = len(readings)
    if window.barn is not None:
        body["farmtrace:barn"] = window.barn
        body["farmtrace:from"] = iso_time(window.start_ms)
        if window.end_ms != FOREVER:
            body["farmtrace:until"] = iso_time(window.end_ms)
    if window.opened_by is not None:
        body["farmtrace:stayOpenedBy"] = window.opened_by
    if window.closed_by is not None:
        body["farmtrace:stayClosedBy"] = window.closed_by
    event_id = summary_event_id(bird, window.barn, (reading.index for reading in readings))
    return {"eventID": event_id} | body
