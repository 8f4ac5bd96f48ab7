"""Throttling of failed log-ins: per user name, per client address, and per pair of both.

Three counts of failures within a sliding window, each with its own limit:

- one user name from one address (someone mistyping, or guessing one account);
- one user name from any address (one account guessed from many addresses);
- any user name from one address (one password sprayed over many names).

A log-in is refused while any of its three counts is at its limit; only the
pair's count is forgotten after a successful log-in, so that knowing one
password does not reset a spray. Memory is bounded: at most ``max_keys``
counts are kept (the least recently failed go first), each holding at most
its limit of times.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Hold", "LoginThrottle", "ThrottleLimits"]

_Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """Failures allowed within ``window`` seconds: per pair, per user name, per address.

    Raises:
        ValueError: a limit below 1, or a window that is not positive.
    """

    pair: int
    user: int
    address: int
    window: float

    def __post_init__(self) -> None:
        if min(self.pair, self.user, self.address) < 1:
            raise ValueError("log-in limits: expected at least 1 failure each")
        if not self.window > 0:
            raise ValueError(f"log-in window: expected a positive number, found {self.window}")


@dataclass(frozen=True, slots=True)
class Hold:
    """A refused log-in: ``seconds`` until it may be tried again, and which count is full."""

    seconds: float
    scope: str


class LoginThrottle:
    """Failed log-ins per pair, user name and address (see the module docstring); thread-safe."""

    def __init__(
        self,
        limits: ThrottleLimits,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limits, self._clock, self._max_keys = limits, clock, max_keys
        self._failures: OrderedDict[_Key, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _scopes(self, user: str, address: str) -> tuple[tuple[_Key, int], ...]:
        limits = self.limits
        return (
            (("pair", user, address), limits.pair),
            (("user", user), limits.user),
            (("address", address), limits.address),
        )

    def _recent(self, key: _Key, limit: int, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque(maxlen=limit)
        while times and times[0] <= now - self.limits.window:
            times.popleft()
        return times

    def wait(self, user: str, address: str) -> Hold | None:
        """None if ``user`` may try to log in from ``address`` now, else how long to wait."""
        with self._lock:
            now = self._clock()
            hold: Hold | None = None
            for key, limit in self._scopes(user, address):
                times = self._recent(key, limit, now)
                if len(times) >= limit:
                    seconds = times[-limit] + self.limits.window - now
                    if hold is None or seconds > hold.seconds:
                        hold = Hold(seconds, key[0])
            return hold

    def failed(self, user: str, address: str) -> None:
        """Count a failed log-in of ``user`` from ``address``."""
        with self._lock:
            now = self._clock()
            for key, limit in self._scopes(user, address):
                times = self._recent(key, limit, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        """Forget the failures of ``user`` from ``address`` (not those of the name or address)."""
        with self._lock:
            self._failures.pop(("pair", user, address), None)

    def size(self) -> int:
        """How many counts are kept (at most ``max_keys``)."""
        with self._lock:
            return len(self._failures)
