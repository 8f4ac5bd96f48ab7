"""The lifecycle rules, one method per event kind (private to :mod:`chain.lifecycle`).

Kept apart so that each file reads in one sitting; the rules are listed in
:mod:`chain.lifecycle`'s docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from chain.crosslog import split_foreign
from chain.errors import LifecycleError

__all__ = [
    "ITEM_KINDS",
    "TRACKED_KINDS",
    "Rules",
    "SubjectState",
    "describe",
    "kind_of",
    "recalled_through",
]

ITEM_KINDS = frozenset({"bird", "carcass", "cut", "pack", "lot"})
"""Subject kinds that are things with a lifecycle (barns are places)."""

TRACKED_KINDS = ITEM_KINDS | {"barn"}
"""Subject kinds with a :class:`SubjectState`."""


@dataclass(frozen=True, slots=True)
class SubjectState:
    """What the log records of one item or barn; every number but ``last_ts`` is an entry index.

    ``subject`` is the state's key: the subject, or for a subject another log
    recorded, :func:`chain.crosslog.foreign_key` of that log and the subject.
    ``created``: the event that brought it into being (a bird's hatched, a
    carcass's or cut's slaughtered, a pack's or lot's packed; for a barn the
    first placed or moved event that put a bird in it). ``barn``: a bird's
    current barn, since ``placed`` (a placed or moved event). ``died``,
    ``slaughtered``: the first such event. ``packed``: the packed event that
    took it. ``shipped``: the shipment it is in transit with (None when not in
    transit); ``received``: its latest receipt. ``recalled``: the first
    recalled event naming it. ``last_ts``/``last_index``: its latest event by
    ``ts`` (-1/None: none). ``parents``: a carcass's or cut's bird, a pack's
    or lot's contents. ``withdrawal_until``: the end (ms) of the latest-ending
    withdrawal period of the ``treated`` events naming it, set by entry
    ``withdrawal_index`` at ``withdrawal_from`` (its ``ts``; all None: never
    treated).
    """

    subject: str
    created: int | None = None
    barn: str | None = None
    placed: int | None = None
    died: int | None = None
    slaughtered: int | None = None
    packed: int | None = None
    shipped: int | None = None
    received: int | None = None
    recalled: int | None = None
    last_ts: int = -1
    last_index: int | None = None
    parents: tuple[str, ...] = ()
    withdrawal_until: int | None = None
    withdrawal_index: int | None = None
    withdrawal_from: int | None = None


def kind_of(subject: str) -> str:
    """``bird`` for ``bird:0001`` and for a foreign key ``farm-a.example/log|bird:0001``."""
    return subject[subject.rfind("|") + 1 :].partition(":")[0]


def describe(key: str) -> str:
    """How messages name a state's key: ``bird:0001``, or ``bird:0001 of farm-a.example/log``."""
    origin, subject = split_foreign(key)
    return subject if origin is None else f"{subject} of {origin}"


def recalled_through(states: Mapping[str, SubjectState], subject: str) -> tuple[str, int] | None:
    """The recalled key and recall index that reach key ``subject`` (itself or its parents)."""
    state = states.get(subject)
    if state is None:
        return None
    if state.recalled is not None:
        return subject, state.recalled
    for parent in state.parents:  # depth <= 2: pack -> carcass -> bird
        found = recalled_through(states, parent)
        if found is not None:
            return found
    return None


class Rules:
    """The rules of one event at log ``index``: a method per event kind, called per subject key.

    Each method raises :class:`~chain.errors.LifecycleError` when its rule
    fails; the error's ``subject`` is the subject without its log, the
    message names the log of a foreign key (:func:`describe`).
    """

    def __init__(self, states: Mapping[str, SubjectState], event: str, index: int) -> None:
        self.states, self.event, self.index = states, event, index

    def fail(self, subject: str, problem: str, earlier: int | None = None) -> NoReturn:
        raise LifecycleError(
            f"{self.event}: {describe(subject)} {problem}",
            subject=split_foreign(subject)[1],
            event=self.event,
            index=self.index,
            existing_index=earlier,
        )

    def get(self, subject: str) -> SubjectState:
        return self.states.get(subject) or SubjectState(subject)

    def new(self, subject: str, verb: str) -> None:
        state = self.get(subject)
        if state.created is not None:
            self.fail(subject, f"already exists: {verb} by entry {state.created}", state.created)

    def living_bird(self, subject: str) -> SubjectState:
        state = self.get(subject)
        if state.created is None:
            self.fail(subject, "was never hatched")
        if state.died is not None:
            self.fail(subject, f"was recorded dead in entry {state.died}", state.died)
        if state.slaughtered is not None:
            self.fail(subject, f"was slaughtered in entry {state.slaughtered}", state.slaughtered)
        return state

    def hatched(self, subject: str, payload: Any) -> None:
        state = self.get(subject)
        if state.created is not None:
            self.fail(subject, f"was already hatched in entry {state.created}", state.created)

    def placed(self, subject: str, payload: Any) -> None:
        state = self.living_bird(subject)
        if state.barn is not None:
            self.fail(
                subject,
                f"is already in barn {state.barn} (entry {state.placed}); "
                "a change of barn is a moved event",
                state.placed,
            )

    def moved(self, subject: str, payload: Any) -> None:
        state = self.living_bird(subject)
        barn, origin = payload["barn"], payload.get("from_barn")
        if state.barn is None:
            self.fail(subject, "was never placed in a barn")
        where = f"is in barn {state.barn} (entry {state.placed})"
        if barn == state.barn:
            self.fail(subject, f"{where} already", state.placed)
        if origin is not None and origin != state.barn:
            self.fail(subject, f"{where}, not in from_barn {origin}", state.placed)

    def vaccinated(self, subject: str, payload: Any) -> None:
        self.living_bird(subject)

    died = vaccinated

    def inspected(self, subject: str, payload: Any) -> None:
        if kind_of(subject) == "bird":
            self.living_bird(subject)

    treated = inspected

    def slaughtered(self, subject: str, payload: Any) -> None:
        self.living_bird(subject)

    def packed(self, subject: str, payload: Any) -> None:
        state = self.get(subject)
        if kind_of(subject) == "bird":
            if state.created is None:
                self.fail(subject, "was never hatched")
            if state.slaughtered is None:
                self.fail(subject, "was never slaughtered", state.died)
        elif state.created is None:
            self.fail(subject, "was never produced by a slaughtered event")
        if state.packed is not None:
            self.fail(subject, f"was already packed in entry {state.packed}", state.packed)

    def shipped(self, subject: str, payload: Any) -> None:
        state = self.get(subject)
        if state.created is None:
            self.fail(subject, "was never packed")
        if state.shipped is not None:
            self.fail(
                subject,
                f"is already in transit: shipped in entry {state.shipped}, not yet received",
                state.shipped,
            )
        recall = recalled_through(self.states, subject)
        if recall is not None:
            what, index = recall
            through = "" if what == subject else f" (through {describe(what)})"
            self.fail(subject, f"was recalled in entry {index}{through}", index)

    def received(self, subject: str, payload: Any) -> None:
        state = self.get(subject)
        if state.created is None:
            self.fail(subject, "was never packed")
        if state.shipped is None:
            if state.received is None:
                self.fail(subject, "is not in transit: it was never shipped")
            self.fail(
                subject,
                f"is not in transit: it was received in entry {state.received}",
                state.received,
            )

    def recalled(self, subject: str, payload: Any) -> None:
        kind = kind_of(subject)
        if kind not in TRACKED_KINDS:
            self.fail(
                subject, "cannot be recalled: expected a bird, carcass, cut, pack, lot or barn"
            )
        if self.get(subject).created is None:
            what = "no bird was ever placed in it" if kind == "barn" else "no event created it"
            self.fail(subject, f"is not a known {kind}: {what}")
