"""Line framing for the serial transport: ASCII lines of at most 4096 bytes plus ``\\n``.

design.md section 4: one JWS per line, ``\\n`` terminated, ASCII; receipts
come back the same way. A line that is too long or not ASCII is dropped
whole (up to its newline) with a reason; nothing is ever silently cut.
"""

from __future__ import annotations

from collections.abc import Iterator

from chain.jws import MAX_ENTRY_BYTES

__all__ = ["MAX_LINE", "LineFramer"]

MAX_LINE = MAX_ENTRY_BYTES
"""The longest line accepted, without its newline."""


class LineFramer:
    """Splits a byte stream into lines; yields ``(line, None)`` or ``(None, reason)``.

    Reasons: ``too_long`` (more than ``max_len`` bytes before the newline),
    ``not_ascii``. A ``\\r`` before the newline is stripped; empty lines are skipped.
    """

    def __init__(self, max_len: int = MAX_LINE) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> Iterator[tuple[bytes | None, str | None]]:
        """Add ``data``; yield each complete line (or the reason it was dropped)."""
        self._buf += data
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > self.max_len + 1:  # +1: a "\r" may still come
                    if not self._discarding:
                        yield None, "too_long"
                    self._discarding = True
                    self._buf.clear()
                return
            line = bytes(self._buf[:end]).removesuffix(b"\r")
            del self._buf[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            if not line:
                continue
            if len(line) > self.max_len:
                yield None, "too_long"
            elif not line.isascii():
                yield None, "not_ascii"
            else:
                yield line, None
