"""The transport wire format: MQTT topics, device status and gateway receipts (design.md §4).

Devices, bridges and the gateway share exactly this module and
:mod:`chain.entries`; nothing else crosses between them. Pure: no I/O.

Topics, for a farm ``<farm>`` and a device ``<dev>`` (both :data:`~chain.jws.ID_PATTERN`)::

    farmtrace/<farm>/<dev>/entry     QoS 1, payload: one compact JWS (the exact entry bytes)
    farmtrace/<farm>/<dev>/status    retained, QoS 1: {"status":"online"} or {"status":"offline"}
                                     (offline is the device's MQTT last will)
    farmtrace/<farm>/<dev>/receipt   retained, QoS 1: a :class:`Receipt`, published by the gateway

A receipt says which of a device's entries are committed in the log, so that
the device may delete them from its outbox::

    {"dev":"b1-temp","seq":1234,"block":57,"ranges":[[1240,1300]]}

``seq`` is the highest *contiguous* committed seq (every seq 1..seq is in the
log; 0 when seq 1 is not), ``block`` the height of the block holding entry
``seq`` (null when seq is 0), and ``ranges`` lists committed seqs above
``seq`` as inclusive ``[first, last]`` pairs, ascending and disjoint, at most
:data:`MAX_RECEIPT_RANGES` of them (the lowest ones). Ranges let a device
whose stream has a hole it can never fill (a seq reserved but never signed
before a crash) still release what follows the hole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.errors import MalformedError, MalformedWireError
from chain.jws import ID_PATTERN, check_id

__all__ = [
    "MAX_RECEIPT_RANGES",
    "STATUS_OFFLINE",
    "STATUS_ONLINE",
    "TOPIC_ROOT",
    "Receipt",
    "TopicParts",
    "committed_ranges",
    "entry_topic",
    "parse_receipt",
    "parse_status",
    "parse_topic",
    "receipt_topic",
    "status_payload",
    "status_topic",
    "subscription",
]

TOPIC_ROOT = "farmtrace"
MAX_RECEIPT_RANGES = 32
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
_KINDS = ("entry", "status", "receipt")
_TOPIC = re.compile(rf"{TOPIC_ROOT}/({ID_PATTERN})/({ID_PATTERN})/(entry|status|receipt)")
_MAX_RECEIPT_BYTES = 4096


def _topic(farm: str, device: str, kind: str) -> str:
    _check_ids(farm, device)
    return f"{TOPIC_ROOT}/{farm}/{device}/{kind}"


def entry_topic(farm: str, device: str) -> str:
    """The topic ``device`` publishes its entries on. Raises MalformedWireError for a bad id."""
    return _topic(farm, device, "entry")


def status_topic(farm: str, device: str) -> str:
    """The retained online/offline topic of ``device``."""
    return _topic(farm, device, "status")


def receipt_topic(farm: str, device: str) -> str:
    """The retained topic the gateway publishes ``device``'s receipts on."""
    return _topic(farm, device, "receipt")


def subscription(farm: str, kind: str) -> str:
    """The wildcard filter for every device's ``kind`` topic of ``farm`` (e.g. the gateway's)."""
    if kind not in _KINDS:
        raise ValueError(f"topic kind must be one of {_KINDS}, not {kind!r}")
    _check_ids(farm)
    return f"{TOPIC_ROOT}/{farm}/+/{kind}"


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A parsed farmtrace topic."""

    farm: str
    device: str
    kind: str


def parse_topic(topic: str) -> TopicParts:
    """Split a farmtrace topic. Raises MalformedWireError if it is not one."""
    match = _TOPIC.fullmatch(topic)
    if match is None:
        raise MalformedWireError(f"not a farmtrace topic: {topic[:200]!r}")
    return TopicParts(match[1], match[2], match[3])


def status_payload(status: str) -> bytes:
    """The status message bytes for ``online`` or ``offline``."""
    if status not in (STATUS_ONLINE, STATUS_OFFLINE):
        raise ValueError(f"status must be online or offline, not {status!r}")
    return json.dumps({"status": status}, separators=(",", ":")).encode()


def parse_status(payload: bytes) -> str:
    """``online`` or ``offline`` from a status message. Raises MalformedWireError."""
    obj = _load_object(payload, "status")
    status = obj.get("status")
    if status not in (STATUS_ONLINE, STATUS_OFFLINE):
        raise MalformedWireError(f"status must be online or offline, got {status!r}")
    return str(status)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the log holds of one device's entries (see the module docstring).

    Invariants (checked on construction, MalformedWireError otherwise):
    ``seq >= 0``; ``block`` is None exactly when ``seq`` is 0; ranges are
    ascending, disjoint, above ``seq + 1`` and at most
    :data:`MAX_RECEIPT_RANGES`.
    """

    dev: str
    seq: int
    block: int | None
    ranges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        _check_ids("x", self.dev)
        if not _is_count(self.seq):
            raise MalformedWireError(f"receipt seq must be an integer >= 0, got {self.seq!r}")
        if (self.block is None) != (self.seq == 0) or (
            self.block is not None and not _is_count(self.block)
        ):
            raise MalformedWireError(
                f"receipt block must be a height when seq > 0 and null when seq is 0, "
                f"got seq {self.seq} block {self.block!r}"
            )
        if len(self.ranges) > MAX_RECEIPT_RANGES:
            raise MalformedWireError(
                f"receipt has {len(self.ranges)} ranges, at most {MAX_RECEIPT_RANGES} allowed"
            )
        floor = self.seq + 1  # a range must leave a hole above seq, or seq would be larger
        for pair in self.ranges:
            first, last = pair
            if not (_is_count(first) and _is_count(last) and floor < first <= last):
                raise MalformedWireError(
                    f"receipt ranges must be ascending, disjoint and above seq {self.seq} "
                    f"with a gap, got {list(self.ranges)}"
                )
            floor = last + 1

    def covers(self, seq: int) -> bool:
        """Whether entry ``seq`` of this device is committed according to the receipt."""
        return seq <= self.seq or any(first <= seq <= last for first, last in self.ranges)

    def to_json(self) -> bytes:
        """The receipt message bytes (compact JSON)."""
        return json.dumps(
            {
                "dev": self.dev,
                "seq": self.seq,
                "block": self.block,
                "ranges": [list(pair) for pair in self.ranges],
            },
            separators=(",", ":"),
        ).encode()


def parse_receipt(payload: bytes) -> Receipt:
    """Parse receipt bytes. Raises MalformedWireError for anything that is not a valid receipt."""
    if len(payload) > _MAX_RECEIPT_BYTES:
        raise MalformedWireError(f"receipt of {len(payload)} bytes is too long")
    obj = _load_object(payload, "receipt")
    if set(obj) != {"dev", "seq", "block", "ranges"}:
        raise MalformedWireError(
            f"receipt members must be dev, seq, block, ranges; got {sorted(obj)}"
        )
    ranges = obj["ranges"]
    if not isinstance(ranges, list) or not all(_is_pair(r) for r in ranges):
        raise MalformedWireError(f"receipt ranges must be [[first, last], ...], got {ranges!r}")
    if not isinstance(obj["dev"], str):
        raise MalformedWireError("receipt dev must be a string")
    return Receipt(
        dev=obj["dev"], seq=obj["seq"], block=obj["block"], ranges=tuple(tuple(r) for r in ranges)
    )


def _check_ids(farm: str, device: str = "x") -> None:
    try:
        check_id(farm, "farm id")
        check_id(device, "device id")
    except MalformedError as exc:
        raise MalformedWireError(str(exc)) from exc


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _is_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_count(v) for v in value)


def _load_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedWireError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MalformedWireError(f"{what} must be a JSON object")
    return obj


def committed_ranges(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Collapse ascending distinct seqs into inclusive ``(first, last)`` runs."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] + 1 == seq:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs
