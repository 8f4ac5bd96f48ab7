"""The fleet view (``GET /api/v1/fleet``): registered devices, their activity and seq gaps.

Served by the gateway only, on its own HTTP port: it reveals operational
details (which barns are dark, firmware versions), so consumer replicas do
not serve it and a public deployment should not proxy it (docs/gateway.md).

Each request replays the log's registrations (cached until one is added)
to list the registered devices, joins :class:`~gateway.fleet_state.FleetState`
(what the ingest thread heard) and each device's committed seqs from the
store (:class:`SeqGaps`), and answers a :class:`readapi.fleet.FleetView`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from flask import Blueprint, Response

from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.registry import Registry
from chain.store import Store
from chain.trust import TrustRoot
from chain.wire import STATUS_OFFLINE
from gateway.fleet_state import DeviceActivity, FleetState
from gateway.ingest import load_registry
from readapi.fleet import FLEET_PATH, FleetRow, FleetView

__all__ = ["FleetCounts", "FleetViewBuilder", "SeqGaps", "SeqSummary", "create_fleet_api"]


@dataclass(frozen=True, slots=True)
class SeqSummary:
    """A signer's committed seqs: how many, the highest, and the holes below it.

    ``declared`` holes are covered by the signer's own ``gap`` entries;
    ``missing`` ones are not (an auditor reports them).
    """

    committed: int = 0
    high: int = 0
    declared: int = 0
    missing: int = 0


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """Registered devices, and how many of them carry each flag the metrics export."""

    registered: int
    silent: int
    offline: int
    backlog_growing: int


class _Scan:
    __slots__ = ("declared", "read_to")

    def __init__(self) -> None:
        self.declared: list[tuple[int, int]] = []  # (from, to) of gap entries read so far
        self.read_to = 0  # entries with seq <= read_to were checked for gap declarations


class SeqGaps:
    """Counts each signer's seq holes from the store's (signer, seq) index.

    The index is scanned on each call (keys only). Entries are read only
    when there are holes that no known ``gap`` entry covers, and then only
    those above the last seq read before: a ``gap`` entry's seq lies above
    the seqs it declares. Thread-safe.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._scans: dict[str, _Scan] = {}
        self._lock = threading.Lock()

    def summary(self, signer: str) -> SeqSummary:
        """The seq summary of ``signer``. Raises StorageError if the store fails."""
        holes: list[tuple[int, int]] = []
        count = high = 0
        for seq in self._store.signer_seqs(signer):
            if seq > high + 1:
                holes.append((high + 1, seq - 1))
            high, count = seq, count + 1
        if not holes:
            return SeqSummary(count, high)
        with self._lock:
            scan = self._scans.setdefault(signer, _Scan())
            if any(not _covered(hole, scan.declared) for hole in holes):
                self._read_declarations(signer, scan, high)
            declared = sum(_overlap(hole, scan.declared) for hole in holes)
        missing = sum(last - first + 1 for first, last in holes) - declared
        return SeqSummary(count, high, declared, missing)

    def _read_declarations(self, signer: str, scan: _Scan, high: int) -> None:
        for seq in self._store.signer_seqs(signer):
            if seq <= scan.read_to:
                continue
            index = self._store.lookup(signer, seq)
            if index is None:
                continue
            try:
                entry = parse_entry(self._store.entry(index))
            except (FarmtraceError, KeyError):
                continue  # the audit reports a broken entry; here it declares nothing
            if entry.type == "gap":
                scan.declared.append((int(entry.payload["from"]), int(entry.payload["to"])))
        scan.read_to = high


def _overlap(hole: tuple[int, int], declared: list[tuple[int, int]]) -> int:
    first, last = hole
    seen: set[int] = set()
    for a, b in declared:
        lo, hi = max(a, first), min(b, last)
        if lo <= hi:
            seen.update(range(lo, hi + 1))
    return len(seen)


def _covered(hole: tuple[int, int], declared: list[tuple[int, int]]) -> bool:
    return _overlap(hole, declared) == hole[1] - hole[0] + 1


class FleetViewBuilder:
    """Builds the :class:`FleetView` of a live gateway (thread-safe; one per gateway)."""

    def __init__(
        self, store: Store, trust: TrustRoot, state: FleetState, clock: Callable[[], int]
    ) -> None:
        self._store, self._trust, self._state, self._clock = store, trust, state, clock
        self._gaps = SeqGaps(store)
        self._registry: tuple[int, _Signers] | None = None
        self._counts: tuple[int, FleetCounts] | None = None
        self._lock = threading.Lock()

    def signers(self) -> _Signers:
        """The registered devices (newest registration in force) and the operators' ids."""
        count = len(self._store.registration_indexes())
        with self._lock:
            if self._registry is None or self._registry[0] != count:
                self._registry = (count, _signers(load_registry(self._store, self._trust)))
            return self._registry[1]

    def build(self) -> FleetView:
        """The fleet as of now.

        Raises:
            StorageError: the store failed. FarmtraceError: its registrations do not replay.
        """
        now = self._clock()
        signers = self.signers()
        heard = {a.dev: a for a in self._state.rows(now) if a.dev not in signers.operators}
        rows = []
        for dev in signers.devices:
            activity = heard.pop(dev, None) or self._state.quiet(dev, now)
            seqs = self._gaps.summary(dev)
            if activity.last_reading_ts is None and seqs.high:  # e.g. since a restart
                activity = replace(activity, last_reading_ts=self._reading_ts(dev, seqs.high))
            rows.append(_row(activity, True, seqs))
        rows += [_row(a, False, SeqSummary()) for a in sorted(heard.values(), key=_dev)]
        grace_s = self._state.settings.grace_ms / 1000
        return FleetView(now, grace_s, tuple(rows))

    def flag_counts(self) -> FleetCounts:
        """How many registered devices there are, silent, offline, with a growing backlog.

        Cheaper than :meth:`build` (no seq scan): what ``/metrics`` exports;
        reused for a second (one scrape reads it once per gauge). Raises as :meth:`build`.
        """
        now = self._clock()
        cached = self._counts
        if cached is not None and 0 <= now - cached[0] < 1000:
            return cached[1]
        heard = {a.dev: a for a in self._state.rows(now)}
        devices = self.signers().devices
        rows = [heard.get(dev) or self._state.quiet(dev, now) for dev in devices]
        counts = FleetCounts(
            registered=len(devices),
            silent=sum(1 for a in rows if a.silent),
            offline=sum(1 for a in rows if a.status is not None and a.status.status == "offline"),
            backlog_growing=sum(1 for a in rows if a.backlog_growing),
        )
        self._counts = (now, counts)
        return counts

    def _reading_ts(self, dev: str, seq: int) -> int | None:
        """The ``ts`` of ``dev``'s committed entry ``seq`` if it is a reading, else None."""
        index = self._store.lookup(dev, seq)
        if index is None:
            return None
        try:
            entry = parse_entry(self._store.entry(index))
        except (FarmtraceError, KeyError):
            return None
        return entry.ts if entry.type == "reading" else None


def _dev(activity: DeviceActivity) -> str:
    return activity.dev


@dataclass(frozen=True, slots=True)
class _Signers:
    devices: list[str]  # sorted; revoked ones left out
    operators: frozenset[str]  # they publish events over MQTT too: not part of the fleet


def _signers(registry: Registry) -> _Signers:
    newest: dict[str, bool] = {}
    operators = set()
    for grant in registry.grants():  # in log order: the last one of each signer wins
        if grant.kind == "device":
            newest[grant.signer] = grant.public_key is not None
        else:
            operators.add(grant.signer)
    return _Signers(sorted(d for d, active in newest.items() if active), frozenset(operators))


def _row(a: DeviceActivity, registered: bool, seqs: SeqSummary) -> FleetRow:
    status = a.status
    flags = [
        name
        for name, on in (
            ("silent", a.silent),
            ("offline", status is not None and status.status == STATUS_OFFLINE),
            ("backlog_growing", a.backlog_growing),
            ("seq_missing", seqs.missing > 0),
            ("rejected", bool(a.rejections)),
            ("unregistered", not registered),
        )
        if on
    ]
    return FleetRow(
        dev=a.dev,
        registered=registered,
        state=None if status is None else status.status,
        last_seen_ms=a.last_seen_ms,
        last_reading_ms=a.last_reading_ms,
        last_reading_ts=a.last_reading_ts,
        readings_per_hour=a.readings_per_hour,
        interval_s=a.interval_ms / 1000,
        interval_from="observed" if a.interval_observed else "default",
        outbox=None if status is None else status.outbox,
        oldest_ts=None if status is None else status.oldest_ts,
        fw=None if status is None else status.fw,
        seq_committed=seqs.committed,
        seq_high=seqs.high,
        gaps_declared=seqs.declared,
        gaps_missing=seqs.missing,
        rejections=dict(sorted(a.rejections.items())),
        flags=tuple(flags),
    )


def create_fleet_api(builder: FleetViewBuilder) -> Blueprint:
    """A blueprint serving ``GET /api/v1/fleet`` from ``builder``."""
    bp = Blueprint("fleet", __name__)

    @bp.get(FLEET_PATH)
    def fleet() -> Response:
        return Response(
            builder.build().to_json(),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    return bp
