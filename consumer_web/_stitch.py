"""A story stitched across logs: the parts other parties' logs tell, reached by references.

A pack's page in the packing log shows that log's events; an event that
carries ``refs`` (the plant's ``slaughtered`` naming the farm's ``placed``,
the farm's ``placed`` naming the hatchery's ``hatched``) leads to another
log. :func:`stitch` walks those references upstream, breadth first: each is
checked with :meth:`consumer_web._federation.Federation.check` and, when it
holds, the referenced log's own story of the subject (a bird's, a pack's, or
the one entry) becomes a :class:`StitchedPart`, whose events are walked in
turn. A reference that fails is a part too, marked not verified with its
reason: never dropped. At most :data:`MAX_REFS_WALKED` references are
followed per page (references may form loops between logs).

:func:`stitched_for` adds, for a pack's page, the walk downstream
(:mod:`consumer_web._downstream`): what later holders' logs say about the pack.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from flask import request

from chain.crosslog import LogReference, Referrer, refs_in
from chain.entries import parse_entry
from chain.errors import FarmtraceError, StorageError
from chain.gs1 import parse_pack_subject
from consumer_web._downstream import walk_downstream
from consumer_web._federation import Federation, FollowedLog, current_federation
from consumer_web._rows import event_row
from consumer_web._site import current_site
from consumer_web._stitched_parts import Stitched, StitchedPart
from consumer_web._story import EventRow

__all__ = [
    "FEDERATION_RESOLVED",
    "FEDERATION_ROOT",
    "MAX_REFS_WALKED",
    "Stitched",
    "StitchedPart",
    "federation_root",
    "page_root",
    "refs_of",
    "stitch",
    "stitched_for",
]

MAX_REFS_WALKED = 64
"""References followed for one page at most, each way; the page says when there were more."""

FEDERATION_ROOT = "farmtrace.federation_root"
"""The WSGI environ key holding the federated site's own path prefix (usually "")."""

FEDERATION_RESOLVED = "farmtrace.federation_resolved"
"""The WSGI environ key set (True) on a request the resolver routed to a log's site."""


def refs_of(followed: FollowedLog, index: int) -> tuple[LogReference, ...]:
    """The references entry ``index`` of ``followed``'s copy carries (none for an entry the
    copy cannot parse: the replica verified every entry it holds).

    Raises:
        StorageError: the store failed.
    """
    try:
        return refs_in(parse_entry(followed.data.store.entry(index)).payload)
    except StorageError:
        raise
    except FarmtraceError:
        return ()


def _story_rows(followed: FollowedLog, subject: str, index: int) -> tuple[EventRow, ...]:
    """``followed``'s story of ``subject``: a bird's or pack's timeline, else entry ``index``."""
    life = followed.site.lifecycle
    kind, _, ident = subject.partition(":")
    if kind == "bird":
        story = life.bird(ident)
        if story is not None:
            return story.timeline
    elif kind in ("pack", "lot"):
        try:
            link = parse_pack_subject(subject)
        except FarmtraceError:
            link = None
        pack = None if link is None else life.pack(link)
        if pack is not None:
            return pack.timeline
    with life.cache.lock:
        entry = parse_entry(life.store.entry(index))
        height = life.store.block_of_entry(index)
        return (event_row(entry, index, height, life.directory),)


def _part(
    federation: Federation,
    log: str,
    row: EventRow,
    ref: LogReference,
    depth: int,
) -> StitchedPart:
    referrer = Referrer(row.event, row.subjects, row.ts)
    party = federation.pins.party(ref.log)
    mounted = federation.pins.party(log)
    by = (log, None if mounted is None else mounted.slug, row.index)
    try:
        checked = federation.check(ref, referrer)
    except StorageError:
        raise
    except FarmtraceError as exc:
        return StitchedPart(
            ref, referrer, *by, party, False, exc.reason, str(exc), (), None, (), depth
        )
    followed = federation.followed(ref.log)
    assert followed is not None  # check() refuses a log that is not followed
    rows = _story_rows(followed, ref.subject, ref.index)
    size = checked.checkpoint.size
    return StitchedPart(
        ref, referrer, *by, party, True, None, None, checked.cosigners, size, rows, depth
    )


def stitch(
    federation: Federation,
    origin: str,
    rows: Iterable[EventRow],
    *,
    limit: int = MAX_REFS_WALKED,
) -> Stitched:
    """The parts that the references in ``rows`` (events of log ``origin``) lead to, walked on.

    Each reference (a log, index and subject) is followed once; at most
    ``limit`` of them. Inside a part, only the references about the part's
    own subject are followed: a farm's ``placed`` of eight birds names eight
    hatchings, and the page of one of them wants its own.

    Raises:
        StorageError: a replica's store failed.
    """
    queue: deque[tuple[str, EventRow, int, str | None]] = deque(
        (origin, row, 1, None) for row in rows
    )
    seen_rows: set[tuple[str, int, str | None]] = set()
    seen_refs: set[tuple[str, int, str]] = set()
    parts: list[StitchedPart] = []
    while queue:
        log, row, depth, about = queue.popleft()
        followed = federation.followed(log)
        if followed is None or (log, row.index, about) in seen_rows:
            continue
        seen_rows.add((log, row.index, about))
        for ref in refs_of(followed, row.index):
            key = (ref.log, ref.index, ref.subject)
            if key in seen_refs or (about is not None and ref.subject != about):
                continue
            if len(parts) >= limit:
                return Stitched(tuple(parts), truncated=True)
            seen_refs.add(key)
            part = _part(federation, log, row, ref, depth)
            parts.append(part)
            queue.extend((ref.log, next_row, depth + 1, ref.subject) for next_row in part.rows)
    return Stitched(tuple(parts))


def stitched_for(rows: Iterable[EventRow], subject: str | None = None) -> Stitched | None:
    """The stitched parts for a page of the current log showing ``rows``; None on a
    single-log site. ``subject`` (a pack's or lot's) adds the parts downstream: what
    the later holders' logs say about it, reached from ``rows``.

    Raises:
        StorageError: a replica's store failed.
    """
    federation = current_federation()
    if federation is None:
        return None
    rows = tuple(rows)
    origin = current_site().data.trust.origin
    found = stitch(federation, origin, rows)
    later: tuple[StitchedPart, ...] = ()
    cut = False
    if subject is not None:
        later, cut = walk_downstream(federation, origin, rows, subject, limit=MAX_REFS_WALKED)
    own = federation.pins.party(origin)
    return Stitched(found.parts, found.truncated, federation_root(), later, cut, own)


def federation_root() -> str:
    """The federated site's own path prefix for the current request ("" at a host's root)."""
    root = request.environ.get(FEDERATION_ROOT, "")
    return root if isinstance(root, str) else ""


def page_root() -> str:
    """The path prefix of the address a visitor used for this page: the federated site's
    root when the resolver routed the request, else the app's own (a log's mount)."""
    if request.environ.get(FEDERATION_RESOLVED) is True:
        return federation_root()
    return request.script_root
