"""The lifecycle cache: tailing gives what a fresh read gives; eviction changes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_log import HOUR, ORIGIN, START, HostileLog, build_hostile_log
from web_site import StaticSiteData

from chain.entries import parse_entry, reading_payload, sign_entry
from chain.store import Store
from consumer_web import Lifecycle, create_app


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[HostileLog]:
    log = build_hostile_log(tmp_path / "log")
    yield log
    log.store.close()


def _late_readings(log: HostileLog, count: int) -> None:
    """Readings of b1-temp that arrive late: about hours long past, in a new block."""
    key, entries = log.keys["b1-temp"], []
    for n in range(count):
        seq = log.seqs["b1-temp"] = log.seqs["b1-temp"] + 1
        ts = START + 5 * HOUR + n * 60_000 + 7
        payload = reading_payload("b1-temp", seq, ts, "temperature", "barn:b1", 45.5 + n, "Cel")
        entries.append(parse_entry(sign_entry(payload, "b1-temp", key.seed)))
    log.writer.commit_block(entries, START + 3 * 86_400_000)


def test_new_blocks_are_folded_in_as_a_fresh_read_would_see_them(hostile: HostileLog) -> None:
    life = Lifecycle(hostile.store, hostile.trust)
    first = life.bird("x1")
    assert first is not None
    assert life.bird("x1") is first  # cached for this checkpoint
    loads = life.cache.loads
    hostile.writer.sign_checkpoint()  # now the shipped event is covered
    second = life.bird("x1")
    assert second is not None and second is not first
    assert "shipped" in [row.event for row in second.timeline]
    _late_readings(hostile, 3)
    assert life.bird("x1") is second  # no checkpoint covers them yet
    hostile.writer.sign_checkpoint()
    third = life.bird("x1")
    assert third is not None
    assert life.cache.loads == loads  # nothing was reloaded: the new entries were tailed
    assert life.cache.tailed == hostile.store.entry_count - first.verification.entry_count
    fresh = Lifecycle(hostile.store, hostile.trust).bird("x1")
    assert third == fresh
    hot = next(c for c in third.charts if c.kind == "temperature")
    hour = next(b for b in hot.buckets if b.start_ms == START + 5 * HOUR)
    assert hour.max == 47.5 and hour.count == 6 + 3
    assert third.excursions != second.excursions


def test_a_tiny_cache_tells_the_same_story(hostile: HostileLog) -> None:
    roomy = Lifecycle(hostile.store, hostile.trust).bird("x1")
    tiny = Lifecycle(hostile.store, hostile.trust, max_readings=10)
    assert tiny.bird("x1") == roomy
    assert tiny.cache.readings < 1000  # most subjects were dropped again
    hostile.writer.sign_checkpoint()
    again = Lifecycle(hostile.store, hostile.trust).bird("x1")
    assert tiny.bird("x1") == again


def test_no_checkpoint_no_story(tmp_path: Path, hostile: HostileLog) -> None:
    with Store.open(tmp_path / "empty", origin=ORIGIN) as store:
        life = Lifecycle(store, hostile.trust)
        assert life.head() is None
        assert life.bird("x1") is None


def test_unknown_ids_do_not_fill_memory(hostile: HostileLog) -> None:
    life = Lifecycle(hostile.store, hostile.trust)
    for n in range(25_000):
        assert life.cache.get(f"bird:nobody-{n}").readings == 0
    assert len(life.cache) <= 20_000
    assert life.bird("x1") is not None


def test_warming_loads_barns_feeders_and_tagged_birds(hostile: HostileLog) -> None:
    life = Lifecycle(hostile.store, hostile.trust)
    assert life.warm() == 3
    assert all(life.cache.has(s) for s in ("barn:b1", "feeder:b1-feeder1", "bird:x1"))
    loads = life.cache.loads
    assert life.warm() == 0  # all there already
    assert life.bird("x1") == Lifecycle(hostile.store, hostile.trust).bird("x1")
    assert life.cache.loads - loads < 5  # only the small subjects (carcass, pack) were left


def test_the_site_warms_in_the_background_and_stops(hostile: HostileLog) -> None:
    data = StaticSiteData(hostile.store, hostile.trust)
    app = create_app({"TESTING": True, "SITE_DATA": data, "SYNC_INTERVAL": 0.05})
    site = app.extensions["farmtrace_site"]
    deadline = time.monotonic() + 10
    while not site.lifecycle.cache.has("barn:b1") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert site.lifecycle.cache.has("barn:b1")
    site.close()
    assert not [t for t in threading.enumerate() if t.name == "site-warm"]
