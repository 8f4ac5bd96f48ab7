"""The story farm's log keeps every lifecycle rule; its event index and state_for agree with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.entries import Entry, parse_entry
from chain.errors import LifecycleError
from chain.lifecycle import LifecycleState, state_for
from chain.store import Store, entry_subjects
from demo.story_farm import StoryFarm, StoryLot, StoryManifest, StoryPack, build_story_log
from gateway.datadir import DataDir

# Several barns, birds moved between them, a lot and a recall: every kind of event.
FARM = StoryFarm(days=3, barns=3, birds=15, shelf_birds=9, lot_birds=3, move_every=3)


class Upto:
    """The events of a store before log index ``end``: the store as it stood then."""

    def __init__(self, store: Store, end: int) -> None:
        self.store, self.end = store, end

    def subject_events(self, subject: str) -> list[int]:
        return [i for i in self.store.subject_events(subject) if i < self.end]

    def event_indexes(self) -> list[int]:
        return [i for i in self.store.event_indexes() if i < self.end]

    def entry(self, index: int) -> bytes:
        return self.store.entry(index)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoryManifest]:
    data_dir = DataDir(tmp_path_factory.mktemp("lifecycle") / "data")
    return data_dir.log, build_story_log(data_dir, FARM)


@pytest.fixture
def store(story: tuple[Path, StoryManifest]) -> Iterator[Store]:
    with Store.open(story[0]) as store:
        yield store


def events(store: Store) -> list[tuple[int, Entry]]:
    return [(i, parse_entry(store.entry(i))) for i in store.event_indexes()]


def test_the_event_index_lists_exactly_the_events_in_log_order(
    store: Store, story: tuple[Path, StoryManifest]
) -> None:
    brute = [i for i in range(store.entry_count) if parse_entry(store.entry(i)).type == "event"]
    assert store.event_indexes() == brute and len(brute) == story[1].events
    for subject in ("bird:0001", "barn:b1", story[1].packs[0].subject, "carcass:0002"):
        expected = [i for i, e in events(store) if subject in entry_subjects(e)]
        assert store.subject_events(subject) == expected and expected


def test_replaying_the_story_breaks_no_rule(
    store: Store, story: tuple[Path, StoryManifest]
) -> None:
    state = LifecycleState.from_entries(events(store))
    kinds = {e.payload["event"] for _, e in events(store)}
    assert kinds == {
        *("hatched", "vaccinated", "placed", "inspected", "moved", "slaughtered"),
        *("packed", "shipped", "received", "recalled"),
    }
    manifest = story[1]
    goods: list[StoryPack | StoryLot] = [*manifest.packs, *manifest.lots]
    for good in goods:
        pack = state.status(good.subject)
        assert pack is not None and pack.created is not None and pack.received is not None
        assert (pack.recalled is not None) == good.recalled and pack.shipped is None
    for bird, stays in manifest.stays.items():
        status = state.status(f"bird:{bird}")
        assert status is not None and status.barn == stays[-1].barn


def test_state_for_agrees_with_the_full_replay_for_every_subject(store: Store) -> None:
    full = LifecycleState.from_entries(events(store))
    subjects = list(full.subjects())
    assert len(subjects) > 30
    for subject in subjects:
        assert state_for(store, [subject]).status(subject) == full.status(subject), subject


def test_state_for_judges_each_event_and_its_replay_as_the_full_replay(store: Store) -> None:
    """Each event passes against the log before it; sent again just after, both agree."""
    full = LifecycleState()
    verdicts = {"accepted": 0, "refused": 0}
    for index, entry in events(store):
        subjects = entry_subjects(entry)
        state_for(Upto(store, index), subjects).check(entry, index)
        full.check(entry, index)
        full.apply(entry, index)
        again = [
            _verdict(s, entry, index + 1)
            for s in (full, state_for(Upto(store, index + 1), subjects))
        ]
        assert again[0] == again[1]
        verdicts["accepted" if again[0] is None else "refused"] += 1
    assert verdicts["accepted"] and verdicts["refused"]


def _verdict(state: LifecycleState, entry: Entry, index: int) -> str | None:
    try:
        state.check(entry, index)
    except LifecycleError as exc:
        return str(exc)
    return None
