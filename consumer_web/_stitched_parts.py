"""What a stitched page shows: the parts of a story that other parties' logs tell.

Values only: :mod:`consumer_web._stitch` walks references upstream (the logs
a page's events name) and :mod:`consumer_web._downstream` downstream (the
logs whose events name the page's), each making :class:`StitchedPart` values;
:class:`Stitched` holds both walks for the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chain.crosslog import LogReference, Referrer
from consumer_web._story import EventRow
from readapi.crosslog import PinnedParty

__all__ = ["ChainStep", "Stitched", "StitchedPart"]


@dataclass(frozen=True, slots=True)
class StitchedPart:
    """What one reference leads to.

    ``ref`` was carried by entry ``referrer_index`` of log ``referrer_log``
    (mounted as ``referrer_slug``; an event described by ``referrer``).
    ``party`` is the referenced log's pinned party (None: not followed).
    When ``verified``, ``cosigners`` of the party's pinned witnesses
    cosigned the checkpoint of ``checkpoint_size`` blocks it was proven
    under, and ``rows`` (with ``recalls`` among them) are the story the part
    tells; else ``reason`` (a ``ref_*`` tag) and ``problem`` (the error, in
    English) say why. ``depth`` is 1 for the references nearest the page's
    own log, 2 for the next, and so on.

    Upstream (``downstream`` False) the story is the referenced log's, of
    ``ref.subject``. Downstream the story is the referring log's (``teller``,
    a later holder of the pack), whose entry ``referrer_index`` names an entry
    the page (or a nearer downstream part) shows; ``teller_cosigners`` of its
    pinned witnesses cosigned the head checkpoint of ``teller_size`` blocks
    its story is read up to (``rows`` are empty when an earlier part already
    shows that log's story).
    """

    ref: LogReference
    referrer: Referrer
    referrer_log: str
    referrer_slug: str | None
    referrer_index: int
    party: PinnedParty | None
    verified: bool
    reason: str | None
    problem: str | None
    cosigners: tuple[str, ...]
    checkpoint_size: int | None
    rows: tuple[EventRow, ...]
    depth: int
    downstream: bool = False
    teller: PinnedParty | None = None
    teller_cosigners: tuple[str, ...] = ()
    teller_size: int | None = None

    @property
    def story_party(self) -> PinnedParty | None:
        """The party whose log tells the part's ``rows``."""
        return self.teller if self.downstream else self.party

    @property
    def log(self) -> str:
        """The origin of the log that tells the part's ``rows``."""
        return self.referrer_log if self.downstream else self.ref.log

    @property
    def recalls(self) -> tuple[EventRow, ...]:
        """The recall events in the part's story."""
        return tuple(row for row in self.rows if row.event == "recalled")

    @property
    def ref_json(self) -> str:
        """The reference as its ``refs`` item, in JSON (for the browser's check)."""
        return json.dumps(self.ref.to_json(), separators=(",", ":"))

    @property
    def quorum(self) -> int:
        """The witnesses the referenced party's pinned policy requires."""
        return 0 if self.party is None else self.party.pin.policy.quorum

    @property
    def witnesses_total(self) -> int:
        """The witnesses in the referenced party's pinned policy."""
        return 0 if self.party is None else len(self.party.pin.policy.witnesses)

    @property
    def teller_witnesses_total(self) -> int:
        """The witnesses in the telling party's pinned policy."""
        party = self.story_party
        return 0 if party is None else len(party.pin.policy.witnesses)


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One party on a pack's way, as the page lists them: ``place`` is ``upstream``,
    ``here`` (the page's own log) or ``downstream``; ``verified`` when every part
    that party tells holds."""

    origin: str
    name: str
    role: str
    place: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Stitched:
    """The parts a page's references lead to, in walk order (``parts`` upstream,
    ``downstream`` the later holders); ``truncated``/``downstream_truncated`` when a
    walk stopped at its limit; ``root`` is the federated site's path prefix the
    parts' links start with; ``own`` the page's own log's party."""

    parts: tuple[StitchedPart, ...]
    truncated: bool = False
    root: str = ""
    downstream: tuple[StitchedPart, ...] = ()
    downstream_truncated: bool = False
    own: PinnedParty | None = None

    @property
    def recalls(self) -> tuple[tuple[StitchedPart, EventRow], ...]:
        """Each recall in a verified part, with its part (a recall seen twice once)."""
        seen: set[tuple[str, int]] = set()
        found = []
        for part in (*self.parts, *self.downstream):
            for row in part.recalls:
                if (part.log, row.index) not in seen:
                    seen.add((part.log, row.index))
                    found.append((part, row))
        return tuple(found)

    @property
    def failed(self) -> tuple[StitchedPart, ...]:
        """The parts whose reference does not hold (or could not be checked)."""
        return tuple(part for part in (*self.parts, *self.downstream) if not part.verified)

    @property
    def chain(self) -> tuple[ChainStep, ...]:
        """The parties the pack passed through, in order: the farthest upstream first,
        then the page's own, then the later holders (empty without any part)."""
        if not (self.parts or self.downstream) or self.own is None:
            return ()
        depth: dict[str, int] = {}
        upstream: dict[str, list[StitchedPart]] = {}
        for part in self.parts:
            if part.party is not None:
                upstream.setdefault(part.log, []).append(part)
                depth[part.log] = max(depth.get(part.log, 0), part.depth)
        later: dict[str, list[StitchedPart]] = {}
        for part in self.downstream:
            later.setdefault(part.log, []).append(part)
        by_depth = sorted(upstream, key=lambda origin: -depth[origin])  # stable: walk order
        steps = [_step(upstream[origin], "upstream") for origin in by_depth]
        own = self.own
        steps.append(ChainStep(own.origin, own.name, own.role, "here", True))
        steps += [_step(parts, "downstream") for origin, parts in later.items()]
        return tuple(steps)


def _step(parts: list[StitchedPart], place: str) -> ChainStep:
    party = parts[0].story_party
    origin = parts[0].log
    verified = all(part.verified for part in parts)
    if party is None:
        return ChainStep(origin, origin, "other", place, verified)
    return ChainStep(origin, party.name, party.role, place, verified)
