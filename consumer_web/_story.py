"""What the site tells about a bird, a pack or a lot: frozen values, with their JSON form.

Built by :mod:`consumer_web._lifecycle`; rendered by the pages and served
as JSON by ``/api/v1/birds/<id>/lifecycle``. Times are integer milliseconds
since the Unix epoch (UTC); every entry is named by its global index, so
that anyone can fetch its proof at ``/api/v1/entries/<index>/proof``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consumer_web._aggregate import Bucket
from consumer_web._swaps import DeviceSwap
from consumer_web._welfare import Excursion

__all__ = [
    "BirdStory",
    "Chart",
    "DeviceCompleteness",
    "EventRow",
    "Identity",
    "PackInfo",
    "PackStory",
    "Stay",
    "Verification",
]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event entry: its ``index`` in the log, block ``height``, signer and members.

    ``fields`` are the event's own members (not type, seq, ts, event,
    subjects) as ``(name, value)`` text pairs, by name; ``signer_name`` is the
    name the signer's operator registration gives, if any.
    """

    index: int
    height: int
    ts: int
    event: str
    signer: str
    signer_name: str | None
    subjects: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    def field(self, name: str) -> str | None:
        """The text of member ``name``, or None."""
        return dict(self.fields).get(name)

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return {
            "index": self.index,
            "block": self.height,
            "ts": self.ts,
            "event": self.event,
            "signer": self.signer,
            "signer_name": self.signer_name,
            "subjects": list(self.subjects),
            "fields": dict(self.fields),
        }


@dataclass(frozen=True, slots=True)
class Stay:
    """The bird was in barn ``barn`` from ``start_ms`` until ``end_ms`` (None: still there).

    ``start_index`` and ``end_index`` are the events that opened and closed the stay.
    """

    barn: str
    start_ms: int
    end_ms: int | None
    start_index: int
    end_index: int | None

    def to_json(self) -> dict[str, Any]:
        """The stay as a JSON object."""
        return {
            "barn": self.barn,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "start_index": self.start_index,
            "end_index": self.end_index,
        }


@dataclass(frozen=True, slots=True)
class PackInfo:
    """A pack (``serial``) or lot (``lot``) of GTIN ``gtin``, packed by entry ``packed_index``.

    ``product`` and ``best_before`` (``YYYY-MM-DD``) as the plant's packed
    event states them, if it does.
    """

    gtin: str
    serial: str | None
    lot: str | None
    path: str
    packed_ms: int
    packed_index: int
    plant: str | None
    weight_g: int | None
    product: str | None = None
    best_before: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The pack as a JSON object."""
        return {
            "gtin": self.gtin,
            "serial": self.serial,
            "lot": self.lot,
            "path": self.path,
            "packed_ms": self.packed_ms,
            "packed_index": self.packed_index,
            "plant": self.plant,
            "weight_g": self.weight_g,
            "product": self.product,
            "best_before": self.best_before,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the bird is: its facts as the events state them (None where none does)."""

    bird: str
    breed: str | None
    hatchery: str | None
    parent_flock: str | None
    farm: str | None
    barns: tuple[str, ...]
    hatch_ms: int | None
    slaughter_ms: int | None
    plant: str | None
    died_ms: int | None
    cause: str | None
    packs: tuple[PackInfo, ...]

    def to_json(self) -> dict[str, Any]:
        """The identity as a JSON object."""
        return {
            "bird": self.bird,
            "breed": self.breed,
            "hatchery": self.hatchery,
            "parent_flock": self.parent_flock,
            "farm": self.farm,
            "barns": list(self.barns),
            "hatch_ms": self.hatch_ms,
            "slaughter_ms": self.slaughter_ms,
            "plant": self.plant,
            "died_ms": self.died_ms,
            "cause": self.cause,
            "packs": [p.to_json() for p in self.packs],
        }


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: ``kind`` readings about ``subject`` per ``bucket_ms``.

    ``buckets`` hold min/mean/max/total statistics (climate, activity,
    weight); ``totals`` hold amounts used per day (feed, water), from
    ``(day start, amount)``. ``limits`` are the welfare limits per age day
    that apply, as ``(day start, low, high)``.
    """

    kind: str
    subject: str
    unit: str
    bucket_ms: int
    buckets: tuple[Bucket, ...] = ()
    totals: tuple[tuple[int, float], ...] = ()
    limits: tuple[tuple[int, float, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The chart as a JSON object."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "unit": self.unit,
            "bucket_ms": self.bucket_ms,
            "buckets": [b.to_json() for b in self.buckets],
            "totals": [{"start_ms": day, "amount": amount} for day, amount in self.totals],
            "limits": [{"start_ms": d, "low": lo, "high": hi} for d, lo, hi in self.limits],
        }


@dataclass(frozen=True, slots=True)
class DeviceCompleteness:
    """How complete device ``dev``'s readings (of ``kinds``) in a story are, by ``seq``.

    Between its first and last seq in the story's windows, ``received`` seqs
    are in the log (about this story or anything else) and ``missing`` are
    not; ``gaps`` lists the first missing ranges (inclusive), at most
    :data:`MAX_GAPS`.
    """

    dev: str
    kinds: tuple[str, ...]
    first_seq: int
    last_seq: int
    received: int
    missing: int
    gaps: tuple[tuple[int, int], ...]

    def to_json(self) -> dict[str, Any]:
        """The completeness as a JSON object."""
        return {
            "dev": self.dev,
            "kinds": list(self.kinds),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "received": self.received,
            "missing": self.missing,
            "gaps": [list(g) for g in self.gaps],
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """What backs a story: ``readings`` and ``events`` in ``blocks`` distinct blocks.

    All are inside the checkpoint of ``checkpoint_size`` blocks (the first
    ``entry_count`` entries); ``log_signature_ok`` says whether the log key
    ``log_key`` signed it; ``witnesses`` are the known witnesses whose
    cosignatures verify, ``other_signatures`` the signature lines of keys the
    site does not know.
    """

    readings: int
    events: int
    blocks: int
    checkpoint_size: int
    entry_count: int
    log_key: str
    log_signature_ok: bool
    witnesses: tuple[str, ...]
    other_signatures: int

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object."""
        return {
            "readings": self.readings,
            "events": self.events,
            "blocks": self.blocks,
            "checkpoint_size": self.checkpoint_size,
            "entry_count": self.entry_count,
            "log_key": self.log_key,
            "log_signature_ok": self.log_signature_ok,
            "witnesses": list(self.witnesses),
            "other_signatures": self.other_signatures,
        }


MAX_GAPS = 20


@dataclass(frozen=True, slots=True)
class BirdStory:
    """A bird's lifecycle as the log tells it, up to one checkpoint."""

    identity: Identity
    timeline: tuple[EventRow, ...]
    stays: tuple[Stay, ...]
    charts: tuple[Chart, ...]
    excursions: tuple[Excursion, ...]
    completeness: tuple[DeviceCompleteness, ...]
    verification: Verification
    swaps: tuple[DeviceSwap, ...] = ()
    """Sensors replaced in the bird's barns while it was there (:mod:`consumer_web._swaps`)."""

    @property
    def recalls(self) -> tuple[EventRow, ...]:
        """The recall events in the timeline."""
        return tuple(row for row in self.timeline if row.event == "recalled")

    def to_json(self) -> dict[str, Any]:
        """The whole story as a JSON object (the lifecycle API's body)."""
        return {
            "identity": self.identity.to_json(),
            "timeline": [row.to_json() for row in self.timeline],
            "stays": [stay.to_json() for stay in self.stays],
            "charts": [chart.to_json() for chart in self.charts],
            "excursions": [e.to_json() for e in self.excursions],
            "completeness": [c.to_json() for c in self.completeness],
            "verification": self.verification.to_json(),
            "swaps": [swap.to_json() for swap in self.swaps],
            "recalled": bool(self.recalls),
        }


@dataclass(frozen=True, slots=True)
class PackStory:
    """A pack or lot: the packing, the birds in it, and what happened to it since."""

    pack: PackInfo
    birds: tuple[str, ...]
    timeline: tuple[EventRow, ...]

    @property
    def recalls(self) -> tuple[EventRow, ...]:
        """The recall events in the timeline."""
        return tuple(row for row in self.timeline if row.event == "recalled")
