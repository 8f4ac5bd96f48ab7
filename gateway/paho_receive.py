"""paho's MQTT 5 receive path without rebuilding its property tables for every packet.

paho-mqtt 2.x builds, in every ``Properties.__init__``, three tables that
never change (the property names, their wire types, and the packet types
each one applies to), and its ``clear`` (which ``unpack`` calls for every
received PUBLISH) rebuilds every property's attribute name. For a gateway
receiving 10,000 PUBLISH a second that was about a quarter of the ingest
thread (bench/RESULTS.md).

:func:`lighten_paho_receive` makes every ``Properties`` share read-only
tables built once, and ``clear`` walk a list of attribute names built once.
Nothing paho computes changes. It installs itself only if a ``Properties``
built by paho's own constructor has exactly the attributes it knows, with
tables that are the same for every packet type; a paho release that differs
keeps its own code (logged once), so an upgrade can cost speed, never
correctness. tests/unit/edge/test_paho_receive.py checks both.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["lighten", "lighten_paho_receive"]

_logger = logging.getLogger(__name__)

_KNOWN_ATTRIBUTES = frozenset({"packetType", "types", "names", "properties"})
_done: dict[type, bool] = {}


def lighten(cls: Any) -> bool:
    """Make ``cls`` (paho's ``Properties`` or a stand-in) share its tables; return whether it did.

    Idempotent. Does nothing, and returns False, if ``cls`` does not look
    exactly like the paho 2.x class this was written against.
    """
    if cls in _done:
        return _done[cls]
    _done[cls] = ok = _install(cls)
    if not ok:
        _logger.warning("paho's Properties differ from what gateway.paho_receive knows: unchanged")
    return ok


def lighten_paho_receive() -> bool:
    """:func:`lighten` paho's ``Properties``."""
    return lighten(Properties)


def _install(cls: Any) -> bool:
    try:
        probes = [cls(packet) for packet in (*PacketTypes.indexes, PacketTypes.WILLMESSAGE)]
    except Exception:  # a constructor we do not know: leave it alone
        return False
    first = probes[0]
    if any(set(vars(p)) != _KNOWN_ATTRIBUTES for p in probes):
        return False
    tables = (first.types, first.names, first.properties)
    if any((p.types, p.names, p.properties) != tables for p in probes):
        return False
    types = tuple(first.types)
    names = MappingProxyType(dict(first.names))
    properties = MappingProxyType(dict(first.properties))
    attributes = tuple(name.replace(" ", "") for name in names)

    def __init__(self: Any, packetType: int) -> None:
        object.__setattr__(self, "packetType", packetType)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "properties", properties)

    def clear(self: Any) -> None:
        present = vars(self)
        for attribute in attributes:
            if attribute in present:
                delattr(self, attribute)

    cls.__init__ = __init__
    cls.clear = clear
    return True
