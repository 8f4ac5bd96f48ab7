"""The lifecycle rules: which events the log's history allows (issue 5).

A :class:`LifecycleState` is built by replaying ``event`` entries in log
order; :meth:`LifecycleState.check` judges a new event against every earlier
one. Each item (``bird``, ``carcass``, ``cut``, ``pack``, ``lot``) and each
barn has a :class:`SubjectState`. The rules:

- hatched: a bird is hatched once.
- placed: a hatched, living, unslaughtered bird not yet in a barn (a later
  change of barn is ``moved``).
- moved: a placed, living, unslaughtered bird, to another barn than its
  current one; ``from_barn``, when given, is its current barn.
- vaccinated, died, inspected (of a bird): a hatched, living, unslaughtered
  bird. Inspecting a barn needs nothing.
- slaughtered: a hatched bird, not dead and not slaughtered before; its
  ``outputs`` do not exist yet.
- packed: each input is a carcass or cut a slaughtered event produced, or a
  slaughtered bird, not packed before; the pack or lot is new.
- shipped: each pack or lot exists, is not in transit (shipped and not yet
  received) and is not recalled. It counts as recalled when a recalled event
  named it, one of its contents, or the bird a content came from.
- received: each pack or lot is in transit.
- recalled: each subject exists (a known item, or a barn that has had birds).
- treated (of a bird): a hatched, living, unslaughtered bird. Treating a barn
  needs nothing.
- No time travel: an event's ``ts`` may not precede the ``ts`` of the latest
  event about any item it names.

Across logs (issue 15): in an event carrying ``refs``, each subject a
reference names is keyed by the pair (the referenced log, the subject),
:func:`chain.crosslog.foreign_key`, so farm A's ``bird:0001`` and farm B's
are two birds at the plant. A foreign key's first event seeds its state
with what the reference asserts: the subject as the referencing event kind
needs it (created; a bird a ``packed`` takes also slaughtered; what a
``received`` takes also in transit). The rules above then apply unchanged:
the plant slaughters farm A's ``bird:0001`` once, the carcasses it produces
are its own subjects with the foreign bird as parent. An event naming a
subject without a reference means the one key the log knows it by (the
plain subject, or the one foreign key a reference introduced); a subject
known from two or more logs, or named by references to two logs in one
event, is refused as ambiguous. The seeding trusts a reference's format
only: whether the reference holds (the entry exists in a cosigned
checkpoint of the other log, of a kind ``REFERABLE`` allows) is
:func:`chain.crosslog.check_reference`'s job, at the gateway's write-time
check and in every verifier.

A slaughter inside a withdrawal period (a ``treated`` event's
``withdrawal_days``, for the bird or for its barn while it was there) breaks
food law, not the log: :meth:`LifecycleState.withdrawal_breach` reports it
(the audit lists it as a warning, the pack page shows it) and the entry is
accepted.

Pure: :func:`state_for` reads through the small :class:`EventSource`
protocol, which :class:`chain.store.Store` implements.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from chain._lifecycle_keys import SubjectKeys
from chain._lifecycle_rules import (
    ITEM_KINDS,
    TRACKED_KINDS,
    Rules,
    SubjectState,
    kind_of,
    recalled_through,
)
from chain._withdrawal import (
    Period,
    WithdrawalBreach,
    barn_period_reaching,
    later,
    period_of,
    withdrawal_end,
)
from chain.crosslog import split_foreign
from chain.entries import Entry, event_outputs, parse_entry

__all__ = [
    "ITEM_KINDS",
    "EventSource",
    "LifecycleState",
    "SubjectState",
    "WithdrawalBreach",
    "state_for",
    "withdrawal_end",
]

_FIRST = {
    "hatched": "created",
    "died": "died",
    "slaughtered": "slaughtered",
    "packed": "packed",
    "recalled": "recalled",
}


class LifecycleState:
    """Every item's and barn's state, replayed in log order. Mutable; not thread-safe."""

    def __init__(self) -> None:
        self._states: dict[str, SubjectState] = {}
        # A bird's withdrawal periods from barns it has left, given while it was there
        # (not in its SubjectState: no event naming the bird says so).
        self._carried: dict[str, Period] = {}
        self._keys = SubjectKeys(self._states)

    @classmethod
    def from_entries(
        cls, entries: Iterable[tuple[int, Entry]], *, check: bool = True
    ) -> LifecycleState:
        """Replay ``(index, entry)`` pairs in log order (other entry types are skipped).

        With ``check``, each event is judged first (see :meth:`check`);
        without, the entries are trusted (e.g. a gateway's own committed log).

        Raises:
            LifecycleError: with ``check``, at the first event that breaks a rule.
        """
        state = cls()
        for index, entry in entries:
            if check:
                state.check(entry, index)
            state.apply(entry, index)
        return state

    def status(self, subject: str) -> SubjectState | None:
        """The state of key ``subject`` (``bird:0001``, or a foreign key
        ``farm-a.example/log|bird:0001``), or None if no event concerns it."""
        return self._states.get(subject)

    def subjects(self) -> Iterator[str]:
        """Every key with a state, in the order they were first met."""
        return iter(self._states)

    def keys_of(self, subject: str) -> tuple[str, ...]:
        """Every key of plain ``subject`` (``bird:0001``) with a state: itself if this log
        records it, then its foreign keys in the order references introduced them."""
        return self._keys.keys_of(subject)

    # -- judging -----------------------------------------------------------------

    def check(self, entry: Entry, index: int) -> None:
        """Judge ``entry``, which would be log entry ``index``, against the state (no change).

        Entries other than events always pass.

        Raises:
            LifecycleError: the event breaks a rule of the module docstring, or
                names a subject ambiguously across logs; the message names the
                event, the subject (and its log, for a foreign key), and the
                earlier entry that contradicts it (the error's ``index`` is
                ``index``, its ``subject`` the subject without its log).
        """
        if entry.type != "event":
            return
        payload = entry.payload
        event = str(payload["event"])
        keys = self._keys.for_event(payload, index)
        states: Mapping[str, SubjectState] = self._states
        if keys.seeds:
            states = ChainMap(dict(keys.seeds), self._states)
        rule = Rules(states, event, index)
        for subject, problem in keys.problems:
            rule.fail(subject, problem)
        judge = getattr(rule, event)
        for subject in keys.subjects:
            judge(subject, payload)
        if event == "slaughtered":
            for output in keys.outputs:
                rule.new(output, "produced")
        elif event == "packed":
            rule.new(keys.outputs[0], "packed")
        for subject in keys.subjects:
            state = states.get(subject)
            if state is not None and state.last_ts > entry.ts and kind_of(subject) in ITEM_KINDS:
                rule.fail(
                    subject,
                    f"has a later event: ts {entry.ts} precedes ts {state.last_ts} of "
                    f"entry {state.last_index} (no time travel)",
                    state.last_index,
                )

    def withdrawal_breach(self, entry: Entry, index: int) -> WithdrawalBreach | None:
        """The breach if ``entry`` (log entry ``index``) slaughters a bird inside a
        withdrawal period the state holds; None for every other entry (no change).

        Call it before :meth:`apply` records the entry.
        """
        if entry.type != "event" or entry.payload["event"] != "slaughtered":
            return None
        subject = self._keys.for_event(entry.payload, index).subjects[0]
        bird = self._states.get(subject)
        if bird is None:
            return None
        period = later(period_of(bird), self._carried.get(subject), self._barn_period(bird))
        # A treatment dated after the slaughter (a barn's, logged before a late slaughter
        # entry) did not reach the bird.
        if period is None or not period[2] <= entry.ts < period[0]:
            return None
        return WithdrawalBreach(subject, index, entry.ts, period[1], period[0])

    def _barn_period(self, bird: SubjectState) -> Period | None:
        if bird.barn is None:
            return None
        return barn_period_reaching(bird, self._states.get(f"barn:{bird.barn}"))

    # -- recording ---------------------------------------------------------------

    def apply(self, entry: Entry, index: int) -> None:
        """Record event ``entry`` at log ``index`` (other entry types are ignored).

        Never raises for a valid entry, even one that :meth:`check` rejects
        (an auditor replays a bad log to the end): what the event says is
        recorded, and whatever it contradicts keeps its first value.
        """
        if entry.type != "event":
            return
        payload = entry.payload
        event, ts = str(payload["event"]), entry.ts
        keys = self._keys.for_event(payload, index)
        for key, seeded in keys.seeds.items():
            self._states[key] = seeded
            self._keys.introduce(key)
        for subject in keys.subjects:
            state = self._touch(subject, index, ts)
            if state is None:
                continue
            changes: dict[str, Any] = {}
            if event in ("placed", "moved"):
                carried = later(self._carried.get(subject), self._barn_period(state))
                if carried is not None:
                    self._carried[subject] = carried
                barn = str(payload["barn"])
                changes = {"barn": barn, "placed": index}
                place = self._states.get(f"barn:{barn}") or SubjectState(f"barn:{barn}")
                if place.created is None:
                    self._states[place.subject] = replace(place, created=index)
            elif event == "shipped":
                changes = {"shipped": index}
            elif event == "received":
                changes = {"shipped": None, "received": index}
            elif event == "treated":
                own = period_of(state)
                end = withdrawal_end(ts, payload)
                if own is None or end > own[0]:
                    changes = {"withdrawal_until": end, "withdrawal_index": index}
                    changes["withdrawal_from"] = ts
            else:
                field = _FIRST.get(event)
                if field is not None and getattr(state, field) is None:
                    changes = {field: index}
            if changes:
                self._states[subject] = replace(state, **changes)
        parents = keys.subjects
        for output in keys.outputs:
            state = self._touch(output, index, ts)
            if state is not None and state.created is None:
                self._states[output] = replace(state, created=index, parents=parents)

    def _touch(self, subject: str, index: int, ts: int) -> SubjectState | None:
        if kind_of(subject) not in TRACKED_KINDS:
            return None
        state = self._states.get(subject) or SubjectState(subject)
        if ts >= state.last_ts:
            state = replace(state, last_ts=ts, last_index=index)
        self._states[subject] = state
        return state

    def recalled_through(self, subject: str) -> tuple[str, int] | None:
        """``(recalled key, recall index)`` if key ``subject`` or its lineage was recalled.

        The lineage is the subject itself, a pack's or lot's contents and the
        birds their carcasses or cuts came from, by their keys (a carcass the
        plant produced has its foreign bird as parent); barn recalls are not
        followed.
        """
        return recalled_through(self._states, subject)


class EventSource(Protocol):
    """What :func:`state_for` reads: a store's event indexes and entries."""

    def subject_events(self, subject: str) -> Sequence[int]:
        """Indexes of the events about ``subject`` (including derived subjects), in log order."""
        ...

    def event_indexes(self) -> Sequence[int]:
        """Indexes of every event, in log order."""
        ...

    def entry(self, index: int) -> bytes:
        """The exact bytes of entry ``index``."""
        ...


def state_for(source: EventSource, subjects: Iterable[str]) -> LifecycleState:
    """The state of ``subjects`` and their lineage, from only the events that concern them.

    Pass every subject of the event to check, including the ones it creates
    (:func:`chain.store.entry_subjects`); for a foreign key
    (:func:`chain.crosslog.foreign_key`) the events about its subject are
    read, from every log (they tell which log's subject a plain name means).
    The result judges that event as a replay of the whole log would: each
    subject's events are read through the store's subject index, a pack's
    or lot's contents and a carcass's or cut's bird are followed (a recall
    reaches a pack through them), and for a barn every placed or moved
    event is read (they do not name barns as subjects). The state of other
    subjects may be partial.

    Raises:
        KeyError: an indexed entry is missing from ``source``.
        MalformedEntryError: a stored entry does not parse.
    """
    entries: dict[int, Entry] = {}
    seen: set[str] = set()
    todo = list(subjects)
    while todo:
        subject = split_foreign(todo.pop())[1]
        if subject in seen or kind_of(subject) not in TRACKED_KINDS:
            continue
        seen.add(subject)
        if kind_of(subject) == "barn":
            barn = subject.partition(":")[2]
            for index in source.event_indexes():
                entry = entries.get(index) or parse_entry(source.entry(index))
                if entry.payload["event"] in ("placed", "moved") and entry.payload["barn"] == barn:
                    entries[index] = entry
        for index in source.subject_events(subject):
            entry = entries[index] = entries.get(index) or parse_entry(source.entry(index))
            if subject in event_outputs(entry.payload):
                todo.extend(entry.payload["subjects"])
    return LifecycleState.from_entries(sorted(entries.items()), check=False)
