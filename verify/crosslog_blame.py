"""The audit's verdict on who is to blame for a reference the other log no longer shows.

For each reference of the audited log that fails ``ref_rolled_back`` or
``ref_entry_mismatch``, :class:`Blamer` reads the note the AUDITED log kept
of the other log at the reference's size (:class:`KeptNotes`: from its store
offline, from its read API live) and, when that note holds, what the other
log's sources show now (its checkpoint and the consistency proof from the
reference's size), and asks :func:`chain.crosslog_blame.blame`::

    blamer = Blamer(pins, KeptNotes.from_store(store, refs), referencing=store.origin)
    verdict = blamer(ref, "ref_rolled_back")      # a chain.crosslog_blame.Blame

A kept note that cannot be read (the audited log's server fails) and a
referencing log that is not known give :data:`~chain.crosslog_blame.UNDETERMINED`:
never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chain import note as notes
from chain.checkpoint import Checkpoint
from chain.crosslog import LogReference
from chain.crosslog_blame import UNDETERMINED, Blame, ShownTree, blame
from chain.errors import MalformedError, SourceError
from chain.store import Store
from readapi.client import ReadApiClient, Transport
from readapi.crosslog import Pins

__all__ = ["Blamer", "KeptNotes"]


class KeptNotes:
    """Where the audited log's kept notes of other logs are read.

    ``fetch(origin, size)`` returns the note or None (the log kept none) and
    raises :class:`SourceError` when it cannot tell; ``fetch`` None: the
    notes cannot be read at all (``why`` says why).
    """

    def __init__(self, fetch: Callable[[str, int], str | None] | None, why: str = "") -> None:
        self._fetch = fetch
        self.why = why

    @classmethod
    def from_store(cls, store: Store, refs: Iterable[LogReference]) -> KeptNotes:
        """The notes ``store`` holds for ``refs``, read now (while the store is open).

        Raises:
            StorageError: the store failed.
        """
        held = {(ref.log, ref.size): store.ref_checkpoint(ref.log, ref.size) for ref in refs}
        return cls(lambda origin, size: held.get((origin, size)))

    @classmethod
    def at_url(
        cls, base_url: str, *, transport: Transport | None = None, timeout: float = 5.0
    ) -> KeptNotes:
        """The notes a gateway's or site's read API at ``base_url`` serves (404: none kept)."""
        client = ReadApiClient(base_url, transport=transport, timeout=timeout)

        def fetch(origin: str, size: int) -> str | None:
            try:
                return client.ref_checkpoint(origin, size)
            except SourceError as exc:
                if exc.status == 404:
                    return None
                raise

        return cls(fetch)

    @classmethod
    def unavailable(cls, why: str) -> KeptNotes:
        """Notes that cannot be read (e.g. a tlog-tiles prefix serves none)."""
        return cls(None, why)

    def get(self, origin: str, size: int) -> str | None:
        """The note kept of ``origin``'s tree ``size``, or None.

        Raises:
            SourceError: it could not be read.
        """
        if self._fetch is None:
            raise SourceError(self.why, reason="unreachable", url="")
        return self._fetch(origin, size)


class Blamer:
    """Who is to blame for failing references of the log ``referencing`` (an origin).

    Each kept note is read once per (origin, size), each other log's
    current checkpoint once, each consistency proof once.
    """

    def __init__(
        self,
        pins: Pins,
        kept: KeptNotes,
        *,
        referencing: str,
        transport: Transport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.pins = pins
        self.kept = kept
        self.referencing = referencing
        self._transport = transport
        self._timeout = timeout
        self._notes: dict[tuple[str, int], str | SourceError | None] = {}
        self._heads: dict[str, tuple[ReadApiClient, str, int] | None] = {}

    def __call__(self, ref: LogReference, reason: str) -> Blame:
        """The verdict on ``ref``, which failed with ``reason`` (one of ``BLAMEABLE``).

        Precondition: ``ref.log`` is pinned (other references fail
        ``ref_unknown_log``, which is not blamed).
        """
        key = (ref.log, ref.size)
        if key not in self._notes:
            try:
                self._notes[key] = self.kept.get(ref.log, ref.size)
            except SourceError as exc:
                self._notes[key] = exc
        kept = self._notes[key]
        if isinstance(kept, SourceError):
            return Blame(
                UNDETERMINED,
                None,
                f"the note {self.referencing} kept of {ref.log} at size {ref.size} could not "
                f"be read ({kept}): could not tell who",
            )
        shown = None if kept is None else self._shown(ref)
        return blame(
            ref, reason, kept, self.pins.pinned(), referencing=self.referencing, shown=shown
        )

    def _shown(self, ref: LogReference) -> ShownTree | None:
        """What ``ref.log``'s first answering source shows now (consistency from ``ref.size``)."""
        if ref.log not in self._heads:
            self._heads[ref.log] = self._head(ref.log)
        head = self._heads[ref.log]
        if head is None:
            return None
        client, signed, size = head
        if size <= ref.size:
            return ShownTree(signed)
        try:
            return ShownTree(signed, tuple(client.consistency(ref.size, size)))
        except SourceError:
            return None

    def _head(self, origin: str) -> tuple[ReadApiClient, str, int] | None:
        party = self.pins.party(origin)
        for base in () if party is None else party.sources:
            client = ReadApiClient(base, transport=self._transport, timeout=self._timeout)
            try:
                signed = client.checkpoint()
                size = Checkpoint.from_text(notes.parse(signed).text).size
            except (SourceError, MalformedError):
                continue
            return client, signed, size
        return None
