"""References to other logs from the event forms (``PINS``; docs/supply-chain.md).

With a pins file, the form of each kind that may name entries of other logs
(:data:`chain.crosslog.REFERABLE`) has one field per pinned party whose log
may hold such entries (by its role: a slaughter names a farm's or a
hatchery's bird, a receipt a plant's or distributor's pack): the subjects
of the event that come from that party's log. At submit time the desk finds
the latest such entry about each of them in that log, checks the reference
against the log's pinned trust root and witnesses
(:func:`readapi.crosslog.reference_to`) and puts it in the event; the
result page shows what each names. Nothing is signed, and no seq used, when
a reference cannot be made.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chain.crosslog import MAX_REFS, REFERABLE, CheckedReference, Referrer
from chain.errors import MalformedEntryError, MalformedError, SourceError
from chain.registry import EVENT_ROLES
from readapi.client import ReadApiClient
from readapi.crosslog import PinnedParty, Pins, reference_to
from signer.operator_events import split_list

__all__ = [
    "FIELD_PREFIX",
    "REASON_WORDS",
    "OwnOrigin",
    "Wanted",
    "field_name",
    "make_references",
    "parties_for",
    "reason_words",
    "shown",
    "wanted_refs",
]

FIELD_PREFIX = "from-"
"""Form fields ``from-<slug>``: the event's subjects that come from that party's log."""

_OPERATOR_ROLES = {"shop": frozenset({"retailer"})}
"""Party roles (docs/supply-chain.md) whose operators hold a role of another name."""

REASON_WORDS: Mapping[str, str] = {
    "ref_unknown_log": "that log is not one this desk follows",
    "ref_bad_checkpoint": "that log's checkpoint is not signed by its pinned key",
    "ref_not_cosigned": "that log's checkpoint lacks the cosignatures its witnesses must give",
    "ref_rolled_back": "that log no longer shows the history the entry was seen in",
    "ref_entry_mismatch": "that log shows another entry there",
    "ref_not_included": "that log's proof of the entry does not hold",
    "ref_beyond_seen": "the entry was not yet in the checkpoint named",
    "ref_wrong_kind": "this kind of event may not name that kind of entry",
    "ref_wrong_subject": "the entry is not about that subject",
    "ref_out_of_order": "the entry is dated after this event",
}
"""What each ``ref_*`` reason of :class:`chain.crosslog.CrossLogReferenceError` means."""


def reason_words(reason: str) -> str:
    """``reason`` in words (the tag itself when it is not a known one)."""
    return REASON_WORDS.get(reason, reason)


def field_name(party: PinnedParty) -> str:
    """The form field of ``party``'s subjects."""
    return FIELD_PREFIX + party.slug


def parties_for(pins: Pins | None, event: str, own: str | None = None) -> tuple[PinnedParty, ...]:
    """The pinned parties whose logs may hold entries an ``event`` may name (by role).

    A party's role says which events it signs: a ``farm`` or ``hatchery``
    party's log may hold a bird's hatch and placement, a ``plant``'s its
    slaughter and packs, a ``shop``'s what a retailer signs; a party of role
    ``other`` may hold anything. The desk's own log (origin ``own``) is
    never another log.
    """
    named = REFERABLE.get(event, frozenset())
    if pins is None or not named:
        return ()
    signers = frozenset().union(*(EVENT_ROLES.get(kind, frozenset()) for kind in named))
    return tuple(
        party
        for party in pins.parties
        if party.origin != own
        and (
            party.role == "other"
            or _OPERATOR_ROLES.get(party.role, frozenset({party.role})) & signers
        )
    )


class OwnOrigin:
    """The origin of the desk's own log, read once from its read API (``CHECK_URL``)."""

    def __init__(self, check_url: str, timeout: float) -> None:
        self.check_url, self.timeout = check_url, timeout
        self._origin: str | None = None

    def get(self) -> str | None:
        """The origin (None while the read API cannot say: asked again next time)."""
        if self._origin is None:
            try:
                self._origin = str(
                    ReadApiClient(self.check_url, timeout=self.timeout).log_info()["origin"]
                )
            except (SourceError, MalformedError):
                return None
        return self._origin


@dataclass(frozen=True, slots=True)
class Wanted:
    """One reference to make: the latest referable entry about ``subject`` in ``party``'s log."""

    party: PinnedParty
    subject: str


def wanted_refs(
    parties: Sequence[PinnedParty], values: Mapping[str, str], subjects: Sequence[str]
) -> tuple[Wanted, ...]:
    """The references the form asks for, in the order of the parties and their fields.

    Raises:
        MalformedEntryError: a field names a subject the event does not list,
            one subject is named under two parties, or more than
            :data:`~chain.crosslog.MAX_REFS` references are asked for.
    """
    found: dict[str, Wanted] = {}
    for party in parties:
        for subject in split_list(values.get(field_name(party), "")):
            if subject not in subjects:
                raise MalformedEntryError(
                    f"from {party.name}: {subject} is not one of the event's subjects "
                    f"({', '.join(subjects)}); list it above too"
                )
            earlier = found.get(subject)
            if earlier is not None and earlier.party != party:
                raise MalformedEntryError(
                    f"{subject}: expected it from one log, found it under both "
                    f"{earlier.party.name} and {party.name}"
                )
            found[subject] = Wanted(party, subject)
    if len(found) > MAX_REFS:
        raise MalformedEntryError(
            f"from other logs: expected at most {MAX_REFS} subjects, found {len(found)}"
        )
    return tuple(found.values())


def make_references(
    wanted: Sequence[Wanted], pins: Pins, referrer: Referrer, *, timeout: float
) -> tuple[CheckedReference, ...]:
    """Each wanted reference, made and checked against the other log's sources.

    Raises:
        NoReferableEntryError: a log has no entry about the subject that
            ``referrer`` may name.
        CrossLogReferenceError: a reference does not hold under the pins.
        ReferenceUnavailableError: no source of a log answered.
    """
    return tuple(
        reference_to(w.party.origin, w.subject, pins, referrer, timeout=timeout) for w in wanted
    )


def shown(
    checked: CheckedReference, party: PinnedParty, zone: datetime.tzinfo
) -> dict[str, object]:
    """What the result page shows of one reference (JSON-safe, kept in the session)."""
    entry = checked.entry
    when = datetime.datetime.fromtimestamp(entry.ts / 1000, zone)
    return {
        "subject": checked.ref.subject,
        "party": party.name,
        "origin": party.origin,
        "index": checked.ref.index,
        "event": entry.payload["event"],
        "when": when.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        "size": checked.ref.size,
        "cosigners": list(checked.cosigners),
    }
