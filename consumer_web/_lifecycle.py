"""The lifecycle query: a bird's (or a pack's) story, from the site's copy of the log.

:class:`Lifecycle` answers, for the latest signed checkpoint only (entries
the checkpoint does not cover yet are not shown)::

    life = Lifecycle(store, trust, witnesses)
    story = life.bird("0001")                              # BirdStory | None
    pack = life.pack(DigitalLink("09506000134352", serial="A1"))  # PackStory | None

How the subjects link up (issue 4 plan, section 1): a bird's own events and
tag readings are under ``bird:<id>``; its ``placed``/``moved`` events give its
stays in barns, whose climate and water readings are under ``barn:<id>`` and
whose feeders' under ``feeder:<device>`` (devices registered with
``location`` = the barn); its ``slaughtered`` event derives ``carcass:``/
``cut:`` subjects, a ``packed`` event naming those derives ``pack:`` or
``lot:``, under which shipping, receiving and recalls are found.

A pack's or lot's timeline also holds every recall that concerns it
(:func:`chain.trace.trace`): one naming the pack or lot, its carcasses or
cuts, its birds, or a barn while one of its birds was there.

Stories are cached per (bird, checkpoint); subjects per
:class:`~consumer_web._series.SubjectCache`. Safe for concurrent callers:
one story is built at a time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from chain import note
from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.gs1 import DigitalLink, pack_subject
from chain.store import Store
from chain.trace import TraceIndex, TraceResult
from chain.trace import trace as run_trace
from chain.trust import TrustRoot
from consumer_web._bird import build_bird
from consumer_web._blocks import BlockIndex
from consumer_web._directory import Directory
from consumer_web._rows import event_row, pack_info
from consumer_web._series import SubjectCache
from consumer_web._story import BirdStory, EventRow, PackInfo, PackStory

__all__ = ["Head", "Lifecycle"]


@dataclass(frozen=True, slots=True)
class Head:
    """The checkpoint stories are told up to, and what the site knows about its signatures.

    ``size`` blocks, covering the first ``entry_count`` entries; ``note`` as
    stored. ``log_signature_ok``: the pinned log key signed it; ``witnesses``:
    known witnesses whose cosignatures verify (names, sorted), and
    ``cosigned``: each of them with its cosigning time (POSIX seconds);
    ``other_signatures``: lines of keys the site does not know.
    """

    size: int
    entry_count: int
    note: str
    log_key: str
    log_signature_ok: bool
    witnesses: tuple[str, ...]
    other_signatures: int
    cosigned: tuple[tuple[str, int], ...] = ()


class Lifecycle:
    """Stories of birds and packs in ``store`` (a log pinned by ``trust``).

    ``witnesses`` are the C2SP verifier keys of the witnesses the site knows;
    ``max_readings`` bounds the readings kept in memory, ``max_stories`` the
    stories.
    """

    def __init__(
        self,
        store: Store,
        trust: TrustRoot,
        witnesses: Sequence[str] = (),
        *,
        max_readings: int = 2_000_000,
        max_stories: int = 256,
    ) -> None:
        self.store = store
        self.trust = trust
        self.witnesses = tuple(witnesses)
        self.cache = SubjectCache(store, max_readings=max_readings)
        self.directory = Directory(store)
        self.blocks = BlockIndex(store)
        self.events = TraceIndex(store)
        self._lock = threading.Lock()
        self._head: Head | None = None
        self._stories: OrderedDict[tuple[str, int], BirdStory] = OrderedDict()
        self._max_stories = max_stories
        self.observe: Callable[[float], object] | None = None
        """Called with the seconds each story build took (cache misses only)."""

    # -- the checkpoint ---------------------------------------------------------

    def head(self) -> Head | None:
        """The latest stored checkpoint as a :class:`Head`, or None before the first."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            return None
        size, signed = latest
        head = self._head
        if head is not None and head.size == size and head.note == signed:
            return head
        head = self._examine(size, signed)
        self._head = head
        return head

    def _examine(self, size: int, signed: str) -> Head:
        entry_count = self.store.block(size - 1).next_index
        log_key = self.trust.log_key.rsplit("+", 1)[0]
        try:
            open_checkpoint(signed, self.trust.log_key)
            ok = True
        except FarmtraceError:
            ok = False
        try:
            cosigned = tuple(sorted(verify_cosignatures(signed, self.witnesses).items()))
        except FarmtraceError:
            cosigned = ()
        witnesses = tuple(name for name, _ in cosigned)
        try:
            lines = len(note.parse(signed).signatures)
        except FarmtraceError:
            lines = 0
        others = max(0, lines - int(ok) - len(witnesses))
        return Head(size, entry_count, signed, log_key, ok, witnesses, others, cosigned)

    def _advance(self, head: Head) -> None:
        self.blocks.advance(head.size)
        self.cache.advance(head.entry_count)
        self.directory.advance(head.entry_count)
        self.events.advance(head.entry_count)

    # -- stories ------------------------------------------------------------------

    def bird(self, bird_id: str) -> BirdStory | None:
        """The story of bird ``bird_id``, or None if the checkpointed log never mentions it."""
        head = self.head()
        if head is None:
            return None
        key = (bird_id, head.entry_count)
        with self._lock:
            story = self._stories.get(key)
            if story is not None:
                self._stories.move_to_end(key)
                return story
            started = time.perf_counter()
            with self.cache.lock:
                self._advance(head)
                story = build_bird(self, head, bird_id)
            if self.observe is not None:
                self.observe(time.perf_counter() - started)
            if story is not None:
                self._stories[key] = story
                while len(self._stories) > self._max_stories:
                    self._stories.popitem(last=False)
            return story

    def pack(self, link: DigitalLink) -> PackStory | None:
        """The story of the pack or lot ``link`` names, or None if it was never packed."""
        head = self.head()
        if head is None:
            return None
        subject = pack_subject(link)
        with self._lock, self.cache.lock:
            self._advance(head)
            packed: PackInfo | None = None
            inputs: list[str] = []
            for _, index, entry in self.cache.get(subject).entries:
                if entry.payload.get("event") == "packed" and packed is None:
                    packed = pack_info(entry, index)
                    inputs = [str(s) for s in entry.payload["subjects"]]
            if packed is None:
                return None
            rows = {row.index: row for row in self.rows([subject, *inputs])}
            rows |= {row.index: row for row in self._recalls(subject, head)}
            timeline = tuple(sorted(rows.values(), key=lambda row: (row.ts, row.index)))
            return PackStory(packed, tuple(self.birds_of(inputs)), timeline)

    def trace(
        self, start: str, window: tuple[int, int] | None = None
    ) -> tuple[TraceResult, dict[str, str]] | None:
        """:func:`chain.trace.trace` of ``start`` up to the checkpoint, and its signers' names.

        None before the first checkpoint. Raises what :func:`~chain.trace.trace` raises.
        """
        head = self.head()
        if head is None:
            return None
        with self._lock, self.cache.lock:
            self._advance(head)
            result = run_trace(
                self.store, start, window=window, limit=head.entry_count, index=self.events
            )
            items = (*result.downstream, *result.upstream, *result.recalls)
            names = {i.signer: self.directory.operator_name(i.signer) for i in items}
        return result, {kid: name for kid, name in names.items() if name is not None}

    @contextmanager
    def trace_copy(self) -> Iterator[tuple[Store, TraceIndex] | None]:
        """The store and its trace index advanced to the checkpoint, locked until the block ends.

        For a trace across logs (:mod:`consumer_web._trace_across`). None
        before the first checkpoint. Raises StorageError: the store failed.
        """
        head = self.head()
        if head is None:
            yield None
            return
        with self._lock, self.cache.lock:
            self._advance(head)
            yield self.store, self.events

    def _recalls(self, start: str, head: Head) -> list[EventRow]:
        """Rows of the recalls that concern ``start`` (callers hold the locks)."""
        result = run_trace(self.store, start, limit=head.entry_count, index=self.events, feed=False)
        rows: dict[int, EventRow] = {}
        for item in result.recalls:
            if item.index not in rows:
                entry = parse_entry(self.store.entry(item.index))
                height = self.blocks.height_of(item.index)
                rows[item.index] = event_row(entry, item.index, height, self.directory)
        return list(rows.values())

    def warm(self, stop: threading.Event | None = None) -> int:
        """Load the subjects with many readings into the cache before anyone asks.

        Barns, feeders and tagged birds (see
        :meth:`~consumer_web._directory.Directory.heavy_subjects`), one at a
        time so that requests interleave; stops when ``stop`` is set or the
        cache is nine tenths full. Returns how many subjects it loaded.
        """
        head = self.head()
        if head is None:
            return 0
        with self.cache.lock:
            self._advance(head)
            subjects = self.directory.heavy_subjects()
        loaded = 0
        for subject in subjects:
            if stop is not None and stop.is_set():
                break
            if self.cache.readings > self.cache.max_readings * 0.9:
                break
            with self.cache.lock:
                if not self.cache.has(subject):
                    self.cache.get(subject)
                    loaded += 1
        return loaded

    # -- helpers for the builders (callers hold the locks) ----------------------

    def rows(
        self, subjects: Iterable[str], windows: Sequence[tuple[int, int]] | None = None
    ) -> tuple[EventRow, ...]:
        """Event rows about any of ``subjects`` (inside ``windows`` if given), by time."""
        found: dict[int, EventRow] = {}
        for subject in subjects:
            for ts, index, entry in self.cache.get(subject).entries:
                if entry.type != "event" or index in found:
                    continue
                if windows is not None and not any(s <= ts < e for s, e in windows):
                    continue
                height = self.blocks.height_of(index)
                found[index] = event_row(entry, index, height, self.directory)
        return tuple(sorted(found.values(), key=lambda row: (row.ts, row.index)))

    def birds_of(self, inputs: Iterable[str]) -> list[str]:
        """Bird ids behind packing ``inputs`` (birds, or carcasses and cuts of a slaughter)."""
        birds: dict[str, None] = {}
        for subject in inputs:
            kind, _, ident = subject.partition(":")
            if kind == "bird":
                birds[ident] = None
                continue
            for _, _, entry in self.cache.get(subject).entries:
                payload = entry.payload
                if payload.get("event") == "slaughtered" and subject in payload["outputs"]:
                    for bird in payload["subjects"]:
                        birds[str(bird).partition(":")[2]] = None
        return list(birds)
