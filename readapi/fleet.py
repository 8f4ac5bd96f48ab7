"""The fleet view: what a gateway knows of each device, as served at ``GET /api/v1/fleet``.

Only a gateway serves it (it alone sees statuses, rejections and arrival
times); consumer replicas do not. The body is JSON::

    {"generated_ms": ms, "grace_s": 60, "devices": [FleetRow, ...]}

with one row per registered device, then the unregistered ids the gateway
heard from recently (bounded). A row (:class:`FleetRow`) holds its last
message time, last reading, readings per hour, expected reporting interval,
the status it reported (state, outbox, oldest unsent ts, firmware), its seq
gaps (declared by ``gap`` entries vs missing), rejections by reason, and
``flags``: ``silent`` (nothing heard for longer than its interval plus
``grace_s``), ``offline`` (its retained status says so), ``backlog_growing``
(outbox size rose across its last statuses), ``seq_missing``, ``rejected``
and ``unregistered``.

:func:`fetch_fleet` reads it (the ``farmtrace fleet`` command and the desk).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from chain.errors import MalformedError, SourceError
from chain.json_input import load_json_object
from readapi.client import Transport, urllib_transport

__all__ = [
    "FLAGS",
    "FLEET_PATH",
    "FleetRow",
    "FleetView",
    "age_text",
    "fetch_fleet",
    "fleet_table",
    "parse_fleet",
]

FLEET_PATH = "/api/v1/fleet"
FLAGS = ("silent", "offline", "backlog_growing", "seq_missing", "rejected", "unregistered")
_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One device as the gateway sees it. Times are Unix ms (None: not known yet).

    ``interval_s`` is the expected reporting interval and ``interval_from``
    where it came from (``observed``: the median gap between its newest
    readings' ``ts``; ``default``: the gateway's default, before two
    readings). ``state`` is ``online``/``offline`` from its retained status,
    None without one.
    """

    dev: str
    registered: bool
    state: str | None = None
    last_seen_ms: int | None = None
    last_reading_ms: int | None = None
    last_reading_ts: int | None = None
    readings_per_hour: int = 0
    interval_s: float = 60.0
    interval_from: str = "default"
    outbox: int | None = None
    oldest_ts: int | None = None
    fw: str | None = None
    seq_committed: int = 0
    seq_high: int = 0
    gaps_declared: int = 0
    gaps_missing: int = 0
    rejections: Mapping[str, int] = field(default_factory=dict)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetView:
    """The whole fleet at ``generated_ms``; ``grace_s`` is the silence allowance."""

    generated_ms: int
    grace_s: float
    devices: tuple[FleetRow, ...]

    def flagged(self, flag: str) -> list[str]:
        """The ids of the devices carrying ``flag``."""
        return [row.dev for row in self.devices if flag in row.flags]

    def to_json(self) -> bytes:
        """The response body (compact JSON)."""
        obj = {
            "generated_ms": self.generated_ms,
            "grace_s": self.grace_s,
            "devices": [asdict(row) | {"flags": list(row.flags)} for row in self.devices],
        }
        return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def parse_fleet(body: bytes, url: str = "") -> FleetView:
    """Parse a fleet response body (fetched from ``url``, for the error message).

    Raises:
        SourceError: (reason ``malformed_response``) the body is not a fleet view.
    """
    try:
        obj = load_json_object(body, "fleet view", max_bytes=_MAX_BYTES)
        rows = []
        for raw in obj["devices"]:
            members = {k: raw[k] for k in _ROW_MEMBERS if k in raw}
            members["flags"] = tuple(str(f) for f in members.get("flags", ()))
            rejections = members.get("rejections", {})
            members["rejections"] = {str(k): int(v) for k, v in rejections.items()}
            rows.append(FleetRow(**members))
        return FleetView(int(obj["generated_ms"]), float(obj["grace_s"]), tuple(rows))
    except (MalformedError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(
            f"{url}: not a fleet view: {exc}", reason="malformed_response", url=url
        ) from exc


def fetch_fleet(
    gateway_url: str, *, timeout: float = 10.0, transport: Transport | None = None
) -> FleetView:
    """GET the fleet view from the gateway at ``gateway_url``.

    Raises:
        SourceError: unreachable (``unreachable``), an HTTP error (``http_error``;
            a consumer replica answers 404: it has no fleet) or a malformed body
            (``malformed_response``).
    """
    url = gateway_url.rstrip("/") + FLEET_PATH
    get = transport or urllib_transport
    try:
        status, _headers, body = get("GET", url, timeout)
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, truncated
        raise SourceError(
            f"{url}: unreachable: {str(exc) or type(exc).__name__}", reason="unreachable", url=url
        ) from exc
    if status != 200:
        raise SourceError(
            f"{url}: HTTP {status}: {_error_text(body)}",
            reason="http_error",
            url=url,
            status=status,
        )
    if len(body) > _MAX_BYTES:
        raise SourceError(f"{url}: fleet view too large", reason="malformed_response", url=url)
    return parse_fleet(body, url)


_ROW_MEMBERS = tuple(FleetRow.__dataclass_fields__)


def _error_text(body: bytes) -> str:
    try:
        return str(load_json_object(body, "error", max_bytes=65536)["error"])[:300]
    except (MalformedError, KeyError):
        return body[:300].decode("utf-8", "replace")


def fleet_table(view: FleetView) -> str:
    """The view as a plain-text table (one line per device, flags last), for a terminal."""
    head = ["DEVICE", "STATE", "LAST SEEN", "LAST READING", "PER HOUR", "INTERVAL", "OUTBOX"]
    head += ["OLDEST UNSENT", "FW", "GAPS D/M", "REJECTED", "FLAGS"]
    lines: list[tuple[str, ...]] = [tuple(head)]
    for row in view.devices:
        rejected = ",".join(f"{reason}={n}" for reason, n in row.rejections.items())
        lines.append(
            (
                row.dev,
                row.state or "-",
                age_text(view.generated_ms, row.last_seen_ms),
                age_text(view.generated_ms, row.last_reading_ts),
                str(row.readings_per_hour),
                f"{row.interval_s:g}s" + ("" if row.interval_from == "observed" else "?"),
                "-" if row.outbox is None else str(row.outbox),
                age_text(view.generated_ms, row.oldest_ts),
                row.fw or "-",
                f"{row.gaps_declared}/{row.gaps_missing}",
                rejected or "-",
                ",".join(row.flags) or "ok",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    flagged = sum(1 for row in view.devices if row.flags)
    text.append(
        f"{len(view.devices)} devices, {flagged} flagged (silent = no message for "
        f"longer than the interval + {view.grace_s:g}s; ? = default interval)"
    )
    return "\n".join(text)


def age_text(now_ms: int, then_ms: int | None) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago`` (``-`` when unknown)."""
    if then_ms is None:
        return "-"
    seconds = max(0, now_ms - then_ms) // 1000
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
