"""What the gateway has heard from each device: the live half of the fleet view.

Pure (time is passed in) and O(1) per message. The ingest thread calls
:meth:`FleetState.note_entry` for every entry message and
:meth:`FleetState.note_status` for every status message; the HTTP thread
calls :meth:`FleetState.rows` (a lock keeps the two apart).

Bounded: a device is *tracked* once one of its entries is accepted (so
tracked devices are registered ones); any other id that publishes (an
unregistered device, junk statuses) is kept in a least-recently-heard set
of at most ``max_unknown`` ids.

Rules (documented in docs/gateway.md, "Fleet"):

- last seen: the last message of any kind, except a retained status
  redelivered when the gateway subscribes (that is old news).
- readings per hour: accepted readings received in the last 60 minutes
  (one-minute buckets).
- expected interval: the median of the last :data:`CADENCE_SAMPLES` gaps
  between the *signed* ``ts`` of successive readings (so a backlog
  delivered in a burst does not shrink it); the default before there are
  two readings.
- silent: nothing heard for longer than the interval plus the grace; a
  device not heard since the gateway started counts from its start.
- backlog growing: the outbox size rose strictly across the last
  ``backlog_statuses`` statuses.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from chain.wire import STATUS_OFFLINE, DeviceStatus
from gateway.admission import Decision, Verdict

__all__ = ["CADENCE_SAMPLES", "DeviceActivity", "FleetSettings", "FleetState"]

CADENCE_SAMPLES = 8
_MINUTE_MS = 60_000
_HOUR_MINUTES = 60


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """How silence and backlogs are judged (see the module docstring)."""

    grace_ms: int = 60_000
    default_interval_ms: int = 60_000
    backlog_statuses: int = 3
    max_unknown: int = 256

    def __post_init__(self) -> None:
        if self.grace_ms < 0 or self.default_interval_ms <= 0:
            raise ValueError("grace_ms must be >= 0 and default_interval_ms > 0")
        if self.backlog_statuses < 2 or self.max_unknown < 1:
            raise ValueError("backlog_statuses must be >= 2 and max_unknown >= 1")


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """One device's live state at a moment (what :meth:`FleetState.rows` returns)."""

    dev: str
    tracked: bool
    last_seen_ms: int | None
    last_reading_ms: int | None
    last_reading_ts: int | None
    readings_per_hour: int
    interval_ms: int
    interval_observed: bool
    status: DeviceStatus | None
    rejections: dict[str, int]
    silent: bool
    backlog_growing: bool


class _Track:
    __slots__ = (
        "buckets",
        "gaps",
        "last_reading_ms",
        "last_reading_ts",
        "last_seen_ms",
        "outboxes",
        "rejections",
        "status",
    )

    def __init__(self, backlog_statuses: int) -> None:
        self.last_seen_ms: int | None = None
        self.last_reading_ms: int | None = None
        self.last_reading_ts: int | None = None
        self.gaps: deque[int] = deque(maxlen=CADENCE_SAMPLES)
        self.buckets: deque[list[int]] = deque()  # [minute, readings], oldest first
        self.status: DeviceStatus | None = None
        self.outboxes: deque[int] = deque(maxlen=backlog_statuses)
        self.rejections: dict[str, int] = {}

    def reading(self, ts: int, now_ms: int) -> None:
        if self.last_reading_ts is not None and ts > self.last_reading_ts:
            self.gaps.append(ts - self.last_reading_ts)
        if self.last_reading_ts is None or ts > self.last_reading_ts:
            self.last_reading_ts = ts
        self.last_reading_ms = now_ms
        minute = now_ms // _MINUTE_MS
        if self.buckets and self.buckets[-1][0] == minute:
            self.buckets[-1][1] += 1
        else:
            self.buckets.append([minute, 1])
            while len(self.buckets) > _HOUR_MINUTES:
                self.buckets.popleft()

    def per_hour(self, now_ms: int) -> int:
        since = now_ms // _MINUTE_MS - _HOUR_MINUTES
        return sum(count for minute, count in self.buckets if minute > since)


class FleetState:
    """Per-device activity, fed by the ingest thread, read by the HTTP thread.

    ``started_ms`` is when the gateway started (silence of a device not heard
    since is counted from it).
    """

    def __init__(self, started_ms: int, settings: FleetSettings | None = None) -> None:
        self.settings = settings or FleetSettings()
        self.started_ms = started_ms
        self._tracked: dict[str, _Track] = {}
        self._unknown: OrderedDict[str, _Track] = OrderedDict()
        self._lock = threading.Lock()

    def _track(self, device: str, *, accepted: bool) -> _Track:
        track = self._tracked.get(device)
        if track is not None:
            return track
        track = self._unknown.pop(device, None) or _Track(self.settings.backlog_statuses)
        if accepted:
            self._tracked[device] = track
        else:
            self._unknown[device] = track  # most recently heard last
            if len(self._unknown) > self.settings.max_unknown:
                self._unknown.popitem(last=False)
        return track

    def note_entry(self, device: str, decision: Decision, now_ms: int) -> None:
        """An entry message from ``device`` (its topic's id) got ``decision`` at ``now_ms``."""
        accepted = decision.verdict is Verdict.ACCEPTED
        with self._lock:
            track = self._track(device, accepted=accepted)
            track.last_seen_ms = now_ms
            if decision.verdict is Verdict.REJECTED:
                reason = str(decision.reason)
                track.rejections[reason] = track.rejections.get(reason, 0) + 1
            elif accepted and decision.entry is not None and decision.entry.type == "reading":
                track.reading(decision.entry.ts, now_ms)

    def note_status(
        self,
        device: str,
        status: DeviceStatus | None,
        now_ms: int,
        *,
        retained: bool,
        malformed: bool = False,
    ) -> None:
        """A status message from ``device``: ``status`` None if it was unusable or empty.

        ``retained``: redelivered by the broker on subscribe, not sent now.
        ``malformed``: it was unusable (counted as rejection ``malformed_status``).
        """
        with self._lock:
            track = self._track(device, accepted=False)
            if not retained:
                track.last_seen_ms = now_ms
            if malformed:
                track.rejections["malformed_status"] = (
                    track.rejections.get("malformed_status", 0) + 1
                )
            if status is None:
                track.status = None
                return
            track.status = status
            if status.outbox is not None:
                track.outboxes.append(status.outbox)
            elif status.status == STATUS_OFFLINE:
                pass  # a last will says nothing of the outbox
            else:
                track.outboxes.clear()

    def rows(self, now_ms: int) -> list[DeviceActivity]:
        """Every device heard from (tracked first, then unknown ones), as of ``now_ms``."""
        with self._lock:
            tracked = [self._row(dev, t, True, now_ms) for dev, t in self._tracked.items()]
            unknown = [self._row(dev, t, False, now_ms) for dev, t in self._unknown.items()]
        return tracked + unknown

    def quiet(self, device: str, now_ms: int) -> DeviceActivity:
        """The row of a device never heard from since the gateway started."""
        return self._row(device, _Track(self.settings.backlog_statuses), False, now_ms)

    def _row(self, dev: str, track: _Track, tracked: bool, now_ms: int) -> DeviceActivity:
        s = self.settings
        gaps = sorted(track.gaps)
        observed = len(gaps) > 0
        interval = gaps[len(gaps) // 2] if observed else s.default_interval_ms
        since = self.started_ms if track.last_seen_ms is None else track.last_seen_ms
        outboxes = list(track.outboxes)
        growing = len(outboxes) == s.backlog_statuses and all(
            a < b for a, b in itertools.pairwise(outboxes)
        )
        return DeviceActivity(
            dev=dev,
            tracked=tracked,
            last_seen_ms=track.last_seen_ms,
            last_reading_ms=track.last_reading_ms,
            last_reading_ts=track.last_reading_ts,
            readings_per_hour=track.per_hour(now_ms),
            interval_ms=interval,
            interval_observed=observed,
            status=track.status,
            rejections=dict(track.rejections),
            silent=now_ms - since > interval + s.grace_ms,
            backlog_growing=growing,
        )
