"""EPCIS exports of a small hand-made log: the cases the story farm does not have.

A bird that dies, a bird cut into two cuts packed into two packs (one cut
recalled), a bird packed whole into a lot without a weight, tag readings
before the bird was placed, and a reading whose time no ISO 8601 year holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from epcis_reference import Scan, exported_sensors, ms, schema_errors, uri
from web_site import StaticSiteData

from chain.entries import event_payload, parse_entry, reading_payload, sign_entry
from chain.epcis import UnknownSubjectError, export_bird, export_pack
from chain.errors import MalformedError
from chain.gs1 import DigitalLink
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from consumer_web import create_app
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

T0 = 1_767_225_600_000
HOUR = 3_600_000
BASE = "http://farm.example:8000/trace"
GTIN = "09506000134352"


class _Log:
    def __init__(self, root: Path) -> None:
        admin = SignerKey.generate("admin", seed=bytes(32))
        data_dir = DataDir(root)
        self.trust = init_data_dir(data_dir, "edges.example/log", [admin], T0 - HOUR)
        self.store = Store.open(data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(data_dir))
        self.keys: dict[str, SignerKey] = {}
        self.seqs: dict[str, int] = {}

    def sign(self, kid: str, make: Any) -> bytes:
        key = self.keys.setdefault(kid, SignerKey.generate(kid, seed=kid.encode().ljust(32, b"_")))
        self.seqs[kid] = seq = self.seqs.get(kid, 0) + 1
        return sign_entry(make(seq), kid, key.seed)

    def event(self, ts: int, kind: str, subjects: list[str], **fields: object) -> bytes:
        return self.sign("op", lambda seq: event_payload(kind, seq, ts, subjects, **fields))

    def reading(self, ts: int, dev: str, subject: str, value: float) -> bytes:
        return self.sign(
            dev, lambda seq: reading_payload(dev, seq, ts, "temperature", subject, value, "Cel")
        )

    def commit(self, raws: list[bytes]) -> None:
        self.writer.commit_block([parse_entry(r) for r in raws], T0)
        self.writer.sign_checkpoint()


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Log]:
    made = _Log(tmp_path_factory.mktemp("edges"))
    birds = ["bird:X", "bird:Y", "bird:Z"]
    made.commit(
        [
            made.event(T0, "hatched", birds, breed="Ross 308"),
            made.reading(T0 + HOUR, "tag-x", "bird:X", 41.0),
            made.event(T0 + 2 * HOUR, "placed", birds, barn="b1"),
            made.reading(T0 + 3 * HOUR, "b1-temp", "barn:b1", 30.5),
            made.reading(T0 + 3 * HOUR + 1, "tag-x", "bird:X", 41.5),
        ]
    )
    made.commit(
        [
            made.reading(T0 + 3 * HOUR + 2, "b1-temp", "barn:b1", 31.5),
            made.event(T0 + 5 * HOUR, "died", ["bird:X"], cause="heat stress"),
            made.reading(T0 + 6 * HOUR, "b1-temp", "barn:b1", 29.0),
            made.event(
                T0 + 7 * HOUR, "slaughtered", ["bird:Y"], plant="P", outputs=["cut:Y-1", "cut:Y-2"]
            ),
            made.event(T0 + 8 * HOUR, "packed", ["cut:Y-1"], gtin=GTIN, serial="P1"),
            made.event(T0 + 8 * HOUR + 1, "packed", ["cut:Y-2"], gtin=GTIN, serial="P2"),
            made.event(T0 + 9 * HOUR, "packed", ["bird:Z"], gtin=GTIN, lot="L9"),
            made.event(T0 + 10 * HOUR, "recalled", ["cut:Y-2"], reason="bone fragment"),
            made.reading(2**53 - 1, "tag-w", "bird:W", 40.0),
        ]
    )
    try:
        yield made
    finally:
        made.store.close()


@pytest.fixture
def log(edges: _Log) -> Store:
    return edges.store


def _kinds(document: dict[str, Any]) -> list[str]:
    """The lifecycle events' kinds, in order (``readings``: a sensor_reporting event)."""
    return [e["farmtrace:event"] for e in document["epcisBody"]["eventList"]]


def _bird(store: Store, bird: str) -> dict[str, Any]:
    document = export_bird(store, bird, base_url=BASE, created_ms=T0)
    assert schema_errors(document) == []
    return document


def test_a_dead_bird_leaves_by_a_delete_and_its_stay_ends_there(log: Store) -> None:
    document = _bird(log, "X")
    assert _kinds(document) == ["hatched", "readings", "placed", "readings", "died"]
    died = document["epcisBody"]["eventList"][-1]
    assert (died["type"], died["action"], died["bizStep"], died["disposition"]) == (
        "ObjectEvent",
        "DELETE",
        "destroying",
        "destroyed",
    )
    assert died["farmtrace:cause"] == "heat stress"
    early, stay = (e for e in document["epcisBody"]["eventList"] if "sensorElementList" in e)
    assert "readPoint" not in early and "farmtrace:barn" not in early
    assert early["farmtrace:readings"] == 1
    assert stay["readPoint"] == {"id": f"{BASE}/id/barn/b1"}
    assert stay["farmtrace:stayClosedBy"] == died["farmtrace:entryIndex"]
    assert ms(stay["farmtrace:until"]) == T0 + 5 * HOUR
    expected = Scan(log, log.entry_count).sensors("X")
    assert exported_sensors(document).keys() == expected.keys()
    # The barn's readings of the same hour lie in two blocks: two reports, one per block.
    barn = [k for k in expected if k[0] == "b1" and k[3] == "b1-temp"]
    assert len(barn) == 2 and len({k[4] for k in barn}) == 2
    assert ms(stay["sensorElementList"][-1]["sensorMetadata"]["endTime"]) == T0 + 4 * HOUR


def test_a_bird_cut_into_two_packs_and_each_packs_own_story(log: Store) -> None:
    document = _bird(log, "Y")
    assert _kinds(document) == [
        *("hatched", "placed", "readings", "slaughtered", "packed", "packed", "recalled")
    ]
    parents = [e["parentID"] for e in document["epcisBody"]["eventList"] if "parentID" in e]
    assert parents == [f"{BASE}/01/{GTIN}/21/P1", f"{BASE}/01/{GTIN}/21/P2"]
    recall = document["epcisBody"]["eventList"][-1]
    assert recall["epcList"] == [f"{BASE}/id/cut/Y-2"]
    assert recall["persistentDisposition"] == {"set": ["recalled"]}
    one = export_pack(log, DigitalLink(GTIN, serial="P1"), base_url=BASE, created_ms=T0)
    assert schema_errors(one) == []
    assert _kinds(one) == ["hatched", "placed", "readings", "slaughtered", "packed"]
    two = export_pack(log, DigitalLink(GTIN, serial="P2"), base_url=BASE, created_ms=T0)
    assert _kinds(two) == ["hatched", "placed", "readings", "slaughtered", "packed", "recalled"]
    scan = Scan(log, log.entry_count)
    for document, product in ((one, "pack:09506000134352.P1"), (two, "pack:09506000134352.P2")):
        events = document["epcisBody"]["eventList"]
        indexes = [e["farmtrace:entryIndex"] for e in events if "farmtrace:entryIndex" in e]
        assert sorted(indexes) == sorted(scan.story(["Y"], product))


def test_a_whole_bird_packed_into_a_lot_without_a_weight(log: Store) -> None:
    document = export_pack(log, DigitalLink(GTIN, lot="L9"), base_url=BASE, created_ms=T0)
    assert schema_errors(document) == []
    assert _kinds(document) == ["hatched", "placed", "readings", "packed"]
    packed = document["epcisBody"]["eventList"][-1]
    assert packed["type"] == "TransformationEvent"
    assert packed["inputEPCList"] == [uri(BASE, "bird:Z")]
    assert packed["outputQuantityList"] == [{"epcClass": f"{BASE}/01/{GTIN}/10/L9"}]
    # Packing does not end a barn stay (as on the site): the stay stays open.
    sensing = _bird(log, "Z")["epcisBody"]["eventList"][2]
    assert "farmtrace:until" not in sensing and sensing["farmtrace:readings"] == 3


def test_a_time_beyond_the_year_9999_is_a_clear_error(edges: _Log, log: Store) -> None:
    message = "entry 14: time 9007199254740991 ms lies beyond the year 9999"
    with pytest.raises(MalformedError, match=message):
        export_bird(log, "W", base_url=BASE, created_ms=T0)
    with pytest.raises(UnknownSubjectError):
        export_bird(log, "V", base_url=BASE, created_ms=T0)
    data = StaticSiteData(log, edges.trust)
    app = create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})
    response = app.test_client().get("/api/v1/epcis/birds/W")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert response.get_json()["error"].startswith(f"cannot export: {message}")
    app.extensions["farmtrace_site"].close()
