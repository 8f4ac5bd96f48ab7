"""The transport wire format: MQTT topics, device status and gateway receipts (design.md §4).

Devices, bridges and the gateway share exactly this module and
:mod:`chain.entries`; nothing else crosses between them. Pure: no I/O.

Topics, for a farm ``<farm>`` and a device ``<dev>`` (both :data:`~chain.jws.ID_PATTERN`)::

    farmtrace/<farm>/<dev>/entry     QoS 1, payload: one compact JWS (the exact entry bytes)
    farmtrace/<farm>/<dev>/status    retained, QoS 1: a :class:`DeviceStatus`, e.g.
                                     {"status":"online","outbox":n,"oldest_ts":ms,"fw":"..","low":seq}
                                     or {"status":"offline"} (the device's MQTT last will)
    farmtrace/<farm>/<dev>/receipt   retained, QoS 1: a :class:`Receipt`, published by the gateway

A receipt says which of a device's entries are committed in the log, so that
the device may delete them from its outbox::

    {"dev":"b1-temp","seq":1234,"block":57,"ranges":[[1240,1300]]}

``seq`` is the highest *contiguous* committed seq (every seq 1..seq is in the
log; 0 when seq 1 is not), ``block`` the height of the block holding entry
``seq`` (null when seq is 0), and ``ranges`` lists committed seqs above
``seq`` as inclusive ``[first, last]`` pairs, ascending and disjoint, at most
:data:`MAX_RECEIPT_RANGES` of them (which ones: below). Ranges let a device
whose stream has a hole it can never fill (a seq reserved but never signed
before a crash) still release what follows the hole.

The runs listed start with the first that reaches the lowest seq the device
still holds, as far as the gateway knows: the lowest committed entry the
device sent again since its last receipt, else the ``low`` of its status
(:class:`DeviceStatus`), else the runs just above ``seq``. So however many
holes lie below, every held entry is eventually covered (each receipt lets
the device drop entries, so its ``low`` rises). A receipt may also name
committed entries by hash, ``"hashes":[[seq,"<hex SHA-256 of the entry's
exact JWS bytes>"],...]`` (at most :data:`MAX_RECEIPT_HASHES`: the signer's
newest commits, and any entry whose resend the gateway found already
committed), so that a sender waiting for one entry can tell it from another
entry with the same seq. The member is left out when empty; readers of
``seq`` and ``ranges`` alone need not look at it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.errors import MalformedError, MalformedWireError
from chain.json_input import load_json_object
from chain.jws import ID_PATTERN, check_id

__all__ = [
    "MAX_RECEIPT_HASHES",
    "MAX_RECEIPT_RANGES",
    "STATUS_OFFLINE",
    "STATUS_ONLINE",
    "TOPIC_ROOT",
    "DeviceStatus",
    "Receipt",
    "TopicParts",
    "committed_ranges",
    "entry_digest",
    "entry_topic",
    "parse_device_status",
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
MAX_RECEIPT_HASHES = 16
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
_KINDS = ("entry", "status", "receipt")
_TOPIC = re.compile(rf"{TOPIC_ROOT}/({ID_PATTERN})/({ID_PATTERN})/(entry|status|receipt)")
_MAX_RECEIPT_BYTES = 4096
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FW_MAX = 64
_MAX_WIRE_JSON_BYTES = 4096  # status and receipt messages are a few hundred bytes


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
    """``online`` or ``offline`` from a status message.

    Raises:
        MalformedWireError: for any payload that is not such a status (too
            long, not strict JSON, nested too deeply, another status).
    """
    obj = _load_object(payload, "status")
    status = obj.get("status")
    if status not in (STATUS_ONLINE, STATUS_OFFLINE):
        raise MalformedWireError(f"status must be online or offline, got {status!r}")
    return str(status)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's retained status (design.md §4): online/offline and, when online, its outbox.

    ``outbox``: entries it holds; ``oldest_ts``: the ``ts`` of the oldest one
    (None: none held); ``fw``: its firmware version; ``low``: the lowest seq
    it holds (None: none), from which the gateway's receipts list committed
    ranges. Each is None when not reported (a plain ``{"status":"online"}``).
    Raises MalformedWireError on construction for a value out of range.
    """

    status: str
    outbox: int | None = None
    oldest_ts: int | None = None
    fw: str | None = None
    low: int | None = None

    def __post_init__(self) -> None:
        if self.status not in (STATUS_ONLINE, STATUS_OFFLINE):
            raise MalformedWireError(f"status must be online or offline, got {self.status!r}")
        for name in ("outbox", "oldest_ts", "low"):
            value = getattr(self, name)
            if value is not None and not (_is_count(value) and value < 2**53):
                raise MalformedWireError(f"status {name} must be an integer >= 0, got {value!r}")
        if self.low == 0:
            raise MalformedWireError("status low must be a seq >= 1 or null, got 0")
        fw = self.fw
        if fw is not None and not (
            isinstance(fw, str) and 0 < len(fw) <= _FW_MAX and fw.isascii() and fw.isprintable()
        ):
            raise MalformedWireError(f"status fw must be 1 to {_FW_MAX} printable ASCII characters")

    def to_json(self) -> bytes:
        """The status message bytes (compact JSON; members that are None are left out,
        except ``oldest_ts`` and ``low``, which are null when ``outbox`` is reported)."""
        obj: dict[str, object] = {"status": self.status}
        if self.outbox is not None:
            obj |= {"outbox": self.outbox, "oldest_ts": self.oldest_ts}
        if self.fw is not None:
            obj["fw"] = self.fw
        if self.outbox is not None or self.low is not None:
            obj["low"] = self.low
        return json.dumps(obj, separators=(",", ":")).encode()


def parse_device_status(payload: bytes) -> DeviceStatus:
    """The whole status message; members it does not know are ignored.

    Raises:
        MalformedWireError: not a status message, or a known member is out of range.
    """
    obj = _load_object(payload, "status")
    fields = {name: obj.get(name) for name in ("outbox", "oldest_ts", "fw", "low")}
    return DeviceStatus(parse_status(payload), **fields)


def entry_digest(raw: bytes) -> str:
    """The hex SHA-256 of an entry's exact JWS bytes: how receipts name an entry."""
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the log holds of one device's entries (see the module docstring).

    Invariants (checked on construction, MalformedWireError otherwise):
    ``seq >= 0``; ``block`` is None exactly when ``seq`` is 0; ranges are
    ascending, disjoint, above ``seq + 1`` and at most
    :data:`MAX_RECEIPT_RANGES`; ``hashes`` are ``(seq, hex SHA-256 of the
    entry's JWS bytes)`` pairs of committed entries, distinct seqs, at most
    :data:`MAX_RECEIPT_HASHES` (see :func:`entry_digest`).
    """

    dev: str
    seq: int
    block: int | None
    ranges: tuple[tuple[int, int], ...] = ()
    hashes: tuple[tuple[int, str], ...] = ()

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
        if len(self.hashes) > MAX_RECEIPT_HASHES or len({s for s, _ in self.hashes}) != len(
            self.hashes
        ):
            raise MalformedWireError(
                f"receipt hashes must name at most {MAX_RECEIPT_HASHES} distinct seqs"
            )
        for seq, digest in self.hashes:
            if not (_is_count(seq) and seq >= 1 and isinstance(digest, str)):
                raise MalformedWireError("receipt hashes must be [[seq, hex SHA-256], ...]")
            if not _DIGEST.fullmatch(digest):
                raise MalformedWireError("receipt hashes must be 64 lowercase hex digits")

    def covers(self, seq: int) -> bool:
        """Whether entry ``seq`` of this device is committed according to the receipt."""
        return seq <= self.seq or any(first <= seq <= last for first, last in self.ranges)

    def names(self, seq: int, digest: str) -> bool:
        """Whether the receipt names the committed entry ``seq`` as the one with ``digest``.

        Stronger than :meth:`covers`: only this says *that* entry, and not
        another one with the same seq, is in the log.
        """
        return (seq, digest) in self.hashes

    def to_json(self) -> bytes:
        """The receipt message bytes (compact JSON)."""
        return json.dumps(
            {
                "dev": self.dev,
                "seq": self.seq,
                "block": self.block,
                "ranges": [list(pair) for pair in self.ranges],
            }
            | ({"hashes": [list(pair) for pair in self.hashes]} if self.hashes else {}),
            separators=(",", ":"),
        ).encode()


def parse_receipt(payload: bytes) -> Receipt:
    """Parse receipt bytes. Raises MalformedWireError for anything that is not a valid receipt."""
    if len(payload) > _MAX_RECEIPT_BYTES:
        raise MalformedWireError(f"receipt of {len(payload)} bytes is too long")
    obj = _load_object(payload, "receipt")
    if set(obj) - {"hashes"} != {"dev", "seq", "block", "ranges"}:
        raise MalformedWireError(
            f"receipt members must be dev, seq, block, ranges (and hashes); got {sorted(obj)}"
        )
    ranges = obj["ranges"]
    if not isinstance(ranges, list) or not all(_is_pair(r) for r in ranges):
        raise MalformedWireError(f"receipt ranges must be [[first, last], ...], got {ranges!r}")
    if not isinstance(obj["dev"], str):
        raise MalformedWireError("receipt dev must be a string")
    hashes = obj.get("hashes", [])
    if not isinstance(hashes, list) or not all(isinstance(h, list) and len(h) == 2 for h in hashes):
        raise MalformedWireError("receipt hashes must be [[seq, hex SHA-256], ...]")
    return Receipt(
        dev=obj["dev"],
        seq=obj["seq"],
        block=obj["block"],
        ranges=tuple(tuple(r) for r in ranges),
        hashes=tuple(tuple(h) for h in hashes),
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
    return load_json_object(payload, what, error=MalformedWireError, max_bytes=_MAX_WIRE_JSON_BYTES)


def committed_ranges(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Collapse ascending distinct seqs into inclusive ``(first, last)`` runs."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] + 1 == seq:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs
