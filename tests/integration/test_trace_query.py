"""chain.trace against a brute-force scan of every entry of a story farm's log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from trace_farm import DAY, HOUR, TraceFarm, build_trace_farm
from trace_reference import Reference

from chain import note
from chain.entries import device_payload, parse_entry, reading_payload, sign_entry
from chain.errors import GS1Error, MalformedError
from chain.gs1 import pack_subject
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trace import FOREVER, TraceIndex, TraceItem, TraceResult, check_start, parse_time, trace
from gateway.datadir import DataDir


@dataclass(frozen=True)
class Opened:
    farm: TraceFarm
    store: Store
    reference: Reference


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    farm = build_trace_farm(DataDir(tmp_path_factory.mktemp("trace") / "farm"))
    with Store.open(farm.data_dir.log) as store:
        yield Opened(farm, store, Reference(store))


def _keys(items: tuple[TraceItem, ...]) -> frozenset[tuple[str, str, int]]:
    return frozenset((i.subject, i.relation, i.index) for i in items)


def _check(result: TraceResult, ref: Reference, window: tuple[int, int] | None = None) -> None:
    want = ref.expected(result.start, window)
    assert set(result.birds) == want.birds, result.start
    assert _keys(result.downstream) == want.down, result.start
    assert _keys(result.upstream) == want.up, result.start
    assert _keys(result.recalls) == want.recalls, result.start
    entries = dict(ref.entries)
    for item in (*result.downstream, *result.upstream, *result.recalls):
        entry = entries[item.index]  # every item is a real entry below the limit
        assert item.ts == entry.ts and item.signer == entry.kid
        assert item.event == entry.payload.get("event", entry.type)
    for items in (result.downstream, result.upstream, result.recalls):
        order = [(i.ts, i.index, i.subject, i.relation) for i in items]
        assert order == sorted(order) and len(set(order)) == len(order)


def _starts(farm: TraceFarm) -> list[tuple[str, tuple[int, int] | None]]:
    m = farm.manifest
    starts: list[tuple[str, tuple[int, int] | None]] = [(p.subject, None) for p in m.packs]
    starts += [(lot.subject, None) for lot in m.lots]
    starts += [(pack_subject(link), None) for link in farm.cut_packs]
    movers = [b for b in m.birds if len(m.stays[b]) > 1]
    birds = {m.birds[0], movers[0], farm.dead_bird, farm.recalled_bird, farm.cut_bird}
    starts += [(f"bird:{b}", None) for b in sorted(birds)]
    move_ms = m.stays[movers[0]][1].start_ms
    for barn in m.barns:
        starts += [
            (f"barn:{barn}", (0, FOREVER)),
            (f"barn:{barn}", (m.start_ms, m.start_ms + DAY)),
            (f"barn:{barn}", (move_ms - HOUR, move_ms + HOUR)),
            (f"barn:{barn}", (move_ms, m.end_ms)),
            (f"barn:{barn}", (m.start_ms - 10 * DAY, m.start_ms - 9 * DAY)),  # before anyone
            (f"barn:{barn}", (m.start_ms - DAY, m.start_ms)),  # ends as the flock comes in
            (f"barn:{barn}", (move_ms - HOUR, move_ms)),  # ends as movers come in
        ]
    return starts


def test_every_start_matches_the_brute_force_scan(opened: Opened) -> None:
    index = TraceIndex(opened.store)
    for start, window in _starts(opened.farm):
        result = trace(opened.store, start, window=window, index=index)
        _check(result, opened.reference, window)
        assert result.found
        # a fresh index answers the same as one shared between traces
        assert trace(opened.store, start, window=window) == result


def test_the_story_is_what_the_trace_says(opened: Opened) -> None:
    farm, m = opened.farm, opened.farm.manifest
    pack = next(p for p in m.packs if p.bird == farm.recalled_bird)
    result = trace(opened.store, pack.subject)
    assert result.birds == (pack.bird,)
    shipments = [
        (i.event, i.field("destination") or i.field("location")) for i in result.downstream
    ]
    assert [e for e, _ in shipments] == ["shipped", "received", "shipped", "received"]
    assert shipments[-1][1] == "FreshMart Store 12"
    relations = {i.relation for i in result.upstream}
    assert {"packing", "input", "bird_event", "stay", "barn_event", "device"} <= relations
    assert "feed_refill" in relations  # the hoppers were refilled during an eight-day stay
    hatched = next(i for i in result.upstream if i.event == "hatched")
    assert hatched.field("hatchery") == "Sunrise Hatchery"
    assert [(i.subject, i.field("reason")) for i in result.recalls] == [
        (f"bird:{pack.bird}", "drug residue")
    ]
    refill = next(i for i in result.upstream if i.relation == "feed_refill")
    before = parse_entry(opened.store.entry(int(str(refill.field("before_index")))))
    after = parse_entry(opened.store.entry(refill.index))
    assert after.payload["value"] - before.payload["value"] >= 1.0
    assert refill.field("after_kg") == after.payload["value"]


def test_a_barn_recall_reaches_the_birds_that_were_there(opened: Opened) -> None:
    farm = opened.farm
    barn = f"barn:{farm.recall_barn}"
    for pack in farm.manifest.packs:
        recalls = trace(opened.store, pack.subject, feed=False).recalls
        by_barn = [i for i in recalls if i.subject == barn]
        assert bool(by_barn) == (pack.bird in farm.barn_birds), pack.subject
        assert bool(recalls) == (pack.subject in farm.affected), pack.subject
        if by_barn:
            assert [i.ts for i in by_barn] == [farm.barn_recall_ms]  # not the older scare
    assert {i.subject for i in trace(opened.store, farm.manifest.lots[0].subject).recalls} >= {
        farm.manifest.lots[0].subject
    }


def test_a_barn_window_selects_the_stays_overlapping_it(opened: Opened) -> None:
    m = opened.farm.manifest
    mover = next(b for b in m.birds if len(m.stays[b]) > 1)
    first, second = m.stays[mover]
    before = trace(opened.store, f"barn:{first.barn}", window=(first.start_ms, first.end_ms))
    after = trace(opened.store, f"barn:{first.barn}", window=(first.end_ms, m.end_ms))
    assert mover in before.birds and mover not in after.birds
    assert (
        mover
        in trace(opened.store, f"barn:{second.barn}", window=(second.start_ms, m.end_ms)).birds
    )
    died = trace(opened.store, f"bird:{opened.farm.dead_bird}")
    stay = next(i for i in died.upstream if i.relation == "stay")
    assert stay.field("until_ms") == m.start_ms + 4 * DAY
    assert any(i.event == "died" for i in died.upstream)


def test_a_limit_traces_the_log_as_it_was(opened: Opened) -> None:
    m = opened.farm.manifest
    packed_at = next(
        i.index for i in trace(opened.store, m.packs[0].subject).upstream if i.relation == "packing"
    )
    early = Reference(opened.store, limit=packed_at)
    index = TraceIndex(opened.store)
    for start in (f"bird:{m.packs[0].bird}", f"barn:{m.barns[0]}"):
        window = (0, FOREVER) if start.startswith("barn:") else None
        result = trace(opened.store, start, window=window, limit=packed_at, index=index)
        assert result.limit == packed_at
        _check(result, early, window)
        assert all(i.relation != "pack" for i in result.downstream)
    assert not trace(opened.store, m.packs[0].subject, limit=packed_at).found
    # the same index then moves on to the whole log
    full = trace(opened.store, m.packs[0].subject, index=index)
    assert full == trace(opened.store, m.packs[0].subject)
    # and back (a lower limit starts afresh)
    again = trace(opened.store, f"bird:{m.packs[0].bird}", limit=packed_at, index=index)
    assert again == trace(opened.store, f"bird:{m.packs[0].bird}", limit=packed_at)


def test_unknown_starts_find_nothing(opened: Opened) -> None:
    for start in ("bird:nobody", "pack:09506000134352.NOPE", "lot:09506000134352.NOPE"):
        result = trace(opened.store, start)
        assert not result.found and result.birds == () and not result.recalls


@pytest.mark.parametrize(
    ("start", "error"),
    [
        ("bird:", MalformedError),
        ("bird:a/b", MalformedError),
        ("carcass:0001", MalformedError),
        ("0001", MalformedError),
        ("barn:<script>", MalformedError),
        ("pack:09506000134353.S1", GS1Error),  # check digit
        ("lot:09506000134352." + "x" * 21, GS1Error),
    ],
)
def test_bad_starts_are_refused(opened: Opened, start: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_start(start)
    with pytest.raises(error):
        trace(opened.store, start)


def test_bad_windows_are_refused(opened: Opened) -> None:
    with pytest.raises(MalformedError, match="barn start only"):
        trace(opened.store, "bird:0001", window=(0, 1))
    with pytest.raises(MalformedError, match="start before its end"):
        trace(opened.store, "barn:b1", window=(5, 5))


def test_times_parse_as_utc() -> None:
    assert parse_time("2026-01-01") == 1_767_225_600_000
    assert parse_time("2026-01-01T06:00Z") == 1_767_225_600_000 + 6 * HOUR
    assert parse_time("2026-01-01T08:00+02:00") == 1_767_225_600_000 + 6 * HOUR
    for bad in ("", "yesterday", "2026-13-01", "1969-12-31"):
        with pytest.raises(MalformedError):
            parse_time(bad)


def test_a_refill_is_a_rise_of_a_kilogram_or_more(tmp_path: Path) -> None:
    """Hopper levels by hand: rises below REFILL_MIN_KG are noise; grams count as kilograms."""
    origin = "trace.example/refills"
    admin = SignerKey.generate("admin", seed=bytes(32))
    feeders = {"f-kg": "kg", "f-g": "g"}
    keys = {dev: SignerKey.generate(dev, seed=bytes([n + 1]) * 32) for n, dev in enumerate(feeders)}
    log_signer, _ = note.generate_key(origin, seed=bytes(range(32)))
    start = 1_767_225_600_000
    entries = [
        parse_entry(
            sign_entry(
                device_payload(
                    "register",
                    dev,
                    n + 1,
                    start,
                    pubkey=keys[dev].public_key,
                    kinds=["feed"],
                    location="barn:b1",
                ),
                "admin",
                admin.seed,
            )
        )
        for n, dev in enumerate(feeders)
    ]
    levels = [100.0, 99.2, 100.1, 99.0, 100.0, 60.0, 400.0]  # rises: 0.9, 1.0, 340
    for dev, unit in feeders.items():
        for seq, kg in enumerate(levels, start=1):
            value = kg * 1000 if unit == "g" else kg
            payload = reading_payload(
                dev, seq, start + seq * HOUR, "feed", f"feeder:{dev}", value, unit
            )
            entries.append(parse_entry(sign_entry(payload, dev, keys[dev].seed)))
    with Store.open(tmp_path / "log", origin=origin) as store:
        LogWriter(store, log_signer).commit_block(entries, start + DAY)
        result = trace(store, "barn:b1", window=(start, start + DAY))
        refills = [i for i in result.upstream if i.relation == "feed_refill"]
        by_device = sorted(
            (str(i.field("device")), i.field("before_kg"), i.field("after_kg")) for i in refills
        )
        assert by_device == [
            (dev, before, after)
            for dev in sorted(feeders)
            for before, after in ((60.0, 400.0), (99.0, 100.0))
        ]
        assert len(refills) == 4
        assert {(str(i.field("device")), i.ts) for i in refills} == {
            (dev, start + seq * HOUR) for dev in feeders for seq in (5, 7)
        }
        # a window's edge cuts the pair of readings at 6 h and 7 h in two: no rise across it
        for window, seqs in (
            ((start, start + 7 * HOUR), [5]),
            ((start + 7 * HOUR, start + DAY), []),
        ):
            cut = trace(store, "barn:b1", window=window).upstream
            assert sorted({i.ts for i in cut if i.relation == "feed_refill"}) == [
                start + seq * HOUR for seq in seqs
            ]
