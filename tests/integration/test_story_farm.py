"""The story farm: a complete signed farm-to-shelf log that audits, indexes and repeats."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.audit import audit_store
from chain.entries import Entry, packing_day, parse_entry
from chain.keyfile import load_key
from chain.store import Store
from demo.story_farm import StoryFarm, StoryManifest, best_before, build_story_log
from gateway.datadir import DataDir

SMALL = StoryFarm(days=2, barns=1, birds=3, shelf_birds=2, lot_birds=0, block_size=97)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataDir, StoryManifest]:
    data_dir = DataDir(tmp_path_factory.mktemp("story") / "data")
    return data_dir, build_story_log(data_dir)


def _entries(store: Store, subject: str) -> list[Entry]:
    return [parse_entry(store.entry(i)) for i in store.subject_entries(subject)]


def _events(store: Store, subject: str, event: str) -> list[Entry]:
    return [
        e for e in _entries(store, subject) if e.type == "event" and e.payload["event"] == event
    ]


def _all(store: Store) -> Iterator[Entry]:
    for index in range(store.entry_count):
        yield parse_entry(store.entry(index))


def test_the_story_audits_clean(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, manifest = story
    with Store.open(data_dir.log) as store:
        report = audit_store(store, manifest.trust, jobs=1)
        assert report.ok, report.to_text()
        assert report.gaps == []
        assert report.entries == manifest.entries == store.entry_count
        assert report.blocks == manifest.blocks == store.size
        assert store.checkpoint_sizes() == list(range(1, store.size + 1))


def test_every_pack_leads_back_to_its_bird(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, manifest = story
    assert len(manifest.packs) == 5 and len(manifest.lots) == 1
    goods: list[tuple[str, tuple[str, ...], int]]
    goods = [(p.subject, (p.bird,), p.weight_g) for p in manifest.packs]
    goods += [(lot.subject, lot.birds, lot.weight_g) for lot in manifest.lots]
    with Store.open(data_dir.log) as store:
        for subject, birds, weight_g in goods:
            [packed] = _events(store, subject, "packed")
            assert packed.kid == manifest.operators["plant"]
            assert packed.payload["weight_g"] == weight_g > 0
            found = []
            for carcass in packed.payload["subjects"]:
                [slaughtered] = _events(store, carcass, "slaughtered")
                [bird] = slaughtered.payload["subjects"]
                found.append(bird.removeprefix("bird:"))
                assert slaughtered.ts < packed.ts
            assert tuple(found) == birds
            chain = [e.payload["event"] for e in _entries(store, subject) if e.type == "event"]
            recalled = ["recalled"] if subject == manifest.packs[-1].subject else []
            assert chain == ["packed", "shipped", "received", "shipped", "received", *recalled]


def test_the_manifest_matches_the_log(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, manifest = story
    with Store.open(data_dir.log) as store:
        entries = list(_all(store))
        last_seqs = {kid: max(store.signer_seqs(kid)) for kid in manifest.last_seqs}
    types = Counter(e.type for e in entries)
    assert types["reading"] == manifest.readings and types["event"] == manifest.events
    assert sum(types.values()) == manifest.entries
    assert dict(manifest.last_seqs) == last_seqs
    assert [e.ts for e in entries] == sorted(e.ts for e in entries)  # interleaved by time
    devices = {e.payload["dev"]: e.payload for e in entries if e.type == "device"}
    assert set(devices) == {d.id for d in manifest.devices}
    for device in manifest.devices:
        assert devices[device.id]["location"] == device.location
        assert devices[device.id]["kinds"] == device.kinds
        reported = {e.payload["subject"] for e in entries if e.key[0] == device.id}
        assert reported == {device.subject}
    roles = {e.payload["op"]: e.payload["roles"] for e in entries if e.type == "operator"}
    assert {op: (role,) for role, op in manifest.operators.items()} | {
        manifest.admin: ("admin",)
    } == roles
    tags = [d for d in manifest.devices if d.subject.startswith("bird:")]
    assert [d.subject for d in tags] == [f"bird:{b}" for b in manifest.birds]
    assert {d.location for d in manifest.devices if d not in tags} == {
        f"barn:{b}" for b in manifest.barns
    }


def test_birds_live_their_stays(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, manifest = story
    moved = [b for b in manifest.birds if len(manifest.stays[b]) == 2]
    assert moved == ["0002", "0006", "0010"]
    shelf = {p.bird for p in manifest.packs} | {b for lot in manifest.lots for b in lot.birds}
    with Store.open(data_dir.log) as store:
        for bird in manifest.birds:
            stays = manifest.stays[bird]
            [hatched] = _events(store, f"bird:{bird}", "hatched")
            assert hatched.payload["breed"] == "Ross 308" and hatched.ts < stays[0].start_ms
            [placed] = _events(store, f"bird:{bird}", "placed")
            assert (placed.payload["barn"], placed.ts) == (stays[0].barn, stays[0].start_ms)
            moves = _events(store, f"bird:{bird}", "moved")
            assert [(m.payload["from_barn"], m.payload["barn"], m.ts) for m in moves] == [
                (a.barn, b.barn, b.start_ms) for a, b in itertools.pairwise(stays)
            ]
            assert _events(store, f"bird:{bird}", "vaccinated")
            kinds = Counter(
                e.payload["kind"] for e in _entries(store, f"bird:{bird}") if e.type == "reading"
            )
            assert kinds["activity"] > 0 and kinds["weight"] > 0
            last = max(e.ts for e in _entries(store, f"bird:{bird}") if e.type == "reading")
            assert last < stays[-1].end_ms <= manifest.end_ms
            assert (stays[-1].end_ms < manifest.end_ms) == (bird in shelf)
        for barn in manifest.barns:
            checks = _events(store, f"barn:{barn}", "inspected")
            assert checks and all(c.kid == manifest.operators["vet"] for c in checks)
        [failure] = manifest.excursions
        results = [c.payload["result"] for c in _events(store, "barn:b1", "inspected")]
        assert "fail" in results
        hot = [
            e.payload["value"]
            for e in _entries(store, "barn:b1")
            if e.type == "reading"
            and e.payload["kind"] == "temperature"
            and failure.start_ms <= e.ts < failure.end_ms
        ]
        assert hot and max(hot) > 30


def test_operator_keys_are_saved_in_the_data_dir(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, manifest = story
    with Store.open(data_dir.log) as store:
        [registration] = _entries(store, f"operator:{manifest.operators['plant']}")
    key = load_key(data_dir.signer_key(manifest.operators["plant"]))
    assert registration.public_key == key.public_key
    assert load_key(data_dir.signer_key(manifest.admin)).id == manifest.admin


def _block_hashes(data_dir: DataDir) -> list[str]:
    with Store.open(data_dir.log) as store:
        return [store.block(h).hash for h in range(store.size)]


def test_the_same_seed_builds_the_same_log(tmp_path: Path) -> None:
    first = build_story_log(DataDir(tmp_path / "a"), SMALL)
    again = build_story_log(DataDir(tmp_path / "b"), SMALL, jobs=2)
    other = build_story_log(DataDir(tmp_path / "c"), dataclasses.replace(SMALL, seed=8))
    # Only the log's checkpoint key is random (made by gateway.init).
    assert dataclasses.replace(again, trust=first.trust) == first
    assert _block_hashes(DataDir(tmp_path / "a")) == _block_hashes(DataDir(tmp_path / "b"))
    assert _block_hashes(DataDir(tmp_path / "a")) != _block_hashes(DataDir(tmp_path / "c"))
    assert other.birds == first.birds and other.packs != first.packs  # other weights


def test_a_small_farm_without_lot_or_moves_still_tells_the_whole_story(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "small")
    manifest = build_story_log(data_dir, SMALL)
    assert manifest.lots == () and [p.bird for p in manifest.packs] == ["0001", "0002"]
    assert all(len(stays) == 1 for stays in manifest.stays.values())
    assert manifest.packs[-1].recalled and not manifest.packs[0].recalled
    with Store.open(data_dir.log) as store:
        assert audit_store(store, manifest.trust, jobs=1).ok
        assert manifest.blocks == -(-(manifest.entries - 1) // 97) + 1  # + genesis


def test_a_longer_farm_has_weekly_checks_and_a_booster(tmp_path: Path) -> None:
    farm = StoryFarm(
        days=11,
        barns=1,
        birds=2,
        shelf_birds=1,
        lot_birds=0,
        env_interval_ms=3_600_000,
        activity_interval_ms=4 * 3_600_000,
        weight_interval_ms=12 * 3_600_000,
        block_size=1000,
    )
    data_dir = DataDir(tmp_path / "long")
    manifest = build_story_log(data_dir, farm)
    with Store.open(data_dir.log) as store:
        report = audit_store(store, manifest.trust, jobs=1)
        assert report.ok
        weekly = [
            c for c in _events(store, "barn:b1", "inspected") if c.payload["result"] == "pass"
        ]
        assert len(weekly) == 2
        vaccines = [v.payload["vaccine"] for v in _events(store, "bird:0001", "vaccinated")]
        assert vaccines == ["Marek's disease (HVT)", "Newcastle disease (La Sota)"]
        # The first bird's antibiotic course, its withdrawal period over long before slaughter.
        [treated] = _events(store, "bird:0001", "treated")
        [slaughtered] = _events(store, "bird:0001", "slaughtered")
        assert treated.kid == manifest.operators["vet"] and treated.payload["medicine"]
        assert treated.ts + treated.payload["withdrawal_days"] * 86_400_000 < slaughtered.ts
        assert not _events(store, "bird:0002", "treated")
        assert [w.reason for w in report.warnings] == []  # no withdrawal_period warning
        [packed] = _events(store, "carcass:0001", "packed")
        assert packed.payload["product"] == "Whole chicken"
        assert packed.payload["best_before"] == best_before(packed.ts) > packing_day(packed.ts)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"days": 1}, "days: expected >= 2"),
        ({"birds": 2, "shelf_birds": 3}, "shelf_birds: expected <= birds=2"),
        ({"shelf_birds": 3, "lot_birds": 3}, "lot_birds: expected < shelf_birds=3"),
        ({"gtin": "09506000134353"}, "gtin: expected a valid 14-digit GTIN"),
        ({"gtin": "4006381333931"}, "gtin: expected a valid 14-digit GTIN"),
        ({"block_size": 0}, "block_size: expected >= 1"),
        ({"env_interval_ms": 10}, "env_interval_ms: expected >= 1000 ms"),
        ({"farm_id": "a farm"}, "farm_id"),
    ],
)
def test_bad_farms_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(StoryFarm(), **changes)  # type: ignore[arg-type]


def test_a_data_dir_is_never_overwritten(story: tuple[DataDir, StoryManifest]) -> None:
    data_dir, _ = story
    with pytest.raises(FileExistsError):
        build_story_log(data_dir)
