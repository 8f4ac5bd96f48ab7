"""Recalls an audit reports: the audited log's own, and those the referenced logs show.

::

    own = recall_of(index, entry.payload)          # None unless a recalled event
    found = recalls_at_sources(referring, pins)    # the other logs' recalls, by reference
    section = RecallSection(own=[...], referenced=found.notices, problems=found.problems)

A recall is a notice, not a failure: the log is as sound with it as
without. Auditing the plant's log lists "lot:... recalled at entry N:
<reason>"; auditing a log whose events reference the plant's lot (or a pack
packed from a recalled carcass) lists the plant's recall too, so the
auditor of a shop learns of it without reading the plant's log.

The referenced logs' recalls are read as each log's read API tells them
(``GET /api/v1/subjects/<subject>/events``, from the first of its pinned
sources that answers): the events about the referenced subject, and those
about the subjects one step away from it (what those events name: a
carcass's bird, a pack's carcasses, a placement's barn, a slaughter's
outputs). They are unverified notices: the references themselves are what
the audit verifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from chain.crosslog import LogReference
from chain.entries import event_outputs, parse_entry
from chain.errors import FarmtraceError
from readapi.client import ReadApiClient, Transport
from readapi.crosslog import Pins

__all__ = [
    "MAX_RELATED",
    "RecallNotice",
    "RecallSection",
    "ReferencedRecalls",
    "recall_of",
    "recalls_at_sources",
]

MAX_RELATED = 16
"""The most subjects one step from a referenced subject that are asked about, per reference."""

_MAX_LISTED = 50


class _Referring(Protocol):
    """An audited entry that makes references (:class:`verify.crosslog_audit.Referring`)."""

    @property
    def index(self) -> int: ...

    @property
    def refs(self) -> tuple[LogReference, ...]: ...


@dataclass(frozen=True, slots=True)
class RecallNotice:
    """A ``recalled`` event: entry ``entry`` of log ``log`` (None: the audited log).

    ``referenced`` is the subject a reference of the audited log names, and
    ``referenced_by`` the audited log's entries whose references lead to it
    (empty for the audited log's own recalls).
    """

    log: str | None
    entry: int
    subjects: tuple[str, ...]
    reason: str
    referenced: str | None = None
    referenced_by: tuple[int, ...] = ()

    def text(self) -> str:
        """One line for people, e.g. ``lot:...L1 recalled at entry 42: Salmonella``."""
        named = ", ".join(self.subjects)
        if self.log is None:
            return f"{named} recalled at entry {self.entry}: {self.reason}"
        entries = ", ".join(str(index) for index in self.referenced_by)
        return (
            f"{self.log}: {named} recalled at entry {self.entry}: {self.reason} "
            f"(reaches {self.referenced}, referenced by entry {entries})"
        )


def recall_of(index: int, payload: Mapping[str, Any]) -> RecallNotice | None:
    """The recall notice of entry ``index`` of the audited log, if its payload is a recall.

    Precondition: ``payload`` is a valid entry payload (e.g. an :attr:`Entry.payload`).
    """
    if payload.get("type") != "event" or payload.get("event") != "recalled":
        return None
    return RecallNotice(None, index, tuple(payload["subjects"]), str(payload["reason"]))


@dataclass(slots=True)
class ReferencedRecalls:
    """What :func:`recalls_at_sources` found: the notices, and the logs it could not ask."""

    notices: list[RecallNotice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def recalls_at_sources(
    referring: Iterable[_Referring],
    pins: Pins,
    *,
    transport: Transport | None = None,
    timeout: float = 5.0,
    skip: Iterable[str] = (),
) -> ReferencedRecalls:
    """The recalls the referenced logs show of each referenced subject or one step from it.

    Logs in ``skip`` (known to be down) and logs the pins file does not list
    are not asked. A log none of whose sources answers, or whose answer is
    malformed, is a problem listed in the result, never raised: recalls are
    notices and the references' own checks say what failed.
    """
    wanted: dict[tuple[str, str], list[int]] = {}
    for item in referring:
        for ref in item.refs:
            by = wanted.setdefault((ref.log, ref.subject), [])
            if item.index not in by:
                by.append(item.index)
    found = ReferencedRecalls()
    skipped = set(skip)
    asker = _Asker(pins, transport, timeout)
    for (origin, subject), by in wanted.items():
        if origin in skipped or pins.party(origin) is None:
            continue
        try:
            recalls = asker.recalls_reaching(origin, subject)
        except FarmtraceError as exc:
            skipped.add(origin)
            found.problems.append(f"{origin}: its recalls could not be read: {exc}")
            continue
        for index, subjects, reason in recalls:
            found.notices.append(
                RecallNotice(origin, index, subjects, reason, subject, tuple(sorted(by)))
            )
    return found


class _Asker:
    """Asks a pinned log's sources about subjects, remembering each answer."""

    def __init__(self, pins: Pins, transport: Transport | None, timeout: float) -> None:
        self.pins, self.transport, self.timeout = pins, transport, timeout
        self.answers: dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]] = {}

    def events(self, origin: str, subject: str) -> list[tuple[int, Mapping[str, Any]]]:
        """The parsed events about ``subject`` in log ``origin``, from its first answering source.

        Raises:
            FarmtraceError: no source answered (the last one's error), or an entry is malformed.
        """
        key = (origin, subject)
        if key not in self.answers:
            party = self.pins.party(origin)
            assert party is not None
            error: FarmtraceError | None = None
            for base in party.sources:
                client = ReadApiClient(base, transport=self.transport, timeout=self.timeout)
                try:
                    raw = client.subject_events(subject)
                except FarmtraceError as exc:
                    error = exc
                    continue
                self.answers[key] = [(index, parse_entry(entry).payload) for index, entry in raw]
                break
            else:
                assert error is not None  # a pinned party has at least one source
                raise error
        return self.answers[key]

    def recalls_reaching(self, origin: str, subject: str) -> list[tuple[int, tuple[str, ...], str]]:
        """``(entry, subjects, reason)`` of each recall naming ``subject`` or one step from it."""
        about = self.events(origin, subject)
        related: list[str] = []
        for _, payload in about:
            for other in _named(payload):
                if other != subject and other not in related:
                    related.append(other)
        recalls: dict[int, tuple[tuple[str, ...], str]] = {}
        for named, events in [(subject, about)] + [
            (other, self.events(origin, other)) for other in related[:MAX_RELATED]
        ]:
            for index, payload in events:
                if payload.get("event") == "recalled" and named in payload["subjects"]:
                    recalls[index] = (tuple(payload["subjects"]), str(payload["reason"]))
        return [(index, *recalls[index]) for index in sorted(recalls)]


def _named(payload: Mapping[str, Any]) -> list[str]:
    """The subjects an event names besides a recall: its subjects, outputs, and barn."""
    if payload.get("event") == "recalled":
        return []
    named = [*payload.get("subjects", ()), *event_outputs(payload)]
    for member in ("barn", "from_barn"):
        if isinstance(payload.get(member), str):
            named.append(f"barn:{payload[member]}")
    return named


@dataclass(slots=True)
class RecallSection:
    """The recalls an audit reports: the log's own, and those of the logs it references.

    ``followed`` is False when no pins file was given (the other logs were not asked).
    """

    own: list[RecallNotice] = field(default_factory=list)
    referenced: list[RecallNotice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    followed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The section as the ``recalls`` member of the audit's JSON report."""
        return {
            "own": [asdict(notice) for notice in self.own],
            "referenced": [asdict(notice) for notice in self.referenced],
            "problems": list(self.problems),
            "followed": self.followed,
        }

    def lines(self, *, max_listed: int = _MAX_LISTED) -> list[str]:
        """The section for people; empty when there is no recall to tell of."""
        lines: list[str] = []
        for title, notices in (
            ("  recalls in this log", self.own),
            ("  recalls in the logs it references", self.referenced),
        ):
            if notices:
                lines.append(f"{title}  {len(notices):,} (notices, not failures):")
                lines.extend(f"    {notice.text()}" for notice in notices[:max_listed])
                if len(notices) > max_listed:
                    lines.append(f"    … and {len(notices) - max_listed:,} more (use --json)")
        lines.extend(f"  recalls not read: {problem}" for problem in self.problems)
        return lines
