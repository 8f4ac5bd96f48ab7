"""The site's verified replica of the farm's log, pulled from gateways' read APIs.

A :class:`Replica` owns ``<site>/replica/`` (a :class:`~chain.store.Store`)
and ``<site>/replica-state.json``. Each sync round asks every source in turn
for its checkpoint and, through :class:`~chain.follow.Follower`, stores only
what verifies against the pinned trust root: the log key's signature, a
consistency proof from our own root, and each missing block (in order, with
its inclusion proof at the new size, its link, entries root, and every
entry's signature and authority); then the checkpoint note exactly as
received. A checkpoint beyond ours is taken only once the site's
:class:`~chain.witness_policy.WitnessPolicy` holds (``quorum`` of its
witnesses cosigned it); until then the source is "waiting for witnesses"
(:attr:`ReplicaStatus.waiting_for_witnesses`), which is not a conflict: the
replica keeps its older checkpoint. A source that is down is noted and the
replica keeps serving what it has, "as of" the last time a source confirmed
its head. A source presenting another history is refused: ours is kept and a
:class:`Conflict` with both checkpoints is recorded, persisted and counted.

With ``stage_uncosigned``, each round also copies a gateway's blocks beyond
its cosigned checkpoint (:mod:`consumer_web._replica_stage`), so that a
gateway that waits for this mirror before showing blocks to the witnesses
(``farmtrace gateway run --mirror``) can go on; the head stays the cosigned
checkpoint.

The replica is also a :class:`readapi.LogSource`, so that the site serves its
copy with ``readapi.create_read_api(replica)``::

    replica = Replica(site_dir, ["http://gateway:8080"], trust=trust)
    replica.start(interval_s=30)   # background sync; or call sync_once()
    ...
    replica.close()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from chain import note
from chain.errors import (
    FarmtraceError,
    MalformedError,
    RollbackError,
    SourceError,
    StorageError,
)
from chain.follow import Follower
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web._replica_metrics import ReplicaMetrics
from consumer_web._replica_pull import Behind, Refused, Waiting, pull
from consumer_web._replica_stage import stage_ahead
from consumer_web._replica_state import (
    MAX_CONFLICTS,
    Conflict,
    ReplicaStatus,
    SourceStatus,
    WitnessWait,
    load_state,
    save_state,
)
from readapi.client import ReadApiClient, Transport
from readapi.tile_client import open_client

__all__ = ["Replica"]

_logger = logging.getLogger("consumer_web.replica")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Replica:
    """A verified copy of the log of ``trust``, kept in ``site_dir``, pulled from ``sources``.

    ``sources`` are read API base URLs, tried in order on every round; a
    ``tiles+https://...`` URL names a C2SP tlog-tiles prefix
    (:func:`readapi.tile_client.open_client`).
    ``transport`` replaces HTTP (see :class:`readapi.Transport`); ``clock_ms``
    gives the time in Unix milliseconds; ``timeout`` bounds each request.
    ``witness_policy`` is the k-of-n policy a new checkpoint must meet; its
    witnesses' verifier keys are also announced in the site's own read API.
    ``witnesses`` (verifier keys) is the older form: those witnesses with a
    quorum of 0 (announced, not required); give one or the other.
    ``stage_uncosigned``: see the module docstring.

    The stable surface (the site's ``create_app`` relies on it): this
    constructor; ``store`` (the open :class:`~chain.store.Store`, for
    reading only), ``trust``, ``sources``, ``metrics_registry`` (a
    prometheus_client ``CollectorRegistry`` with the names of
    :mod:`consumer_web._replica_metrics`); :meth:`status`, :meth:`sync_once`,
    :meth:`start`, :meth:`close`; and the :class:`readapi.LogSource`
    properties ``origin``, ``verifier_key``, ``witnesses`` and ``admins``;
    and ``witness_policy``.

    Raises:
        ValueError: both ``witnesses`` and ``witness_policy`` are given.
        MalformedError: a key in ``witnesses`` is not a witness verifier key.
        StorageError: the store holds another log or is locked by another
            process, or the state file is damaged.
    """

    def __init__(
        self,
        site_dir: Path,
        sources: Sequence[str],
        *,
        trust: TrustRoot,
        transport: Transport | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        timeout: float = 10.0,
        witnesses: Sequence[str] = (),
        witness_policy: WitnessPolicy | None = None,
        stage_uncosigned: bool = False,
    ) -> None:
        if witness_policy is not None and witnesses:
            raise ValueError("give the witnesses once: witnesses or witness_policy, not both")
        if witness_policy is None:
            witness_policy = WitnessPolicy(0, tuple(Witness(vkey) for vkey in witnesses))
        self.site_dir = Path(site_dir)
        self.trust = trust
        self.sources: tuple[str, ...] = tuple(dict.fromkeys(sources))
        self.witness_policy = witness_policy
        self._stage = stage_uncosigned
        self._waits: dict[str, WitnessWait] = {}
        self._clock = clock_ms
        self._clients = {
            url: open_client(url, transport=transport, timeout=timeout) for url in self.sources
        }
        self.site_dir.mkdir(parents=True, exist_ok=True)
        self._state_path = self.site_dir / "replica-state.json"
        self._state = load_state(self._state_path)
        known = (
            self._state.sources
        )  # a source no longer configured is forgotten (not its conflicts)
        self._state.sources = {url: known.get(url, SourceStatus(url)) for url in self.sources}
        self.store = Store.open(self.site_dir / "replica", origin=trust.origin)
        cores = os.cpu_count() or 1
        self._verifiers = (
            ThreadPoolExecutor(min(cores, 4), thread_name_prefix="replica-verify")
            if cores > 1
            else None
        )
        try:
            self._follower = Follower(self.store, trust, executor=self._verifiers)
        except BaseException:
            self.store.close()
            raise
        self._head = self.store.latest_checkpoint()
        self._metrics = ReplicaMetrics(self.sources)
        self.metrics_registry = self._metrics.registry
        for conflict in self._state.conflicts:
            self._metrics.conflicts.labels(conflict.source).inc()
        if self._state.as_of_ms is not None:
            self._metrics.as_of.set(self._state.as_of_ms / 1000)
        self._update_size_gauges()
        self._sync_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._logged: set[tuple[str, str]] = set()

    # -- readapi.LogSource -----------------------------------------------------

    @property
    def origin(self) -> str:
        """The log's origin (from the trust root)."""
        return self.trust.origin

    @property
    def verifier_key(self) -> str:
        """The log's checkpoint verifier key (from the trust root)."""
        return self.trust.log_key

    @property
    def witnesses(self) -> Sequence[str]:
        """The verifier keys of the witness policy's witnesses."""
        return self.witness_policy.verifier_keys

    @property
    def admins(self) -> tuple[tuple[str, bytes], ...]:
        """The genesis administrators (from the trust root), listed by ``/api/v1/log``."""
        return self.trust.admins

    # -- status ----------------------------------------------------------------

    def status(self) -> ReplicaStatus:
        """A consistent snapshot of the replica's state (safe from any thread, even after close)."""
        with self._state_lock:
            head = self._head
            size = 0 if head is None else head[0]
            return ReplicaStatus(
                tree_size=size,
                checkpoint_note=None if head is None else head[1],
                as_of_ms=self._state.as_of_ms,
                sources=tuple(self._state.sources[url] for url in self.sources),
                conflicts=tuple(self._state.conflicts),
                waiting_for_witnesses=self._waiting(size),
            )

    def _waiting(self, size: int) -> WitnessWait | None:
        """The biggest checkpoint beyond ``size`` offered without a quorum (state lock held)."""
        waits = [w for w in self._waits.values() if w.size > size]
        return max(waits, key=lambda w: (w.size, -w.since_ms), default=None)

    # -- syncing ---------------------------------------------------------------

    def sync_once(self) -> ReplicaStatus:
        """Pull from every source in order; return the status afterwards.

        Never raises for a bad or absent source (each outcome is recorded in
        its :class:`SourceStatus` and counted). Safe to call from any thread;
        rounds do not overlap.

        Raises:
            StorageError: our own store or state file failed.
        """
        with self._sync_lock:
            if self._closed:
                raise StorageError("the replica is closed")
            for url in self.sources:
                if self._stop.is_set():
                    break
                self._sync_source(url)
            now = self._clock()
            self._metrics.last_sync.set(now / 1000)
            with self._state_lock:
                save_state(self._state_path, self._state)
        return self.status()

    def _sync_source(self, url: str) -> None:
        started = self._clock()
        error: str | None = None
        their_size: int | None = None
        try:
            checkpoint = pull(
                self._clients[url],
                self._follower,
                policy=self.witness_policy,
                stopped=self._stop.is_set,
                on_block=self._block_stored,
            )
            with self._state_lock:
                self._head = self.store.latest_checkpoint()
            self._update_size_gauges()
            if checkpoint is None:
                return  # interrupted by close()
            result, their_size = "ok", checkpoint.size
        except Behind as exc:
            result, their_size = "behind", exc.size
            served = self._state.sources[url].tree_size
            if served is not None and exc.size < served:
                # A mirror may lag, but no source may shrink what it served us before.
                went_back = RollbackError(
                    f"{url} served a checkpoint of {served} blocks before, and now one of "
                    f"{exc.size}: it went back in time"
                )
                result, error = "conflict", f"rollback: {went_back}"
                self._record_conflict(url, Refused("rollback", exc.theirs, went_back))
        except Waiting as exc:
            result, their_size = "witness_quorum", exc.size
            self._note_wait(url, exc, started)
        except Refused as exc:
            result, error = "conflict", f"{exc.reason}: {exc}"
            self._record_conflict(url, exc)
        except SourceError as exc:
            result = "unreachable" if exc.reason == "unreachable" else "error"
            error = str(exc)
        except StorageError:
            raise
        except FarmtraceError as exc:  # verification failed, or a malformed note or block
            result, error = "invalid", f"{exc.reason}: {exc}"
        if self._stage and result in ("ok", "behind", "witness_quorum"):
            self._stage_from(url)
        now = self._clock()
        self._metrics.sync.labels(url, result).inc()
        with self._state_lock:
            if result != "witness_quorum":
                self._waits.pop(url, None)
            head_size = 0 if self._head is None else self._head[0]
            self._metrics.waiting.set(int(self._waiting(head_size) is not None))
            old = self._state.sources[url]
            if error is None:
                self._state.sources[url] = SourceStatus(
                    url, result, started, now, old.last_error, old.last_error_ms, their_size
                )
                if result == "ok":
                    self._state.as_of_ms = now
            else:
                self._state.sources[url] = SourceStatus(
                    url, result, started, old.last_success_ms, error, now, old.tree_size
                )
        if result == "ok":
            self._metrics.as_of.set(now / 1000)
        self._log_outcome(url, result, error)

    def _stage_from(self, url: str) -> None:
        """Copy ``url``'s blocks beyond the cosigned checkpoint; log a failure once."""
        client = self._clients[url]
        if not isinstance(client, ReadApiClient):
            return
        try:
            stage_ahead(
                client, self._follower, stopped=self._stop.is_set, on_block=self._block_stored
            )
        except StorageError:
            raise
        except FarmtraceError as exc:
            kind = (url, "stage")
            if kind not in self._logged:
                self._logged.add(kind)
                _logger.warning(
                    "source %s: copying blocks ahead failed: %s (logged once)", url, exc
                )
            return
        self._logged.discard((url, "stage"))

    def _note_wait(self, url: str, waiting: Waiting, now: int) -> None:
        with self._state_lock:
            old = self._waits.get(url)
            since = old.since_ms if old is not None and old.size == waiting.size else now
            self._waits[url] = WitnessWait(
                url, waiting.size, waiting.required, waiting.cosigners, since
            )
        if old is None or old.size != waiting.size:
            _logger.info("source %s: %s; keeping the checkpoint we have", url, waiting)

    def _block_stored(self) -> None:
        self._metrics.blocks_fetched.inc()
        self._metrics.entries.set(self.store.entry_count)

    def _record_conflict(self, url: str, refused: Refused) -> None:
        theirs_text = _note_text(refused.theirs)
        with self._state_lock:
            conflicts = self._state.conflicts
            for seen in conflicts:
                if (seen.source, seen.reason, _note_text(seen.theirs)) == (
                    url,
                    refused.reason,
                    theirs_text,
                ):
                    return
            ours = None if self._head is None else self._head[1]
            conflict = Conflict(
                url, ours, refused.theirs, refused.reason, str(refused), self._clock()
            )
            conflicts.append(conflict)
            if len(conflicts) > MAX_CONFLICTS:
                dropped = conflicts.pop(0)
                _logger.warning("conflict list full: dropped the oldest, from %s", dropped.source)
            save_state(self._state_path, self._state)
        self._metrics.conflicts.labels(url).inc()
        _logger.warning("refused source %s (%s): %s", url, refused.reason, refused)

    def _log_outcome(self, url: str, result: str, error: str | None) -> None:
        if error is None:
            if any(source == url for source, _ in self._logged):
                _logger.info("source %s is back (%s)", url, result)
                self._logged = {k for k in self._logged if k[0] != url}
            return
        kind = (url, result)
        if kind not in self._logged and result != "conflict":  # conflicts log on their own
            self._logged.add(kind)
            _logger.warning("source %s: %s (logged once until it recovers)", url, error)

    def _update_size_gauges(self) -> None:
        self._metrics.tree_size.set(0 if self._head is None else self._head[0])
        self._metrics.entries.set(self.store.entry_count)

    # -- background ------------------------------------------------------------

    def start(self, interval_s: float) -> None:
        """Sync now, then every ``interval_s`` seconds, in a daemon thread until :meth:`close`."""
        if self._thread is not None:
            raise RuntimeError("the replica's sync thread is already running")
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="replica-sync", daemon=True
        )
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        failures: set[str] = set()
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception as exc:  # our own store failing: keep serving, retry
                if type(exc).__name__ not in failures:
                    failures.add(type(exc).__name__)
                    _logger.exception("sync round failed; retrying every %s s", interval_s)
            self._stop.wait(interval_s)

    def close(self) -> None:
        """Stop the sync thread (interrupting a long sync between blocks) and close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._sync_lock:
            if not self._closed:
                self._closed = True
                self.store.close()
                if self._verifiers is not None:
                    self._verifiers.shutdown()

    def __enter__(self) -> Replica:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _note_text(signed: str) -> str:
    try:
        return note.parse(signed).text
    except MalformedError:
        return signed
