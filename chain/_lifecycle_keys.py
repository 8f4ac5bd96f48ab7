"""Which state each subject of an event names, across logs (private to :mod:`chain.lifecycle`).

Inside a log, a subject that one of an event's references (``refs``,
:mod:`chain.crosslog`) names is keyed by the pair (the referenced log, the
subject): :func:`chain.crosslog.foreign_key`. Its first such event *seeds*
its state with what the reference asserts (:func:`seed`). A subject named
without a reference resolves to the one key the log knows it by: itself when
the log records it, or the one foreign key a reference introduced; known
from two or more logs, it is ambiguous and the event must name it with a ref.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from chain._lifecycle_rules import TRACKED_KINDS, SubjectState, kind_of
from chain.crosslog import foreign_key, refs_in, split_foreign
from chain.entries import event_outputs

__all__ = ["EventKeys", "SubjectKeys", "seed"]

_NO_SEEDS: Mapping[str, SubjectState] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EventKeys:
    """The keys of one event's ``subjects`` and outputs, in payload order.

    ``seeds``: the states its references introduce (foreign keys the log has
    no state for yet). ``problems``: ``(subject, problem)`` for each subject
    the event names ambiguously; its key is then the first reference's
    foreign key, or without a reference the plain subject.
    """

    subjects: tuple[str, ...]
    outputs: tuple[str, ...]
    seeds: Mapping[str, SubjectState]
    problems: tuple[tuple[str, str], ...]


def seed(key: str, event: str, index: int) -> SubjectState:
    """The state a reference in event kind ``event`` (log entry ``index``) asserts for ``key``.

    The reference names, in the other log, an entry of a kind
    :data:`chain.crosslog.REFERABLE` allows for ``event``; each of those
    kinds leaves the subject as ``event`` needs it. So: created (a hatched
    bird, alive, barn unknown here; a produced carcass or cut; a packed pack
    or lot, held), and also slaughtered for a bird a ``packed`` takes, and in
    transit (shipped) for what a ``received`` takes. The entry numbers are
    ``index``: the entry that brought the subject into this log.
    """
    if event == "received":
        return SubjectState(key, created=index, shipped=index)
    if event == "packed" and kind_of(key) == "bird":
        return SubjectState(key, created=index, slaughtered=index)
    return SubjectState(key, created=index)


class SubjectKeys:
    """The foreign keys a log knows each subject by, over a live ``states`` mapping.

    ``states`` is the lifecycle's own dict of states, read (never written) here.
    """

    def __init__(self, states: Mapping[str, SubjectState]) -> None:
        self._states = states
        self._foreign: dict[str, list[str]] = {}

    def keys_of(self, subject: str) -> tuple[str, ...]:
        """Every key of plain ``subject``: itself if the log records it, then its foreign
        keys in the order references introduced them."""
        local = (subject,) if subject in self._states else ()
        return (*local, *self._foreign.get(subject, ()))

    def introduce(self, key: str) -> None:
        """Record that foreign ``key`` now has a state (call once, when its seed is stored)."""
        origin, subject = split_foreign(key)
        if origin is not None:
            self._foreign.setdefault(subject, []).append(key)

    def for_event(self, payload: Mapping[str, Any], index: int) -> EventKeys:
        """The keys of a valid event ``payload`` that would be log entry ``index``."""
        named: dict[str, list[str]] = {}
        for ref in refs_in(payload):
            origins = named.setdefault(ref.subject, [])
            if ref.log not in origins:
                origins.append(ref.log)
        event = str(payload["event"])
        problems: list[tuple[str, str]] = []
        seeds: dict[str, SubjectState] = {}
        subjects: list[str] = []
        for subject in payload["subjects"]:
            origins = named.get(subject, [])
            if not origins:
                subjects.append(self._resolve(subject, problems))
                continue
            if len(origins) > 1:
                problems.append(
                    (
                        subject,
                        f"is named by references to {len(origins)} logs ({', '.join(origins)}); "
                        "a subject's references name one log",
                    )
                )
            key = foreign_key(origins[0], subject)
            if key not in self._states and kind_of(subject) in TRACKED_KINDS:
                seeds[key] = seed(key, event, index)
            subjects.append(key)
        outputs = tuple(self._resolve(output, problems) for output in event_outputs(payload))
        return EventKeys(tuple(subjects), outputs, seeds or _NO_SEEDS, tuple(problems))

    def _resolve(self, subject: str, problems: list[tuple[str, str]]) -> str:
        keys = self.keys_of(subject)
        if len(keys) == 1:
            return keys[0]
        if keys:
            logs = ", ".join(split_foreign(key)[0] or "this log" for key in keys)
            problems.append(
                (subject, f"is known from {len(keys)} logs ({logs}); name it with a ref")
            )
        return subject
