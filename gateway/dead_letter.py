"""Quarantine for MQTT messages the gateway could not handle: a bounded dead-letter file.

A message whose handling raised an unexpected error (or that was in flight
when the ingest loop failed twice) is written here, then acknowledged, so
that the broker does not redeliver it forever. An event refused for a
cross-log reference (reason ``ref_*``, :mod:`gateway.ref_check`) is written
here too, whole, so that it can be sent again once the other log answers.
One JSON object per line::

    {"time_ms": 1765000000000, "topic": "farmtrace/f/d/status",
     "payload_b64": "...", "error": "RecursionError: ..."}

The file is bounded: when the next line would take it past ``max_bytes``,
it is renamed to ``<name>.1`` (replacing the previous one) and a new file
is started, so at most about twice ``max_bytes`` are kept. A line that
cannot be written is logged in full instead (never silently lost).

:class:`Strikes` counts, per message fingerprint, how often the ingest loop
failed while that message was in flight.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

__all__ = ["DEFAULT_MAX_BYTES", "DeadLetterFile", "Strikes", "fingerprint"]

_logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
"""The default bound of one dead-letter file (the rotated copy holds as much again)."""

_MAX_ERROR_CHARS = 2000
_MAX_STRIKES_KEPT = 1024


def fingerprint(topic: str, payload: bytes) -> bytes:
    """A message's identity across redeliveries: SHA-256 of topic, NUL, payload."""
    return hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).digest()


class DeadLetterFile:
    """Appends quarantined messages to ``path`` (see the module docstring). Thread-safe."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1024:
            raise ValueError(f"max_bytes: expected at least 1024, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def add(self, topic: str, payload: bytes, error: str, now_ms: int) -> bool:
        """Record one message durably (fsync). Returns False if it could only be logged.

        Never raises for an I/O failure: the record then goes to the log at
        ERROR level, whole.
        """
        line = (
            json.dumps(
                {
                    "time_ms": now_ms,
                    "topic": topic,
                    "payload_b64": base64.b64encode(payload).decode("ascii"),
                    "error": error[:_MAX_ERROR_CHARS],
                },
                separators=(",", ":"),
                ensure_ascii=True,
            )
            + "\n"
        ).encode("ascii")
        with self._lock:
            try:
                self._rotate_for(len(line))
                with open(self.path, "ab") as out:
                    out.write(line)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                _logger.error("cannot write the dead-letter file %s (%s): %s", self.path, exc, line)
                return False
        return True

    def _rotate_for(self, size: int) -> None:
        try:
            current = self.path.stat().st_size
        except FileNotFoundError:
            return
        if current and current + size > self.max_bytes:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))


class Strikes:
    """How often the ingest loop failed with each message in flight (bounded, oldest dropped)."""

    def __init__(self) -> None:
        self._counts: dict[bytes, int] = {}

    def add(self, key: bytes) -> int:
        """Count one more failure with message ``key`` in flight; return the new count."""
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        while len(self._counts) > _MAX_STRIKES_KEPT:
            del self._counts[next(iter(self._counts))]
        return count

    def count(self, key: bytes) -> int:
        """Failures recorded for ``key``."""
        return self._counts.get(key, 0)

    def clear(self, key: bytes) -> None:
        """Forget ``key`` (it was quarantined)."""
        self._counts.pop(key, None)
