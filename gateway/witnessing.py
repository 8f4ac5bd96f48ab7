"""Witnesses for the gateway's log: push checkpoints, collect cosignatures, publish.

A witness (c2sp.org/tlog-witness) cosigns a checkpoint only if it is
consistent with every checkpoint of the log it cosigned before; a verifier
who trusts k of n witnesses (:class:`~chain.witness_policy.WitnessPolicy`)
knows that the log showed them all the same append-only history. The
:class:`WitnessPusher` runs in the background of the gateway::

    ingest stores a checkpoint → notify() → one thread per witness pushes the
      NEWEST stored checkpoint (intermediate ones are skipped) → 200: its
      verified cosignature → the merge thread adds the line to the stored note
      → once quorum witnesses cosigned it, it is the published checkpoint

It never blocks ingest and never holds the store's lock while on the network.
A witness that is down is retried with exponential backoff and jitter; a
witness that refuses this log's history (it saw a bigger tree, another root,
or an inconsistent one: the data directory was rolled back or forked) is
logged as an ERROR, counted in ``farmtrace_witness_refusals_total`` and
retried slowly. Ingest goes on in every case.

:meth:`WitnessPusher.published_checkpoint` is what ``/checkpoint`` serves: the
newest checkpoint carrying cosignatures of ``quorum`` configured witnesses.
Until the witnesses first caught up with the log's newest checkpoint (a new
log, witnesses down since the start), it is the newest signed checkpoint, so
that the served checkpoint never steps back. With a ceiling (a gateway whose
submissions wait for a mirror) the witnesses are always behind the newest
one, so the first checkpoint with a quorum is published at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from chain.errors import FarmtraceError
from chain.store import Store
from chain.tlog_witness import merge_cosignatures
from chain.witness_policy import Witness, WitnessPolicy
from gateway._witness_config import (
    add_witness,
    load_witness_policy,
    remove_witness,
    save_witness_policy,
    set_quorum,
)
from gateway._witness_http import HttpTransport, WitnessTransport
from gateway._witness_session import OUTCOMES, REFUSALS, Attempt, WitnessSession
from gateway._witness_worker import WitnessingConfig, WitnessWorker
from gateway.metrics import GatewayMetrics

__all__ = [
    "REFUSALS",
    "WitnessPusher",
    "WitnessingConfig",
    "add_witness",
    "load_witness_policy",
    "remove_witness",
    "save_witness_policy",
    "set_quorum",
]

_logger = logging.getLogger(__name__)

TransportFactory = Callable[[Witness, float], WitnessTransport]


def _http_transport(witness: Witness, timeout: float) -> WitnessTransport:
    assert witness.url is not None
    return HttpTransport(witness.url, timeout)


class WitnessPusher:
    """Pushes ``store``'s checkpoints to the witnesses of ``policy``; see the module docstring.

    Every witness must have a url. ``transport`` makes a witness's connection
    (default: HTTP keep-alive). ``ceiling`` (None: none) returns the biggest
    size that may be pushed (:class:`~gateway.mirror_gate.MirrorGate`'s
    ``held_size``). Use :meth:`start`, :meth:`notify` after each stored
    checkpoint (and when the ceiling rises), and :meth:`stop` before closing the store.

    Raises (constructor):
        ValueError: a witness has no url.
        StorageError: the store failed while looking for the published checkpoint.
    """

    def __init__(
        self,
        store: Store,
        policy: WitnessPolicy,
        metrics: GatewayMetrics,
        config: WitnessingConfig | None = None,
        transport: TransportFactory = _http_transport,
        ceiling: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.config = config or WitnessingConfig()
        for witness in policy.witnesses:
            if witness.url is None:
                raise ValueError(f"witness {witness.name} has no url to push checkpoints to")
        self._ceiling = ceiling
        self._stop = threading.Event()
        self._merges: queue.Queue[tuple[WitnessWorker, Attempt] | None] = queue.Queue()
        self._workers = [
            WitnessWorker(
                WitnessSession(w, transport(w, self.config.timeout_s), store),
                store,
                self.config,
                metrics,
                self._stop,
                lambda worker, attempt: self._merges.put((worker, attempt)),
                ceiling,
            )
            for w in policy.witnesses
        ]
        self._merger = threading.Thread(target=self._run_merges, name="witness-merge", daemon=True)
        self._published_lock = threading.Lock()
        self._published: int | None = self._find_published()
        metrics.witness_quorum.set(policy.quorum)
        for worker in self._workers:
            metrics.prepare_witness(worker.session.name, OUTCOMES, REFUSALS)

    # -- the published checkpoint --------------------------------------------

    def _has_quorum(self, signed_note: str) -> bool:
        try:
            return len(self.policy.cosigners(signed_note)) >= self.policy.quorum
        except FarmtraceError as exc:
            _logger.error("stored checkpoint has a bad witness cosignature: %s", exc)
            return False

    def _find_published(self) -> int | None:
        """The newest stored checkpoint with a quorum, at most ``scan_limit`` back."""
        latest = self.store.latest_checkpoint()
        if latest is None or self.policy.quorum == 0:
            return None
        for size in range(latest[0], max(0, latest[0] - self.config.scan_limit), -1):
            try:
                signed_note = latest[1] if size == latest[0] else self.store.checkpoint(size)
            except KeyError:
                continue
            if self._has_quorum(signed_note):
                _logger.info(
                    "publishing the checkpoint of size %d (%s)", size, self.policy.describe()
                )
                return size
        return None

    @property
    def published_size(self) -> int | None:
        """The size of the checkpoint with a quorum being published; None while falling back."""
        with self._published_lock:
            return self._published

    def published_checkpoint(self) -> tuple[int, str] | None:
        """``(size, signed note)`` of the checkpoint to serve (see the module docstring)."""
        size = self.published_size
        if size is None or self.policy.quorum == 0:
            return self.store.latest_checkpoint()
        return size, self.store.checkpoint(size)

    def _consider(self, size: int, signed_note: str) -> None:
        if self.policy.quorum == 0 or not self._has_quorum(signed_note):
            return
        with self._published_lock:
            if self._published is None and self._ceiling is None:
                latest = self.store.latest_checkpoint()
                if latest is not None and latest[0] > size:
                    return  # keep serving the newest signed one until witnesses catch up
            elif self._published is not None and self._published >= size:
                return
            self._published = size

    # -- threads ---------------------------------------------------------------

    def start(self) -> None:
        """Start one thread per witness and the merge thread."""
        self._merger.start()
        for worker in self._workers:
            worker.thread.start()

    def notify(self) -> None:
        """Tell every witness thread that a new checkpoint is stored (cheap; any thread)."""
        for worker in self._workers:
            worker.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pushing (interrupting requests in flight), store the cosignatures received."""
        self._stop.set()
        for worker in self._workers:
            worker.wake.set()
            worker.session.transport.close()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            if worker.thread.is_alive():
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        if self._merger.is_alive():
            self._merges.put(None)
            self._merger.join(max(0.0, deadline - time.monotonic()))

    def _run_merges(self) -> None:
        """Read, merge, write: the only thread that adds cosignatures, so no line is lost."""
        while True:
            item = self._merges.get()
            batch = [item]
            while not self._merges.empty():
                batch.append(self._merges.get())
            done = None in batch
            by_size: dict[int, list[tuple[WitnessWorker, Attempt]]] = {}
            for entry in batch:
                if entry is not None:
                    by_size.setdefault(entry[1].size, []).append(entry)
            for size, entries in sorted(by_size.items()):
                try:
                    self._merge(size, entries)
                except Exception:  # a store failure: keep the thread, log loudly
                    _logger.exception("storing cosignatures on checkpoint %d failed", size)
            if done:
                return

    def _merge(self, size: int, entries: list[tuple[WitnessWorker, Attempt]]) -> None:
        stored = self.store.checkpoint(size)
        merged = stored
        for worker, attempt in entries:
            merged, _ = merge_cosignatures(
                merged, attempt.cosignatures, [worker.session.witness.vkey]
            )
        if merged != stored:
            self.store.put_checkpoint(size, merged)
        now = time.time()
        for worker, _ in entries:
            name = worker.session.name
            self.metrics.witness_cosigned_size.labels(name).set(size)
            self.metrics.witness_last_cosigned.labels(name).set(now)
        self._consider(size, merged)
