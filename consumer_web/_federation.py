"""One site, many logs: the logs a site follows, and cross-log references checked against them.

A federated site (``farmtrace site run --pins pins.json``) follows every log
of a pins file (:func:`readapi.crosslog.load_pins`), each with its own
verified replica, trust root and witness policy. :class:`Federation` holds
them and checks a reference one log's event makes to another's entry::

    federation = current_federation()          # None on a single-log site
    checked = federation.check(ref, Referrer.from_payload(payload))

:meth:`Federation.check` takes the evidence from the other log's local
replica (:func:`readapi.crosslog.local_evidence`), which verified everything
it holds against the same pins, and runs :func:`chain.crosslog.check_reference`.
It also asks how the other log's sources answer now: a source that
presents a cosigned checkpoint smaller than the reference's size, or a
history the replica refused as a fork, means the log no longer shows the tree
the reference saw, although the replica kept the longer copy
(``ref_rolled_back``).

The evidence check is cached per (reference, referrer, the other log's
replica head): a page view re-checks only what changed since the last one
(``site_crosslog_ref_cache_total{result="hit"|"miss"}``). The sources' answers
are looked at on every check (cheap), so a rollback shows at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app
from prometheus_client import CollectorRegistry, Counter

from chain import note
from chain.checkpoint import Checkpoint, verify_cosignatures
from chain.crosslog import CheckedReference, CrossLogReferenceError, LogReference, Referrer
from chain.crosslog import check_reference as check_with_evidence
from chain.errors import FarmtraceError, MalformedError, StorageError
from consumer_web._replica_state import Conflict, ReplicaStatus
from consumer_web._site import Site, SiteData
from readapi.crosslog import PinnedParty, Pins, local_evidence

__all__ = [
    "CHECK_CACHE_SIZE",
    "FEDERATION_EXTENSION",
    "Federation",
    "FederationMetrics",
    "FollowedLog",
    "current_federation",
    "rollback_seen",
]

FEDERATION_EXTENSION = "farmtrace_federation"
"""The key of the :class:`Federation` in each mounted app's ``extensions``."""

_ANSWERED = ("ok", "behind", "witness_quorum")

CHECK_CACHE_SIZE = 4096
"""Reference checks (and checkpoint cosigner sets) a federation remembers, the oldest dropped."""

_CheckKey = tuple[LogReference, Referrer, int, str]
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class FollowedLog:
    """One followed log: its ``party`` (from the pins), its verified copy ``data``, and the
    ``site`` (stories, caches) its mounted pages serve from."""

    party: PinnedParty
    data: SiteData
    site: Site


class FederationMetrics:
    """The federation's own metrics (the root ``/metrics``).

    ``site_crosslog_refs_total{log,result}``: references checked for pages, by
    the referenced log and ``verified`` or the failure reason;
    ``site_resolver_not_found_total{reason}``: resolver requests that found no log
    (``no_party``: no pinned GS1 prefix matches; ``bad_link``);
    ``site_crosslog_ref_cache_total{result}``: reference checks answered from the
    cache (``hit``) or worked out (``miss``).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.refs = Counter(
            "site_crosslog_refs",
            "Cross-log references checked for pages, by referenced log and result",
            ["log", "result"],
            registry=self.registry,
        )
        self.resolver_not_found = Counter(
            "site_resolver_not_found",
            "Resolver requests for which no followed log is known, by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("no_party", "bad_link"):
            self.resolver_not_found.labels(reason)
        self.ref_cache = Counter(
            "site_crosslog_ref_cache",
            "Cross-log reference checks answered from the cache (hit) or worked out (miss)",
            ["result"],
            registry=self.registry,
        )
        for result in ("hit", "miss"):
            self.ref_cache.labels(result)


class Federation:
    """The logs a site follows (``logs``, by origin) as ``pins`` pins them."""

    def __init__(
        self,
        pins: Pins,
        logs: Mapping[str, FollowedLog],
        metrics: FederationMetrics | None = None,
    ) -> None:
        self.pins = pins
        self.logs = dict(logs)
        self.metrics = metrics or FederationMetrics()
        self._lock = threading.Lock()
        self._checked: OrderedDict[_CheckKey, CheckedReference | FarmtraceError] = OrderedDict()
        self._cosigners: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    def followed(self, origin: str) -> FollowedLog | None:
        """The followed log of ``origin``, or None."""
        return self.logs.get(origin)

    def check(self, ref: LogReference, referrer: Referrer) -> CheckedReference:
        """Check ``ref`` (carried by ``referrer``) against the other log as this site follows it.

        Counted in ``site_crosslog_refs_total`` by its result.

        Raises:
            CrossLogReferenceError: the reference does not hold (any ``ref_*``
                reason of :func:`chain.crosslog.check_reference`); in particular
                ``ref_unknown_log`` for a log this site does not follow, and
                ``ref_rolled_back`` when a source of that log now presents a
                smaller cosigned checkpoint than ``ref.size`` or a forked history
                (see :func:`rollback_seen`).
            ReferenceUnavailableError: the local copy has not reached
                ``ref.size`` yet and no source says the log went back.
            StorageError: a replica's store failed.
        """
        try:
            checked = self._check(ref, referrer)
        except FarmtraceError as exc:
            self.metrics.refs.labels(ref.log, exc.reason).inc()
            raise
        self.metrics.refs.labels(ref.log, "verified").inc()
        return checked

    def _check(self, ref: LogReference, referrer: Referrer) -> CheckedReference:
        followed = self.logs.get(ref.log)
        if followed is None:
            raise CrossLogReferenceError(
                ref,
                "log not followed",
                reason="ref_unknown_log",
                expected="one of: " + (", ".join(sorted(self.logs)) or "none"),
                found=ref.log,
            )
        went_back = rollback_seen(ref, followed.data.status())
        if went_back is not None:
            raise went_back
        latest = followed.data.store.latest_checkpoint()
        key = (ref, referrer, *(latest or (0, "")))
        with self._lock:
            known = self._checked.get(key)
            if known is not None:
                self._checked.move_to_end(key)
        if known is not None:
            self.metrics.ref_cache.labels("hit").inc()
            if isinstance(known, FarmtraceError):
                raise known.with_traceback(None)
            return known
        self.metrics.ref_cache.labels("miss").inc()
        result: CheckedReference | FarmtraceError
        try:
            evidence = local_evidence(ref, followed.data.store)
            result = check_with_evidence(ref, evidence, self.pins.pinned(), referrer)
        except StorageError:
            raise
        except FarmtraceError as exc:
            result = exc
        _remember(self._lock, self._checked, key, result)
        if isinstance(result, FarmtraceError):
            raise result
        return result

    def cosigners(self, origin: str, signed: str) -> tuple[str, ...]:
        """The witnesses of ``origin``'s pinned policy that cosigned checkpoint note ``signed``
        (names, sorted; none for a log not followed or a note that does not parse)."""
        key = (origin, signed)
        with self._lock:
            known = self._cosigners.get(key)
        if known is not None:
            return known
        followed = self.logs.get(origin)
        names: tuple[str, ...] = ()
        if followed is not None:
            keys = [w.vkey for w in followed.party.pin.policy.witnesses]
            try:
                names = tuple(sorted(verify_cosignatures(signed, keys)))
            except FarmtraceError:
                names = ()
        _remember(self._lock, self._cosigners, key, names)
        return names


def _remember(lock: threading.Lock, cache: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    with lock:
        cache[key] = value
        while len(cache) > CHECK_CACHE_SIZE:
            cache.popitem(last=False)


def _note_size(signed: str) -> int | None:
    try:
        return Checkpoint.from_text(note.parse(signed).text).size
    except MalformedError:
        return None


def _rolled_back(ref: LogReference, source: str, found: str) -> CrossLogReferenceError:
    return CrossLogReferenceError(
        ref,
        f"{source} no longer shows the tree the reference saw",
        reason="ref_rolled_back",
        expected=f"a checkpoint of size >= {ref.size} consistent with it",
        found=found,
    )


def _latest_conflict(status: ReplicaStatus, url: str) -> Conflict | None:
    return next((c for c in reversed(status.conflicts) if c.source == url), None)


def rollback_seen(ref: LogReference, status: ReplicaStatus) -> CrossLogReferenceError | None:
    """The ``ref_rolled_back`` error that the other log's replica ``status`` shows, or None.

    A source presents now (its last answer): a signed checkpoint smaller than
    ``ref.size`` (``ok``, ``behind`` or ``witness_quorum`` at that size; or a
    refused ``rollback`` below it); or a ``fork`` of the replica's history (the
    log key signed two histories, so the tree the reference saw is no longer
    the one the log shows). Conflicts by impostors (``wrong_log``,
    ``bad_signature``) say nothing about the log and are ignored, as are
    sources that did not answer.
    """
    for source in status.sources:
        if source.last_result in _ANSWERED and source.tree_size is not None:
            if source.tree_size < ref.size:
                return _rolled_back(ref, source.url, f"size {source.tree_size}")
            continue
        if source.last_result != "conflict":
            continue
        conflict = _latest_conflict(status, source.url)
        if conflict is None:
            continue
        size = _note_size(conflict.theirs)
        if conflict.reason == "fork":
            return _rolled_back(ref, source.url, f"a forked history at size {size}")
        if conflict.reason == "rollback" and size is not None and size < ref.size:
            return _rolled_back(ref, source.url, f"size {size}, after size {status.tree_size}")
    return None


def current_federation() -> Federation | None:
    """The federation the current app belongs to, or None on a single-log site."""
    federation = current_app.extensions.get(FEDERATION_EXTENSION)
    return federation if isinstance(federation, Federation) else None
