"""Signature checks off the ingest thread: worker processes fed with batches of payloads.

The ingest thread (the sequencer) hands each batch of received payloads to a
worker process, which parses each one (:func:`chain.entries.parse_entry`)
and checks its signature (:func:`chain.entries.verify_entry`) under the keys
the registry holds for its signer (a snapshot the sequencer sends when
registrations change). The answer is, per payload, the key its signature
verified under, or None. The sequencer then admits the batch in arrival
order as before; :func:`gateway.admission.admit` skips its own signature
check only when the worker's key is the very key it authorises for that
entry. Everything else (no parse, unknown signer, a key registered or
rotated within the batch, a bad signature) is checked again on the ingest
thread, so every decision and its reason is exactly what inline checking
gives. Duplicates, equivocation, lifecycle rules and blocks stay with the
sequencer: workers decide nothing.

Each worker holds at most one batch, so sending never waits on a busy
worker and a batch is verified while the sequencer handles the one before.
A worker that dies (its pipe closes) is replaced and its batch sent to the
new one; a batch that was in flight in :data:`MAX_ATTEMPTS` deaths is
answered with no keys (checked on the ingest thread). With ``workers`` 0
every batch is answered at once with no keys: inline checking.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from chain.entries import parse_entry, verify_entry
from chain.registry import Registry

__all__ = ["MAX_ATTEMPTS", "Keys", "VerifierPool", "default_workers", "keys_of"]

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
"""Worker deaths with a batch in flight after which it is checked on the ingest thread."""

Keys = Mapping[str, tuple[bytes, ...]]
"""Signer id → every public key the registry ever granted it."""

Hints = list[bytes | None]
"""Per payload of a batch: the key its signature verified under, or None."""


def default_workers() -> int:
    """One worker per core beyond the ingest thread's (0 on a single core)."""
    return max(0, (os.cpu_count() or 1) - 1)


def keys_of(registry: Registry) -> dict[str, tuple[bytes, ...]]:
    """The key snapshot workers verify with (revocations carry no key)."""
    keys: dict[str, tuple[bytes, ...]] = {}
    for grant in registry.grants():
        if grant.public_key is not None:
            keys[grant.signer] = (*keys.get(grant.signer, ()), grant.public_key)
    return keys


def verify_batch(payloads: Sequence[bytes], keys: Keys, max_bytes: int) -> Hints:
    """Per payload, the key among its signer's ``keys`` its signature verifies under, or None.

    Never raises for bad input: a payload that is too big, does not parse or
    verifies under none of the keys gets None.
    """
    hints: Hints = []
    for raw in payloads:
        hint = None
        if len(raw) <= max_bytes:
            try:
                entry = parse_entry(raw)
                for key in keys.get(entry.kid, ()):
                    try:
                        verify_entry(entry, key)
                    except Exception:  # any failure: the sequencer checks it again
                        continue
                    hint = key
                    break
            except Exception:  # not an entry (a status, garbage): no hint
                hint = None
        hints.append(hint)
    return hints


def _serve(conn: Connection, max_bytes: int) -> None:  # pragma: no cover - runs in the worker
    """The worker's loop: ``("keys", Keys)`` replaces the snapshot, ``("batch", n, payloads)``
    is answered with ``(n, hints)``. Ends when the sequencer's end of the pipe closes."""
    keys: Keys = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "keys":
            keys = message[1]
            continue
        hints = verify_batch(message[2], keys, max_bytes)
        try:
            conn.send((message[1], hints))
        except OSError:  # the sequencer is gone (e.g. killed) while this batch was checked
            return


@dataclass(slots=True)
class _Batch:
    ticket: int
    payloads: list[bytes]
    attempts: int = 0
    hints: Hints | None = None


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    batch: _Batch | None = None
    keys_sent: int = -1


@dataclass(slots=True)
class _State:
    batches: deque[_Batch] = field(default_factory=deque)
    keys: Keys = field(default_factory=dict)
    keys_version: int = 0
    next_ticket: int = 0


class VerifierPool:
    """Worker processes that pre-check signatures, answered in submission order.

    Use: :meth:`set_keys`, then :meth:`submit` while :meth:`has_room`;
    wait on :meth:`waitables` (e.g. in ``select``), call :meth:`poll`, then
    take answers with :meth:`ready`. :meth:`close` ends the workers. Not
    thread-safe (the ingest thread owns it).
    """

    def __init__(self, workers: int, max_entry_bytes: int) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0")
        self.size = workers
        self.max_entry_bytes = max_entry_bytes
        self.restarts = 0
        """Workers replaced after they died."""
        self._ctx = multiprocessing.get_context("forkserver")
        self._workers: list[_Worker] = [self._start() for _ in range(workers)]
        self._state = _State()

    def _start(self) -> _Worker:
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_serve, args=(theirs, self.max_entry_bytes), name="verify", daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    @property
    def pids(self) -> list[int | None]:
        """The workers' process ids (tests kill them)."""
        return [w.process.pid for w in self._workers]

    @property
    def in_flight(self) -> int:
        """Batches submitted and not yet taken with :meth:`ready` (at most ``size``; inline 1)."""
        return len(self._state.batches)

    def set_keys(self, keys: Keys) -> None:
        """Replace the key snapshot; workers get it before their next batch."""
        self._state.keys = keys
        self._state.keys_version += 1

    def has_room(self) -> bool:
        """Whether a worker is free (inline: whether nothing is waiting to be taken)."""
        if not self._workers:
            return not self._state.batches
        return any(w.batch is None for w in self._workers)

    def submit(self, payloads: list[bytes]) -> int:
        """Hand ``payloads`` to a free worker; return the batch's ticket.

        Precondition: :meth:`has_room`.
        """
        state = self._state
        batch = _Batch(state.next_ticket, payloads)
        state.next_ticket += 1
        state.batches.append(batch)
        if not self._workers:
            batch.hints = [None] * len(payloads)
        else:
            self._send(next(w for w in self._workers if w.batch is None), batch)
        return batch.ticket

    def _send(self, worker: _Worker, batch: _Batch) -> None:
        worker.batch = batch
        try:
            if worker.keys_sent != self._state.keys_version:
                worker.conn.send(("keys", self._state.keys))
                worker.keys_sent = self._state.keys_version
            worker.conn.send(("batch", batch.ticket, batch.payloads))
        except OSError:  # it died: poll() finds the closed pipe and replaces it
            pass

    def waitables(self) -> list[int]:
        """File descriptors that become readable when :meth:`poll` has something to do."""
        return [w.conn.fileno() for w in self._workers if w.batch is not None]

    def poll(self) -> None:
        """Collect the answers that arrived; replace dead workers and resend their batch."""
        for i, worker in enumerate(self._workers):
            if worker.batch is None:
                continue
            try:
                while worker.batch is not None and worker.conn.poll(0):
                    ticket, hints = worker.conn.recv()
                    if ticket == worker.batch.ticket:
                        worker.batch.hints = hints
                        worker.batch = None
                alive = worker.batch is None or worker.process.is_alive()
            except (EOFError, OSError):
                alive = False
            if not alive:
                self._replace(i)

    def _replace(self, i: int) -> None:
        dead = self._workers[i]
        dead.conn.close()
        dead.process.join(5)
        self.restarts += 1
        batch = dead.batch
        _logger.error(
            "signature worker %s died (exit code %s); starting another",
            dead.process.pid,
            dead.process.exitcode,
        )
        worker = self._workers[i] = self._start()
        if batch is None:
            return
        batch.attempts += 1
        if batch.attempts >= MAX_ATTEMPTS:  # it may be what kills them: check it inline
            batch.hints = [None] * len(batch.payloads)
        else:
            self._send(worker, batch)

    def ready(self) -> list[tuple[int, Hints]]:
        """Answered batches at the head of the queue, in submission order, as (ticket, hints)."""
        out: list[tuple[int, Hints]] = []
        batches = self._state.batches
        while batches and batches[0].hints is not None:
            batch = batches.popleft()
            assert batch.hints is not None
            out.append((batch.ticket, batch.hints))
        return out

    def abandon(self) -> list[tuple[int, Hints]]:
        """Every batch not yet taken, answered with no keys (they will be checked inline).

        The workers' late answers to them are ignored.
        """
        out: list[tuple[int, Hints]] = []
        for batch in self._state.batches:
            out.append((batch.ticket, batch.hints or [None] * len(batch.payloads)))
        self._state.batches.clear()
        for worker in self._workers:
            worker.batch = None
        return out

    def close(self) -> None:
        """End the workers (closing their pipes ends their loop) and wait for them briefly."""
        for worker in self._workers:
            worker.conn.close()
        for worker in self._workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(2)
            worker.process.close()
        self._workers = []
