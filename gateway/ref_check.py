"""The write-time check of cross-log references (docs/supply-chain.md section 3, "At write time").

Before the gateway accepts an ``event`` that carries ``refs``, :meth:`RefCheck.check`
checks each reference against the other log as the gateway's pins file pins
it (``farmtrace gateway run --pins``), never as the event or its signer says:

1. :func:`readapi.crosslog.check_at_sources`: the entry's proof at the other
   log's current cosigned checkpoint, from its sources in turn, plus the
   consistency proof from the reference's size (a log that rolled back or
   forked since the reference was made fails here);
2. the cosigned checkpoint note of exactly the reference's size (the one
   step 1 proved the entry under when the other log has not grown since,
   else fetched from the same sources and checked the same way: signed by
   the pinned key, cosigned by the pinned quorum, root equal to the
   reference's ``root``) is kept in the store (:meth:`chain.store.Store.put_ref_checkpoint`,
   served at ``/api/v1/refs/<sha256(origin) hex>/checkpoints/<size>``) before
   the event is accepted. If the other log later shows another tree, that
   note and its successor are evidence of the fork that anyone can check;
   if no such note existed, the referencing log could not have kept one.

A reference that does not hold rejects the event with the error's reason
(``ref_*``, or ``ref_unavailable`` when no source of the other log answered:
the operator sends it again later). Without pins, every reference is
``ref_unknown_log``.

This is network I/O on the ingest thread, which is acceptable because
events with references are rare operator events (a slaughter, a receipt of
goods), each already waiting on a person; while one is checked, device
messages wait unacknowledged at the broker (within its Receive Maximum),
nothing is lost. It is bounded: all of one event's references share one
budget (``timeout``, default 5 s): every request to the other logs is given
at most what is left of it (as the socket timeout), none starts once it is
spent, and a spent budget is ``ref_unavailable``. A reference that
held is remembered (the last :data:`CACHE_SIZE`), so an event sent again
after a later rejection does not fetch again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from chain.crosslog import (
    CrossLogReferenceError,
    LogReference,
    ReferenceEvidence,
    Referrer,
    check_reference,
    refs_in,
)
from chain.entries import Entry
from chain.errors import SourceError
from chain.store import Store
from readapi.client import ReadApiClient, Transport, urllib_transport
from readapi.crosslog import Pins, ReferenceUnavailableError, check_at_sources

__all__ = ["CACHE_SIZE", "DEFAULT_TIMEOUT_S", "RefCheck"]

CACHE_SIZE = 1024
"""How many references that held (with their referring events) are remembered."""

DEFAULT_TIMEOUT_S = 5.0
"""The network budget of one event's references, all of them together."""


class RefCheck:
    """Checks the references of the events a gateway is offered; see the module docstring.

    ``pins``: the other logs this gateway follows (None: none, every
    reference is refused ``ref_unknown_log``). ``store``: where the checked
    notes are kept. ``transport`` and ``clock`` (monotonic seconds) are for tests.
    Used by the one ingest thread only.
    """

    def __init__(
        self,
        pins: Pins | None,
        store: Store,
        *,
        transport: Transport | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout: expected > 0 s, found {timeout}")
        self.pins = pins
        self._store = store
        self._transport = transport or urllib_transport
        self._timeout = timeout
        self._clock = clock
        self._held: OrderedDict[tuple[LogReference, Referrer], None] = OrderedDict()

    def check(self, entry: Entry) -> None:
        """Check every reference of ``entry`` (an event); return when all hold.

        Precondition: ``entry`` parsed (its ``refs`` passed the payload rules).
        An entry without ``refs`` passes at once.

        Raises:
            CrossLogReferenceError: a reference does not hold (its ``reason``:
                ``ref_unknown_log`` without pins or for a log not pinned, or
                the reason of :func:`chain.crosslog.check_reference`).
            ReferenceUnavailableError: no source of the other log answered
                within the budget (reason ``ref_unavailable``).
            StorageError: keeping a checked note failed.
        """
        if entry.type != "event" or "refs" not in entry.payload:
            return
        refs = refs_in(entry.payload)
        referrer = Referrer.from_payload(entry.payload)
        deadline = self._clock() + self._timeout
        transport = self._within(deadline)
        for ref in refs:
            if (ref, referrer) in self._held:
                self._held.move_to_end((ref, referrer))
                continue
            self._check_one(ref, referrer, deadline, transport)
            self._held[(ref, referrer)] = None
            if len(self._held) > CACHE_SIZE:
                self._held.popitem(last=False)

    def _within(self, deadline: float) -> Transport:
        """The transport, each request given at most the time left before ``deadline``."""
        inner, clock, budget = self._transport, self._clock, self._timeout

        def bounded(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
            left = deadline - clock()
            if left <= 0:
                raise TimeoutError(f"the event's {budget:g} s for its references is spent")
            return inner(method, url, min(timeout, left))

        return bounded

    def _check_one(
        self, ref: LogReference, referrer: Referrer, deadline: float, transport: Transport
    ) -> None:
        pins = self.pins
        if pins is None or pins.party(ref.log) is None:
            followed = "none" if pins is None else ", ".join(p.origin for p in pins.parties)
            raise CrossLogReferenceError(
                ref,
                "log not pinned",
                reason="ref_unknown_log",
                expected=f"a log this gateway follows (--pins; following: {followed})",
                found=ref.log,
            )
        checked = check_at_sources(
            ref, pins, referrer, transport=transport, timeout=self._left(ref, deadline)
        )
        if self._store.ref_checkpoint(ref.log, ref.size) is None:
            if checked.checkpoint.size == ref.size:
                note = checked.note  # the note the reference was just proven under
            else:
                note = self._note_at_size(ref, referrer, pins, deadline, transport)
            self._store.put_ref_checkpoint(ref.log, ref.size, note)

    def _note_at_size(
        self,
        ref: LogReference,
        referrer: Referrer,
        pins: Pins,
        deadline: float,
        transport: Transport,
    ) -> str:
        """The other log's cosigned note of ``ref.size``, checked, from its first source answering.

        Raises:
            CrossLogReferenceError: a source's note of that size does not hold.
            ReferenceUnavailableError: no source answered.
        """
        party = pins.party(ref.log)
        assert party is not None  # checked by the caller
        failures = []
        for source in party.sources:
            client = ReadApiClient(source, transport=transport, timeout=self._left(ref, deadline))
            try:
                proof = client.entry_proof(ref.index, tree_size=ref.size)
            except SourceError as exc:
                failures.append(str(exc))
                continue
            check_reference(ref, ReferenceEvidence(proof), pins.pinned(), referrer)
            return proof.checkpoint
        raise ReferenceUnavailableError(
            ref,
            f"no source served its checkpoint of size {ref.size}: "
            + ("; ".join(failures) or "no sources pinned"),
        )

    def _left(self, ref: LogReference, deadline: float) -> float:
        left = deadline - self._clock()
        if left <= 0:
            raise ReferenceUnavailableError(
                ref, f"the other log's sources did not answer within {self._timeout:g} s"
            )
        return left
