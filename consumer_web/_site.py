"""What the site serves from: its data (a replica, or anything shaped like one) and caches.

:class:`SiteData` is the shape the pages need: ``store`` (the verified copy
of the log), ``trust`` (its pinned trust root) and ``status()`` (how the
replica stands with its sources). :class:`consumer_web._replica.Replica`
is one; tests pass their own. Optional: ``witness_policy`` (a
:class:`~chain.witness_policy.WitnessPolicy`), or else ``witnesses`` (C2SP
verifier keys, taken as a policy with a quorum of 0: shown, not required),
and ``metrics_registry`` (a prometheus_client registry).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from flask import current_app

from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web._lifecycle import Lifecycle
from consumer_web._replica_state import ReplicaStatus
from consumer_web._site_metrics import SiteMetrics

__all__ = ["Memo", "Site", "SiteData", "current_site", "policy_of"]

_logger = logging.getLogger("consumer_web.site")
T = TypeVar("T")


class SiteData(Protocol):
    """A verified copy of one log, and how fresh it is."""

    @property
    def store(self) -> Store: ...

    @property
    def trust(self) -> TrustRoot: ...

    def status(self) -> ReplicaStatus:
        """The replica's state now (sources, as-of time, conflicts)."""
        ...


def policy_of(data: object) -> WitnessPolicy:
    """``data.witness_policy``, or its ``witnesses`` with a quorum of 0, or no witnesses.

    Raises:
        MalformedError: a key in ``witnesses`` is not a witness verifier key.
        TypeError: ``witness_policy`` is not a WitnessPolicy.
    """
    policy = getattr(data, "witness_policy", None)
    if policy is None:
        return WitnessPolicy(0, tuple(Witness(v) for v in getattr(data, "witnesses", ())))
    if not isinstance(policy, WitnessPolicy):
        raise TypeError(f"witness_policy: expected a WitnessPolicy, found {type(policy).__name__}")
    return policy


@dataclass(frozen=True, slots=True)
class LogView:
    """``data`` as a :class:`readapi.LogSource`, so that the site serves the read API too."""

    data: SiteData

    @property
    def origin(self) -> str:
        return self.data.trust.origin

    @property
    def verifier_key(self) -> str:
        return self.data.trust.log_key

    @property
    def witnesses(self) -> Sequence[str]:
        return policy_of(self.data).verifier_keys

    @property
    def admins(self) -> tuple[tuple[str, bytes], ...]:
        return self.data.trust.admins

    @property
    def store(self) -> Store:
        return self.data.store


class Memo:
    """A small thread-safe LRU of values computed once per key (rendered views, JSON bodies)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value for ``key``, made by ``make()`` on a miss."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return cast(T, self._values[key])
        value = make()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value


class Site:
    """One site: its ``data``, witness ``policy``, ``lifecycle`` query, ``metrics`` and ``memo``.

    With ``warm_every`` (seconds), a daemon thread loads the subjects with
    many readings into the lifecycle cache at once and then at that
    interval (after a big sync the cache starts afresh). ``owned`` is closed
    by :meth:`close` (the replica the app opened itself).

    Raises:
        MalformedError, TypeError: as :func:`policy_of`.
    """

    def __init__(
        self,
        data: SiteData,
        *,
        max_readings: int,
        warm_every: float | None = None,
        owned: Any = None,
    ) -> None:
        self.data = data
        self.policy = policy_of(data)
        self.lifecycle = Lifecycle(
            data.store, data.trust, self.policy.verifier_keys, max_readings=max_readings
        )
        self.metrics = SiteMetrics(self.lifecycle.cache)
        self.lifecycle.observe = self.metrics.story_seconds.observe
        self.memo = Memo(128)
        self._owned = owned
        self._stop = threading.Event()
        self._warmer: threading.Thread | None = None
        if warm_every is not None:
            self._warmer = threading.Thread(
                target=self._warm, args=(warm_every,), name="site-warm", daemon=True
            )
            self._warmer.start()

    def _warm(self, every: float) -> None:
        failed = False
        while not self._stop.is_set():
            try:
                self.lifecycle.warm(self._stop)
            except Exception:  # the store failing: keep serving, try again later
                if not failed:
                    _logger.exception("warming the lifecycle cache failed; retrying")
                failed = True
            self._stop.wait(every)

    def status(self) -> ReplicaStatus:
        """The replica status (see :class:`SiteData`)."""
        return self.data.status()

    def close(self) -> None:
        """Stop warming; stop and close the replica the app opened (not a ``SITE_DATA``)."""
        self._stop.set()
        if self._warmer is not None:
            self._warmer.join()
        if self._owned is not None:
            self._owned.close()


def current_site() -> Site:
    """The :class:`Site` of the app serving the current request."""
    site = current_app.extensions["farmtrace_site"]
    assert isinstance(site, Site)
    return site
