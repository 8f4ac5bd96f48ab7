"""Where the pack's bird was raised, on a stitched page: the farm's own log's account of it.

A pack's page on a federated site is the packing party's (the plant's log),
whose events name the farm's ``placed`` (or ``moved``) entry of each bird by a
reference (:mod:`consumer_web._stitch`). What a shopper scans for (the farm,
the barn's climate, feed and water, medicines, the hatchery) lives in the
farm's log. :func:`farm_accounts` gathers, per (farm log, bird) that the
page's upstream parts reach, a :class:`FarmAccount`:

* every reference to that bird in that log holds: the farm's story of the
  bird (:meth:`consumer_web._lifecycle.Lifecycle.bird` on the farm's replica,
  cached per bird and head as on the farm's own pages) and its facts
  (:func:`consumer_web._facts.bird_facts`, the single-log computation); the
  hatchery is the pinned hatchery party whose log the farm's event names for
  that bird, when such a part holds, else what the farm's log says;
* one does not hold: no facts, only the reason (the page says the farm's
  record could not be verified, and why).

A part is a farm's when its party's pinned role is ``farm`` (or its log is
not followed at all: then nothing is known of it but that its reference
failed) and it names a ``bird:`` subject.

:func:`with_farm` puts an account's facts into the page's own (the plant's):
the farm's facts replace the farm-side ones; slaughter, packing and recalls
stay the page's own, and each medicine's withdrawal period is compared with
the page's slaughter time. :func:`farm_charts` are the farm's chart views,
memoized in the farm site's memo under the same key as its own bird page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from consumer_web._charts import ChartView, chart_view
from consumer_web._facts import Facts, Treatment, Vaccination, bird_facts
from consumer_web._federation import Federation, FollowedLog
from consumer_web._stitched_parts import Stitched, StitchedPart
from consumer_web._story import BirdStory, EventRow

__all__ = [
    "FarmAccount",
    "FarmGroup",
    "FarmPage",
    "farm_accounts",
    "farm_charts",
    "farm_groups",
    "farm_page",
    "with_farm",
]

_FARM_ROLES = ("farm",)
_HATCHERY_ROLES = ("hatchery",)
_JOURNEY_EVENTS = ("hatched", "placed")


@dataclass(frozen=True, slots=True)
class FarmAccount:
    """Farm log ``origin``'s (party ``name``, mounted as ``slug``) account of bird ``bird``.

    ``verified`` when every reference the page's parts make to that bird in
    that log holds; then ``story`` and ``facts`` are the farm log's, and
    ``hatchery`` / ``hatch_ms`` name the hatchery (``hatchery_origin``: the
    hatchery's own log, when a reference to its ``hatched`` holds; else None
    and the names are the farm log's word); ``breed`` is the hatchery's word when it
    hatched the bird, else the farm log's, and ``hatchery_vaccinations`` the hatchery
    log's vaccinations of the bird. ``journey_rows`` are the farm's and the
    hatchery's events a journey strip shows (hatched, placed). Else ``reason`` (a ``ref_*`` tag)
    says why, and there are no facts.
    """

    origin: str
    name: str
    slug: str | None
    bird: str
    verified: bool
    reason: str | None
    story: BirdStory | None
    facts: Facts | None
    hatchery: str | None = None
    hatchery_origin: str | None = None
    hatch_ms: int | None = None
    journey_rows: tuple[EventRow, ...] = ()
    breed: str | None = None
    hatchery_vaccinations: tuple[Vaccination, ...] = ()

    @property
    def vaccination_sources(self) -> tuple[tuple[str, str], ...]:
        """The (origin, party name) of the logs the bird's vaccinations come from: the
        hatchery's when it vaccinated, the farm's when it did (or when none did)."""
        found = []
        if self.hatchery_vaccinations and self.hatchery_origin is not None:
            found.append((self.hatchery_origin, self.hatchery or self.hatchery_origin))
        if self.facts is not None and (self.facts.vaccinations or not found):
            found.append((self.origin, self.name))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class FarmGroup:
    """The ``accounts`` of one farm log (``origin``, party ``name``, mounted as ``slug``),
    for the page of a pack of several birds: what its verified birds' facts add up to."""

    origin: str
    name: str
    slug: str | None
    accounts: tuple[FarmAccount, ...]

    @property
    def verified(self) -> tuple[FarmAccount, ...]:
        """The accounts that hold."""
        return tuple(a for a in self.accounts if a.verified)

    @property
    def failed(self) -> tuple[FarmAccount, ...]:
        """The accounts that do not hold."""
        return tuple(a for a in self.accounts if not a.verified)

    @property
    def subjects(self) -> tuple[str, ...]:
        """The verified birds, as subjects (``bird:<id>``)."""
        return tuple(f"bird:{a.bird}" for a in self.verified)

    @property
    def barns(self) -> tuple[str, ...]:
        """The barns the verified birds lived in, in order of first mention."""
        seen: dict[str, None] = {}
        for account in self.verified:
            for barn in () if account.facts is None else account.facts.barns:
                seen.setdefault(barn)
        return tuple(seen)

    @property
    def band_percent(self) -> int | None:
        """The share of the verified birds' barn hours inside the welfare band, or None."""
        hours = sum(a.facts.climate_hours for a in self.verified if a.facts is not None)
        inside = sum(a.facts.band_hours for a in self.verified if a.facts is not None)
        return None if not hours else inside * 100 // hours

    @property
    def days_on_farm(self) -> tuple[int, int] | None:
        """The fewest and most days a verified bird spent on the farm, or None."""
        days = [a.facts.days_on_farm for a in self.verified if a.facts is not None]
        known = [d for d in days if d is not None]
        return (min(known), max(known)) if known else None

    @property
    def treatments(self) -> tuple[Treatment, ...]:
        """The verified birds' treatments, each event once."""
        seen: dict[int, Treatment] = {}
        for account in self.verified:
            for t in () if account.facts is None else account.facts.treatments:
                seen.setdefault(t.index, t)
        return tuple(seen.values())


def _is_farm_part(part: StitchedPart) -> bool:
    if not part.ref.subject.startswith("bird:"):
        return False
    if part.party is None:
        return not part.verified
    return part.party.role in _FARM_ROLES


def _hatchery(parts: Sequence[StitchedPart], farm: str, subject: str) -> StitchedPart | None:
    """The verified hatchery part the farm's log names for ``subject``, or None."""
    for part in parts:
        party = part.party
        if (
            part.verified
            and party is not None
            and party.role in _HATCHERY_ROLES
            and part.referrer_log == farm
            and part.ref.subject == subject
        ):
            return part
    return None


def _account(
    federation: Federation, stitched: Stitched, origin: str, subject: str, parts: list[StitchedPart]
) -> FarmAccount:
    party = parts[0].party
    name = origin if party is None else party.name
    slug = None if party is None else party.slug
    bird = subject.partition(":")[2]
    failed = next((p for p in parts if not p.verified), None)
    if failed is not None:
        return FarmAccount(origin, name, slug, bird, False, failed.reason, None, None)
    followed = federation.followed(origin)
    story = None if followed is None else followed.site.lifecycle.bird(bird)
    if story is None:  # a verified reference's log holds the bird: only a race gets here
        return FarmAccount(origin, name, slug, bird, False, "ref_unavailable", None, None)
    facts = bird_facts(story)
    rows = tuple(row for row in story.timeline if row.event in _JOURNEY_EVENTS)
    found = _hatchery(stitched.parts, origin, subject)
    breed = story.identity.breed
    if found is None or found.party is None:
        return FarmAccount(
            origin, name, slug, bird, True, None, story, facts, facts.hatchery, None,
            facts.hatch_ms, rows, breed,
        )  # fmt: skip
    hatched = next((row for row in found.rows if row.event == "hatched"), None)
    hatch_ms = facts.hatch_ms if hatched is None else hatched.ts
    if hatched is not None:
        rows = (hatched, *(row for row in rows if row.event != "hatched"))
        breed = hatched.field("breed") or breed
    vaccinations = tuple(
        Vaccination(row.field("vaccine") or "", row.ts, row.index)
        for row in found.rows
        if row.event == "vaccinated" and subject in row.subjects
    )
    return FarmAccount(
        origin, name, slug, bird, True, None, story, facts, found.party.name, found.party.origin,
        hatch_ms, rows, breed, vaccinations,
    )  # fmt: skip


def farm_accounts(federation: Federation, stitched: Stitched) -> tuple[FarmAccount, ...]:
    """The farm accounts ``stitched``'s upstream parts reach, one per (farm log, bird), in
    walk order.

    Raises:
        StorageError: a replica's store failed.
    """
    grouped: dict[tuple[str, str], list[StitchedPart]] = {}
    for part in stitched.parts:
        if _is_farm_part(part):
            grouped.setdefault((part.ref.log, part.ref.subject), []).append(part)
    return tuple(
        _account(federation, stitched, origin, subject, parts)
        for (origin, subject), parts in grouped.items()
    )


def farm_groups(accounts: Sequence[FarmAccount]) -> tuple[FarmGroup, ...]:
    """``accounts`` grouped by farm log, in order of first mention."""
    grouped: dict[str, list[FarmAccount]] = {}
    for account in accounts:
        grouped.setdefault(account.origin, []).append(account)
    return tuple(
        FarmGroup(origin, found[0].name, found[0].slug, tuple(found))
        for origin, found in grouped.items()
    )


def _cleared(treatment: Treatment, slaughter_ms: int | None) -> Treatment:
    if not treatment.withdrawal_days or treatment.until_ms is None or slaughter_ms is None:
        return treatment
    return replace(treatment, cleared=slaughter_ms >= treatment.until_ms)


def with_farm(own: Facts, account: FarmAccount) -> Facts:
    """``own`` (the page's facts, from its own log) with the farm-side facts of the verified
    ``account``; ``own`` unchanged for an account that does not hold."""
    farm = account.facts
    if not account.verified or farm is None:
        return own
    slaughter_ms = own.slaughter_ms or farm.slaughter_ms
    return replace(
        own,
        farm=account.name,
        barns=farm.barns,
        hatchery=account.hatchery,
        hatch_ms=account.hatch_ms,
        days_on_farm=farm.days_on_farm,
        climate_hours=farm.climate_hours,
        band_hours=farm.band_hours,
        farm_days=farm.farm_days,
        fed_days=farm.fed_days,
        vaccinations=tuple(
            sorted((*account.hatchery_vaccinations, *farm.vaccinations), key=lambda v: v.ts)
        ),
        treatments=tuple(_cleared(t, slaughter_ms) for t in farm.treatments),
        inspections=farm.inspections,
        failed_inspections=farm.failed_inspections,
        died_ms=own.died_ms or farm.died_ms,
        slaughter_ms=slaughter_ms,
        plant=own.plant or farm.plant,
    )


def farm_charts(followed: FollowedLog, story: BirdStory) -> list[ChartView]:
    """The chart views of ``story`` (a bird's in ``followed``'s log), memoized as that log's
    own bird page memoizes them (per bird and entry count)."""
    key = ("charts", story.identity.bird, story.verification.entry_count)
    return followed.site.memo.get(key, lambda: [chart_view(c) for c in story.charts])


@dataclass(frozen=True, slots=True)
class FarmPage:
    """What a one-bird page takes from the farms: the verified ``account`` of its bird (None:
    no farm's record holds), the ``failed`` accounts, and the farm's chart views ``charts``
    (empty without an account)."""

    account: FarmAccount | None
    failed: tuple[FarmAccount, ...]
    charts: tuple[ChartView, ...]


def farm_page(federation: Federation, stitched: Stitched, bird: str) -> FarmPage:
    """The farms' part of the page of bird ``bird`` (or of its one-bird pack): the verified
    account of ``bird`` itself, else the first verified one; none when the verified
    accounts come from more than one farm log (two farms' birds of one id).

    Raises:
        StorageError: a replica's store failed.
    """
    accounts = farm_accounts(federation, stitched)
    verified = [a for a in accounts if a.verified and a.story is not None]
    named = [a for a in verified if a.bird == bird] or verified
    failed = tuple(a for a in accounts if not a.verified)
    # Two farms' birds of one id (a plant's bird page): no one farm's facts are the bird's.
    account = named[0] if len({a.origin for a in named}) == 1 else None
    if account is None or account.story is None:
        return FarmPage(None, failed, ())
    followed = federation.followed(account.origin)
    assert followed is not None  # a verified account's log is followed
    return FarmPage(account, failed, tuple(farm_charts(followed, account.story)))
