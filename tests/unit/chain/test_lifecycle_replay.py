"""state_for judges an event as a replay of the whole log does, on random logs.

The logs are what a gateway that skipped the rules might write: every event is
kept, accepted or not, so the states also cover what :meth:`apply` records of
refused events.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.entries import Entry, event_payload, parse_entry, sign_entry
from chain.errors import LifecycleError
from chain.lifecycle import LifecycleState, state_for
from chain.store import entry_subjects

T0 = 1_767_225_600_000
SEED = bytes([6]) * 32
GTIN = "09506000134352"
BIRDS = ["bird:1", "bird:2", "bird:3"]
OUTPUTS = ["carcass:1", "carcass:2", "carcass:3", "cut:1"]
GOODS = [f"pack:{GTIN}.S1", f"pack:{GTIN}.S2", f"lot:{GTIN}.L1"]
BARNS = ["b1", "b2"]


class MemorySource:
    """The first entries of a log, held in memory, indexed as the store indexes them."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries
        self.subjects = [entry_subjects(e) for e in entries]

    def subject_events(self, subject: str) -> list[int]:
        return [i for i, subjects in enumerate(self.subjects) if subject in subjects]

    def event_indexes(self) -> list[int]:
        return list(range(len(self.entries)))

    def entry(self, index: int) -> bytes:
        return self.entries[index].raw


def some(items: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=1, max_size=2, unique=True)


_EVENTS: dict[str, st.SearchStrategy[tuple[list[str], dict[str, object]]]] = {
    "hatched": st.tuples(some(BIRDS), st.just({"breed": "Ross 308"})),
    "placed": st.tuples(some(BIRDS), st.fixed_dictionaries({"barn": st.sampled_from(BARNS)})),
    "moved": st.tuples(
        some(BIRDS),
        st.fixed_dictionaries(
            {"barn": st.sampled_from(BARNS)}, optional={"from_barn": st.sampled_from(BARNS)}
        ),
    ),
    "vaccinated": st.tuples(some(BIRDS), st.just({"vaccine": "ND"})),
    "treated": st.tuples(
        some([*BIRDS, "barn:b1"]), st.just({"medicine": "Amoxicillin", "withdrawal_days": 1})
    ),
    "inspected": st.tuples(some([*BIRDS, "barn:b1", "barn:b2"]), st.just({"result": "pass"})),
    "died": st.tuples(some(BIRDS), st.just({})),
    "slaughtered": st.tuples(
        st.lists(st.sampled_from(BIRDS), min_size=1, max_size=1),
        st.fixed_dictionaries({"plant": st.just("P"), "outputs": some(OUTPUTS)}),
    ),
    "packed": st.tuples(
        some(BIRDS + OUTPUTS),
        st.one_of(
            st.fixed_dictionaries({"gtin": st.just(GTIN), "serial": st.sampled_from(["S1", "S2"])}),
            st.just({"gtin": GTIN, "lot": "L1"}),
        ),
    ),
    "shipped": st.tuples(some(GOODS), st.just({"destination": "DC"})),
    "received": st.tuples(some(GOODS), st.just({"location": "DC"})),
    "recalled": st.tuples(
        some(BIRDS + OUTPUTS + GOODS + ["barn:b1", "barn:b2", "feeder:f1"]),
        st.just({"reason": "test"}),
    ),
}


_Event = tuple[str, list[str], dict[str, object]]


@st.composite
def stories(draw: st.DrawFn) -> list[_Event]:
    """A mostly valid story of the three birds, so that deep states are reached."""
    story: list[_Event] = [("hatched", BIRDS, {"breed": "Ross 308"})]
    barns = {bird: draw(st.sampled_from(BARNS)) for bird in BIRDS}
    story += [("placed", [bird], {"barn": barn}) for bird, barn in barns.items()]
    for bird in draw(st.lists(st.sampled_from(BIRDS), max_size=2, unique=True)):
        story.append(("moved", [bird], {"barn": "b2" if barns[bird] == "b1" else "b1"}))
    dead = draw(st.sampled_from([None, *BIRDS]))
    if dead is not None:
        story.append(("died", [dead], {}))
    outputs = {"bird:1": ["carcass:1", "cut:1"], "bird:2": ["carcass:2"], "bird:3": ["carcass:3"]}
    for bird, made in outputs.items():
        story.append(("slaughtered", [bird], {"plant": "P", "outputs": made}))
    whole = draw(st.booleans())  # bird:3 packed whole, or its carcass
    story.append(("packed", ["carcass:1"], {"gtin": GTIN, "serial": "S1"}))
    story.append(("packed", ["carcass:2", "cut:1"], {"gtin": GTIN, "serial": "S2"}))
    story.append(("packed", ["bird:3" if whole else "carcass:3"], {"gtin": GTIN, "lot": "L1"}))
    story.append(("shipped", GOODS, {"destination": "DC"}))
    if draw(st.booleans()):
        recalled = draw(st.sampled_from([*BIRDS, *OUTPUTS, *GOODS, "barn:b1"]))
        story.append(("recalled", [recalled], {"reason": "test"}))
    story.append(("received", GOODS, {"location": "DC"}))
    story.append(("shipped", GOODS[:2], {"destination": "shop"}))
    return story


@st.composite
def logs(draw: st.DrawFn) -> list[Entry]:
    """A story with random events inserted and neighbours swapped, signed in order."""
    story = draw(stories())
    for _ in range(draw(st.integers(0, 8))):
        event = draw(st.sampled_from(list(_EVENTS)))
        subjects, fields = draw(_EVENTS[event])
        story.insert(draw(st.integers(0, len(story))), (event, subjects, fields))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(story) - 2))
        story[i], story[i + 1] = story[i + 1], story[i]
    entries, ts = [], T0
    for seq, (event, subjects, fields) in enumerate(story, start=1):
        ts += draw(st.sampled_from([0, 1, 1, 1, 1, 1, 1, 1, 1, -1]))  # now and then the past
        payload = event_payload(event, seq, ts, subjects, **fields)
        entries.append(parse_entry(sign_entry(payload, "op", SEED)))
    return entries


def verdict(state: LifecycleState, entry: Entry, index: int) -> str | None:
    try:
        state.check(entry, index)
    except LifecycleError as exc:
        return str(exc)
    return None


@settings(max_examples=150, deadline=None)
@given(logs())
def test_state_for_judges_each_event_as_the_whole_replay_does(entries: list[Entry]) -> None:
    full = LifecycleState()
    for index, entry in enumerate(entries):
        partial = state_for(MemorySource(entries[:index]), entry_subjects(entry))
        assert verdict(partial, entry, index) == verdict(full, entry, index)
        full.apply(entry, index)
    source = MemorySource(entries)
    for subject in full.subjects():
        assert state_for(source, [subject]).status(subject) == full.status(subject)
