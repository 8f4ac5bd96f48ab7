"""Who is to blame, on a stitched page, for a reference the other log no longer shows.

A part that is NOT verified with ``ref_rolled_back`` or ``ref_entry_mismatch``
says which of the two logs lied (docs/supply-chain.md section 3): the note of
the other log that the REFERENCING log kept when its gateway checked the
reference settles it (:func:`chain.crosslog_blame.blame`). A site's replica
of the referencing log holds no kept notes, so :class:`SiteBlame` asks the
referencing log's pinned sources for it (``readapi.client.ReadApiClient.ref_checkpoint``,
a short timeout), remembers the answer per (referencing log, other log,
size), and takes what the other log shows now from this site's verified
replica of it (its head checkpoint and the consistency proof from the
reference's size). When no source of the referencing log answers, the page
says it could not tell who (and asks again after :data:`RETRY_S`).

Installed on each log's app of a federated site (:func:`install_blame`);
templates call ``blame_of(part)``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from chain.crosslog import LogReference
from chain.crosslog_blame import BLAMEABLE, UNDETERMINED, ShownTree
from chain.crosslog_blame import blame as blame_with
from chain.errors import FarmtraceError, SourceError, StorageError
from consumer_web._federation import Federation
from consumer_web._stitched_parts import StitchedPart
from readapi.client import ReadApiClient, Transport

__all__ = ["CACHE_SIZE", "RETRY_S", "TIMEOUT_S", "PartBlame", "SiteBlame", "install_blame"]

TIMEOUT_S = 2.0
"""Seconds each source of the referencing log is given to answer, while a page waits."""

RETRY_S = 30.0
"""Seconds a kept note that could not be read is not asked for again."""

CACHE_SIZE = 1024
"""Kept notes (or their absence) remembered, the oldest dropped."""


@dataclass(frozen=True, slots=True)
class PartBlame:
    """What a page says of a failing part: ``party`` (``referenced_log``,
    ``referencing_log`` or ``undetermined``), the names of the ``referenced`` and
    ``referencing`` parties, and the ``evidence`` in English (technical)."""

    party: str
    referenced: str
    referencing: str
    evidence: str


class _Unread:
    """No source of the referencing log answered (at ``at``, monotonic seconds)."""

    def __init__(self, at: float, why: str) -> None:
        self.at = at
        self.why = why


class SiteBlame:
    """Finds who is to blame for a federation's failing parts; see the module docstring.

    Thread-safe: pages render on many threads. ``transport`` and ``clock``
    are for tests.
    """

    def __init__(
        self,
        federation: Federation,
        *,
        transport: Transport | None = None,
        timeout: float = TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.federation = federation
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str, int], str | _Unread | None] = OrderedDict()

    def of(self, part: StitchedPart) -> PartBlame | None:
        """Who is to blame for ``part``; None unless it failed a reason a kept note settles.

        Raises:
            StorageError: the other log's replica failed.
        """
        if part.verified or part.reason not in BLAMEABLE or part.reason is None:
            return None
        ref, referencing = part.ref, part.referrer_log
        names = (self._name(ref.log), self._name(referencing))
        kept = self._kept_note(referencing, ref)
        if isinstance(kept, _Unread):
            why = f"the note {referencing} kept could not be read: {kept.why}"
            return PartBlame(UNDETERMINED, *names, why)
        try:
            verdict = blame_with(
                ref,
                part.reason,
                kept,
                self.federation.pins.pinned(),
                referencing=referencing,
                shown=None if kept is None else self._shown(ref),
            )
        except StorageError:
            raise
        except FarmtraceError as exc:  # the other log is not pinned: not a blameable failure
            return PartBlame(UNDETERMINED, *names, str(exc))
        return PartBlame(verdict.party, *names, verdict.evidence)

    def _name(self, origin: str) -> str:
        party = self.federation.pins.party(origin)
        return origin if party is None else party.name

    def _kept_note(self, referencing: str, ref: LogReference) -> str | _Unread | None:
        key = (referencing, ref.log, ref.size)
        with self._lock:
            if key in self._kept:
                known = self._kept[key]
                self._kept.move_to_end(key)
                if not isinstance(known, _Unread) or self._clock() - known.at < RETRY_S:
                    return known
        found = self._fetch(referencing, ref)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > CACHE_SIZE:
                self._kept.popitem(last=False)
        return found

    def _fetch(self, referencing: str, ref: LogReference) -> str | _Unread | None:
        """The note from the first source of ``referencing`` that has it; None when every
        source answers that it kept none; :class:`_Unread` when none could be asked."""
        party = self.federation.pins.party(referencing)
        problems: list[str] = []
        answered = False
        for base in () if party is None else party.sources:
            client = ReadApiClient(base, transport=self._transport, timeout=self._timeout)
            try:
                return client.ref_checkpoint(ref.log, ref.size)
            except SourceError as exc:
                if exc.status == 404:
                    answered = True
                else:
                    problems.append(str(exc))
        if answered:
            return None
        return _Unread(self._clock(), "; ".join(problems) or f"{referencing} is not pinned")

    def _shown(self, ref: LogReference) -> ShownTree | None:
        """What this site's replica of ``ref.log`` holds: its head, and consistency to it."""
        followed = self.federation.followed(ref.log)
        if followed is None:
            return None
        store = followed.data.store
        latest = store.latest_checkpoint()
        if latest is None:
            return None
        size, signed = latest
        if size < ref.size:  # a copy behind says nothing of what the log shows
            return None
        if size == ref.size:
            return ShownTree(signed)
        return ShownTree(signed, tuple(store.consistency_proof(ref.size, size)))


def install_blame(app: Flask, finder: SiteBlame) -> None:
    """Let ``app``'s templates call ``blame_of(part)`` (a :class:`PartBlame` or None)."""

    @app.context_processor
    def blame_context() -> dict[str, Any]:
        return {"blame_of": finder.of}
