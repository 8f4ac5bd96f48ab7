"""Rejection log lines, rate-limited: once per (sender, reason) per minute."""

from __future__ import annotations

import logging

from gateway.admission import Decision

__all__ = ["REPEAT_LOG_S", "RejectLog"]

REPEAT_LOG_S = 60.0
"""A (sender, reason) pair is logged at most once in this many seconds."""


class RejectLog:
    """Logs a rejection once per (sender, reason) per minute, with how many were not logged.

    Not thread-safe: one per thread (the ingest thread's, the HTTP threads' own).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def log(self, sender: str, decision: Decision, now: float) -> None:
        """Log ``decision`` about what ``sender`` sent (``now``: monotonic seconds)."""
        level = logging.ERROR if decision.reason == "equivocation" else logging.WARNING
        self.log_reason(sender, str(decision.reason), decision.message, now, level)

    def log_reason(
        self, sender: str, reason: str, message: str, now: float, level: int = logging.WARNING
    ) -> None:
        """Log a rejection of what ``sender`` sent for ``reason``, unless logged a moment ago."""
        key = (sender, reason)
        if len(self._last) > 4096:  # bound what senders that come and go can take
            self._last.clear()
        last, suppressed = self._last.get(key, (0.0, 0))
        if now - last < REPEAT_LOG_S and last:
            self._last[key] = (last, suppressed + 1)
            return
        more = f" (and {suppressed} more like it in the last minute)" if suppressed else ""
        self._logger.log(level, "rejected from %s: %s: %s%s", sender, reason, message, more)
        self._last[key] = (now, 0)
