"""A pack's story downstream across logs: what later holders recorded after it left a log.

The packing plant's page of a pack shows the plant's events; the distributor
that received the pack names one of them (the ``packed`` or ``shipped``
entry) by a reference in its ``received``, the shop's ``received`` names the
distributor's ``shipped``, and so on. :func:`walk_downstream` finds those
events through each followed log's reference index
(:meth:`chain.trace.TraceIndex.referencing`, kept advanced to the log's head
by its lifecycle, never rebuilt per page), checks each reference with
:meth:`consumer_web._federation.Federation.check`, and makes a part of each:
the later log's own events about the pack, vouched for by that log's
witnesses. A part whose reference does not hold is shown NOT verified with
its reason, and the walk does not go on from it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from chain.crosslog import LogReference, Referrer
from chain.errors import FarmtraceError, StorageError
from consumer_web._federation import Federation, FollowedLog
from consumer_web._stitched_parts import StitchedPart
from consumer_web._story import EventRow

__all__ = ["walk_downstream"]


@dataclass(frozen=True, slots=True)
class _Naming:
    """Entry ``index`` of log ``followed`` names, by ``ref``, an entry of the log walked from."""

    followed: FollowedLog
    index: int
    ref: LogReference
    referrer: Referrer


@dataclass(frozen=True, slots=True)
class _Story:
    """A later log's events about the pack, read up to its head of ``size`` blocks."""

    rows: tuple[EventRow, ...]
    size: int
    note: str


def _namings(
    followed: FollowedLog, origin: str, indexes: Iterable[int], subject: str
) -> tuple[list[_Naming], _Story | None]:
    """``followed``'s events that name ``subject`` at one of ``indexes`` of log ``origin``,
    and (when there are any) its own story of ``subject``.

    Raises:
        StorageError: the store failed.
    """
    life = followed.site.lifecycle
    found: list[_Naming] = []
    with life.trace_copy() as copy:
        if copy is None:
            return [], None
        _store, index = copy
        for named in indexes:
            for at in index.referencing(origin, named):
                entry = index.referrer(at)
                if entry is None:
                    continue
                for ref in index.refs_of(at):
                    if (ref.log, ref.index, ref.subject) == (origin, named, subject):
                        found.append(
                            _Naming(followed, at, ref, Referrer.from_payload(entry.payload))
                        )
        if not found:
            return [], None
        head = life.head()
        assert head is not None  # trace_copy yields a copy only at a checkpoint
        return found, _Story(life.rows([subject]), head.size, head.note)


def _later_logs(federation: Federation, exclude: set[str]) -> Iterator[FollowedLog]:
    for party in federation.pins.parties:
        followed = federation.followed(party.origin)
        if followed is not None and party.origin not in exclude:
            yield followed


def _part(
    federation: Federation,
    naming: _Naming,
    story: _Story,
    depth: int,
    *,
    show: bool,
) -> StitchedPart:
    teller = naming.followed.party
    party = federation.pins.party(naming.ref.log)
    reason: str | None
    problem: str | None
    cosigners: tuple[str, ...]
    size: int | None
    try:
        checked = federation.check(naming.ref, naming.referrer)
    except StorageError:
        raise
    except FarmtraceError as exc:
        verified, reason, problem, cosigners, size = False, exc.reason, str(exc), (), None
    else:
        verified, reason, problem = True, None, None
        cosigners, size = checked.cosigners, checked.checkpoint.size
    return StitchedPart(
        naming.ref,
        naming.referrer,
        teller.origin,
        teller.slug,
        naming.index,
        party,
        verified,
        reason,
        problem,
        cosigners,
        size,
        story.rows if verified and show else (),
        depth,
        downstream=True,
        teller=teller,
        teller_cosigners=federation.cosigners(teller.origin, story.note),
        teller_size=story.size,
    )


def walk_downstream(
    federation: Federation,
    origin: str,
    rows: Iterable[EventRow],
    subject: str,
    *,
    limit: int,
) -> tuple[tuple[StitchedPart, ...], bool]:
    """The parts downstream of ``rows`` (events of log ``origin``) for ``subject`` (a pack's
    or lot's), breadth first, and whether the walk stopped at ``limit`` parts.

    A later log is one whose event names ``subject`` by a reference to an entry
    of ``rows`` (then to an entry of that log's own story of ``subject``, and so
    on); log ``origin`` itself is never one. Each reference is checked once;
    a later log's story is shown once (in its first verified part), and the
    walk goes on from it only then.

    Raises:
        StorageError: a replica's store failed.
    """
    queue: deque[tuple[str, tuple[int, ...], int]] = deque(
        [(origin, tuple(row.index for row in rows), 1)]
    )
    walked = {origin}
    seen: set[tuple[str, int, str, int]] = set()
    parts: list[StitchedPart] = []
    while queue:
        log, indexes, depth = queue.popleft()
        for later in _later_logs(federation, {origin, log}):
            namings, story = _namings(later, log, indexes, subject)
            for naming in namings:
                assert story is not None  # present whenever there are namings
                key = (later.party.origin, naming.index, log, naming.ref.index)
                if key in seen:
                    continue
                if len(parts) >= limit:
                    return tuple(parts), True
                seen.add(key)
                show = later.party.origin not in walked
                part = _part(federation, naming, story, depth, show=show)
                parts.append(part)
                if part.verified and show:
                    walked.add(later.party.origin)
                    queue.append(
                        (later.party.origin, tuple(r.index for r in story.rows), depth + 1)
                    )
    return tuple(parts), False
