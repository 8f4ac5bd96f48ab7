"""EPCIS 2.0 exports of the story farm, checked against GS1's schema and a brute-force scan."""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import StoryLog
from epcis_reference import (
    MAPPING,
    MEASURES,
    Scan,
    exported_sensors,
    ms,
    product_of,
    schema_errors,
    uri,
)

from chain import note
from chain.entries import Entry, event_payload, parse_entry, sign_entry
from chain.epcis import (
    EPCIS_CONTEXT,
    NAMESPACE,
    UnknownSubjectError,
    covered_entries,
    export_bird,
    export_pack,
)
from chain.errors import GS1Error, MalformedError
from chain.gs1 import DigitalLink
from chain.log import LogWriter
from chain.store import Store

BASE = "https://trace.example.com"
REF_EXPORT = {
    "log": "farmtrace:log",
    "index": "farmtrace:entryIndex",
    "hash": "farmtrace:entryHash",
    "size": "farmtrace:treeSize",
    "root": "farmtrace:rootHash",
    "subject": "farmtrace:subject",
}
CREATED = 1_767_600_000_000


@pytest.fixture(scope="module")
def until(story: StoryLog) -> int:
    covered = covered_entries(story.store)
    assert covered == story.store.entry_count  # the story farm signs a checkpoint per block
    return covered


@pytest.fixture(scope="module")
def scan(story: StoryLog, until: int) -> Scan:
    return Scan(story.store, until)


@pytest.fixture(scope="module")
def birds(story: StoryLog, scan: Scan) -> dict[str, dict[str, Any]]:
    """The export of a bird of every kind, each checked against the schema and the scan."""
    documents = {}
    for bird in _birds(story):
        documents[bird] = document = _bird(story, bird)
        _check_document(document, scan.story([bird]), scan)
    return documents


def _bird(story: StoryLog, bird: str, **kw: Any) -> dict[str, Any]:
    return export_bird(story.store, bird, base_url=BASE, created_ms=CREATED, **kw)


def _pack(story: StoryLog, link: DigitalLink, **kw: Any) -> dict[str, Any]:
    return export_pack(story.store, link, base_url=BASE, created_ms=CREATED, **kw)


def _birds(story: StoryLog) -> list[str]:
    """A bird of every kind: packed alone, moved, in the lot, recalled, still on the farm."""
    m = story.manifest
    moved = [b for b in m.birds if len(m.stays[b]) > 1]
    shelf = {p.bird for p in m.packs} | set(m.lots[0].birds)
    on_farm = [b for b in m.birds if b not in shelf]
    recalled = [p.bird for p in m.packs if p.recalled]
    return sorted({m.packs[0].bird, moved[0], m.lots[0].birds[0], recalled[0], on_farm[-1]})


def _lifecycle(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    events = document["epcisBody"]["eventList"]
    found = {e["farmtrace:entryIndex"]: e for e in events if "farmtrace:entryIndex" in e}
    assert len(found) == len([e for e in events if e.get("bizStep") != "sensor_reporting"])
    return found


def _check_event(event: dict[str, Any], index: int, entry: Entry, scan: Scan) -> None:
    payload = entry.payload
    kind = payload["event"]
    if kind == "packed":
        serial = "serial" in payload
        expected = ("AggregationEvent", "ADD") if serial else ("TransformationEvent", None)
        expected += ("packing", None)
    elif kind == "inspected":
        result = "conformant" if payload["result"] == "pass" else "non_conformant"
        expected = ("ObjectEvent", "OBSERVE", "inspecting", result)
    else:
        expected = MAPPING[kind]
    found = tuple(event.get(k) for k in ("type", "action", "bizStep", "disposition"))
    assert found == expected, (kind, index)
    assert ms(event["eventTime"]) == entry.ts
    assert event["eventTimeZoneOffset"] == "+00:00"
    assert event["farmtrace:event"] == kind
    assert event["farmtrace:entry"] == entry.raw.decode()
    assert event["farmtrace:blockHash"] == scan.block_hash[index]
    assert event["farmtrace:batch"] == f"{BASE}/api/v1/batches/{scan.block_hash[index]}"
    assert event["farmtrace:proof"] == f"{BASE}/api/v1/entries/{index}/proof"
    assert event["farmtrace:signer"] == entry.kid
    members = {n: v for n, v in payload.items() if n not in ("type", "seq", "ts", "event")}
    members = {n: list(v) if isinstance(v, tuple) else v for n, v in members.items()}
    if "refs" in members:  # other logs' entries, as docs/supply-chain.md section 7 names them
        members["refs"] = [{REF_EXPORT[n]: v for n, v in r.items()} for r in members["refs"]]
    if kind == "hatched":  # the hatchery's facts as instance master data
        facts = {n: members.pop(n) for n in ("breed", "hatchery", "parent_flock") if n in members}
        assert event["ilmd"] == {f"farmtrace:{n}": v for n, v in facts.items()}
    assert {n: event[f"farmtrace:{n}"] for n in members} == members
    subjects = [uri(BASE, s) for s in payload["subjects"]]
    if kind == "slaughtered":
        assert event["inputEPCList"] == subjects
        assert event["outputEPCList"] == [uri(BASE, o) for o in payload["outputs"]]
    elif kind == "packed":
        product = product_of(payload)
        assert product is not None
        if "serial" in payload:
            assert (event["parentID"], event["childEPCs"]) == (uri(BASE, product), subjects)
        else:
            assert event["inputEPCList"] == subjects
            output = {"epcClass": uri(BASE, product)}
            if "weight_g" in payload:
                output |= {"quantity": payload["weight_g"] / 1000, "uom": "KGM"}
            assert event["outputQuantityList"] == [output]
            if "best_before" in payload:  # CBV master data, GS1 AI 15
                assert event["ilmd"] == {"cbvmda:bestBeforeDate": payload["best_before"]}
    else:
        named = event.get("epcList", []) + [q["epcClass"] for q in event.get("quantityList", [])]
        assert sorted(named) == sorted(subjects)
    if kind in ("placed", "moved"):
        barn = uri(BASE, f"barn:{payload['barn']}")
        assert event["readPoint"] == event["bizLocation"] == {"id": barn}
    if kind == "treated" and payload["subjects"][0].startswith("barn:"):
        barn = uri(BASE, payload["subjects"][0])
        assert event["readPoint"] == event["bizLocation"] == {"id": barn}


def _check_document(document: dict[str, Any], expected: dict[int, Entry], scan: Scan) -> None:
    assert schema_errors(document) == []
    assert document["@context"] == [EPCIS_CONTEXT, {"farmtrace": NAMESPACE}]
    assert document["creationDate"] == "2026-01-05T08:00:00.000Z"
    lifecycle = _lifecycle(document)
    assert sorted(lifecycle) == sorted(expected)
    for index, entry in expected.items():
        _check_event(lifecycle[index], index, entry, scan)
    events = document["epcisBody"]["eventList"]
    times = [ms(e["eventTime"]) for e in events]
    assert times == sorted(times)
    ids = [e["eventID"] for e in events]
    assert len(set(ids)) == len(ids)
    for index, entry in expected.items():  # a lifecycle event's id is its signed entry's name
        digest = base64.urlsafe_b64encode(hashlib.sha256(entry.raw).digest()).rstrip(b"=")
        assert lifecycle[index]["eventID"] == "ni:///sha-256;" + digest.decode()


def test_each_kind_of_bird_exports_its_whole_story(birds: dict[str, dict[str, Any]]) -> None:
    for bird, document in birds.items():
        assert document["farmtrace:subject"] == f"bird:{bird}"
        kinds = {e["farmtrace:event"] for e in _lifecycle(document).values()}
        assert {"hatched", "vaccinated", "placed", "inspected"} <= kinds


def test_sensor_figures_match_a_brute_force_recomputation(
    story: StoryLog, scan: Scan, birds: dict[str, dict[str, Any]]
) -> None:
    m = story.manifest
    for bird, document in birds.items():
        expected = scan.sensors(bird)
        found = exported_sensors(document)
        assert found.keys() == expected.keys(), bird
        for key, (low, mean, high, count) in expected.items():
            assert found[key] == (low, pytest.approx(mean, rel=1e-12), high, count), key
        barns = {key[0] for key in found}
        assert barns == {s.barn for s in m.stays[bird]}, bird
        assert {key[2] for key in found} == set(MEASURES)  # climate, feed, water and the tag
    sensing = [
        e
        for e in _bird(story, m.packs[0].bird)["epcisBody"]["eventList"]
        if "sensorElementList" in e
    ]
    for event in sensing:
        assert event["action"] == "OBSERVE"
        assert event["epcList"] == [uri(BASE, f"bird:{m.packs[0].bird}")]
        assert event["readPoint"]["id"] == uri(BASE, f"barn:{event['farmtrace:barn']}")
        for element in event["sensorElementList"]:
            for report in element["sensorReport"]:
                assert (report["type"], report.get("uom")) == MEASURES[report["farmtrace:kind"]]


def test_moved_bird_has_one_sensor_event_per_stay(
    story: StoryLog, scan: Scan, birds: dict[str, dict[str, Any]]
) -> None:
    m = story.manifest
    bird = next(b for b in m.birds if len(m.stays[b]) > 1)
    document = birds[bird]
    sensing = [e for e in document["epcisBody"]["eventList"] if "sensorElementList" in e]
    stays = scan.stays(bird)
    assert [(e["farmtrace:barn"], ms(e["farmtrace:from"])) for e in sensing] == [
        (s.barn, s.start) for s in stays
    ]
    assert [s.barn for s in stays] == [s.barn for s in m.stays[bird]]
    assert [e["farmtrace:stayOpenedBy"] for e in sensing] == [s.opened_by for s in stays]
    first = sensing[0]["sensorElementList"]
    assert ms(first[0]["sensorMetadata"]["startTime"]) == stays[0].start
    assert ms(first[-1]["sensorMetadata"]["endTime"]) == stays[0].end


def test_packs_and_lots_export_their_birds_and_what_happened_to_them(
    story: StoryLog, scan: Scan
) -> None:
    m = story.manifest
    for pack in (m.packs[0], m.packs[-1]):
        document = _pack(story, pack.link)
        _check_document(document, scan.story([pack.bird], pack.subject), scan)
        assert document["farmtrace:subject"] == pack.subject
        kinds = [e["farmtrace:event"] for e in _lifecycle(document).values()]
        assert kinds.count("packed") == 1
        assert ("recalled" in kinds) == pack.recalled
        assert exported_sensors(document).keys() == scan.sensors(pack.bird).keys()
    lot = m.lots[0]
    document = _pack(story, lot.link)
    _check_document(document, scan.story(lot.birds, lot.subject), scan)
    packing = [e for e in document["epcisBody"]["eventList"] if e.get("bizStep") == "packing"]
    assert [p["outputQuantityList"] for p in packing] == [
        [{"epcClass": f"{BASE}{lot.link.path}", "quantity": lot.weight_g / 1000, "uom": "KGM"}]
    ]
    birds_sensed = {
        e["epcList"][0] for e in document["epcisBody"]["eventList"] if e.get("sensorElementList")
    }
    assert birds_sensed == {uri(BASE, f"bird:{b}") for b in lot.birds}


def test_a_pack_export_leaves_out_other_packs_of_the_same_shipment(story: StoryLog) -> None:
    m = story.manifest
    document = _pack(story, m.packs[0].link)
    parents = [e.get("parentID") for e in document["epcisBody"]["eventList"]]
    assert [p for p in parents if p] == [f"{BASE}{m.packs[0].link.path}"]
    shipped = [e for e in _lifecycle(document).values() if e["farmtrace:event"] == "shipped"]
    assert len(shipped) == 2
    # The signed shipping entry names every pack of the shipment; the event does too.
    assert f"{BASE}{m.packs[1].link.path}" in shipped[0]["epcList"]
    assert shipped[0]["quantityList"] == [{"epcClass": f"{BASE}{m.lots[0].link.path}"}]
    assert shipped[0]["destinationList"] == [
        {
            "type": "location",
            "destination": f"{BASE}/id/place/ColdChain%20Distribution%2C%20DC%20North",
        }
    ]


def test_the_cutoff_hides_later_entries(story: StoryLog, scan: Scan) -> None:
    bird = story.manifest.packs[0].bird
    slaughter = next(
        i for i, e in scan.naming([f"bird:{bird}"]).items() if e.payload["event"] == "slaughtered"
    )
    document = _bird(story, bird, until=slaughter)
    assert document["farmtrace:entryCount"] == slaughter
    assert document["farmtrace:treeSize"] == story.store.block_of_entry(slaughter - 1) + 1
    before = Scan(story.store, slaughter)
    _check_document(document, before.story([bird]), before)
    assert all(e["farmtrace:event"] != "slaughtered" for e in _lifecycle(document).values())
    with pytest.raises(UnknownSubjectError, match="never packed"):
        _pack(story, story.manifest.packs[0].link, until=slaughter)


def test_exports_are_deterministic_but_for_the_creation_date(
    story: StoryLog, birds: dict[str, dict[str, Any]]
) -> None:
    bird = story.manifest.packs[0].bird
    first = copy.deepcopy(birds[bird])
    again = export_bird(story.store, bird, base_url=BASE + "/", created_ms=CREATED + 1)
    assert again.pop("creationDate") != first.pop("creationDate")
    assert again == first


def test_the_format_checker_really_enforces_formats(
    story: StoryLog, birds: dict[str, dict[str, Any]]
) -> None:
    document = copy.deepcopy(birds[story.manifest.packs[0].bird])
    lifecycle = [e for e in document["epcisBody"]["eventList"] if "sensorElementList" not in e]
    document["epcisBody"]["eventList"] = lifecycle  # small, so that each check is quick
    assert schema_errors(document) == []
    for path, bad in [
        (("epcList", 0), "not a uri"),
        (("eventTime",), "2026-01-01 00:00"),
        (("bizStep",), "slaughtering"),
        (("eventTimeZoneOffset",), "UTC"),
    ]:
        broken = copy.deepcopy(document)
        event = broken["epcisBody"]["eventList"][0]
        target = event
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = bad
        assert schema_errors(broken), f"{path} = {bad!r} passed the schema"
    broken = copy.deepcopy(document)
    broken["epcisBody"]["eventList"][0]["farmtrace entry"] = 1  # an extension name must be a URI
    assert schema_errors(broken)


def test_unknown_or_malformed_subjects_get_clear_errors(story: StoryLog) -> None:
    gtin = story.manifest.packs[0].gtin
    with pytest.raises(UnknownSubjectError, match="bird '9999': not in the log") as caught:
        _bird(story, "9999")
    assert caught.value.reason == "unknown_subject"
    with pytest.raises(UnknownSubjectError, match=r"pack /01/.*/21/NOPE: never packed"):
        _pack(story, DigitalLink(gtin, serial="NOPE"))
    with pytest.raises(UnknownSubjectError, match=r"lot /01/.*/10/L1: never packed"):
        _pack(story, DigitalLink(gtin, lot="L1"))
    for bad in ("", "bird:0001", "a/b", "x" * 65):
        with pytest.raises(MalformedError, match="bird id"):
            _bird(story, bad)
    for base in ("ftp://x.example", "https://x.example/?q=1", "https://x.example/a b", "x.example"):
        with pytest.raises(MalformedError, match="base URL"):
            export_bird(story.store, "0001", base_url=base, created_ms=CREATED)
    with pytest.raises(GS1Error):
        DigitalLink("09506000134353", serial="S1")


def test_references_to_other_logs_export_as_farmtrace_refs(tmp_path: Path) -> None:
    t = CREATED - 86_400_000
    ref = {"log": "hatchery.example/log", "index": 4, "hash": "ab" * 32, "size": 2}
    ref |= {"root": "cd" * 32, "subject": "bird:0001"}
    placement = ref | {"log": "farm-b.example/log", "index": 17}
    payloads = [
        event_payload("placed", 1, t, ["bird:0001"], barn="b1", refs=[ref]),
        event_payload(
            "slaughtered", 1, t + 1000, ["bird:0001"], plant="Riverside",
            outputs=["carcass:0001"], refs=[ref, placement],
        ),
    ]  # fmt: skip
    entries = [
        parse_entry(sign_entry(p, kid, bytes(32)))
        for p, kid in zip(payloads, ("farm-mgr", "plant"), strict=True)
    ]
    signer_key, _ = note.generate_key("plant.example/log", seed=bytes(32))
    with Store.open(tmp_path / "log", origin="plant.example/log") as store:
        writer = LogWriter(store, signer_key)
        writer.commit_block(entries, t + 2000)
        writer.sign_checkpoint()
        scan = Scan(store, store.entry_count)
        document = export_bird(store, "0001", base_url=BASE, created_ms=CREATED)
    _check_document(document, scan.story(["0001"]), scan)
    placed, slaughtered = document["epcisBody"]["eventList"]
    assert slaughtered["farmtrace:refs"][1] == {
        "farmtrace:log": "farm-b.example/log",
        "farmtrace:entryIndex": 17,
        "farmtrace:entryHash": "ab" * 32,
        "farmtrace:treeSize": 2,
        "farmtrace:rootHash": "cd" * 32,
        "farmtrace:subject": "bird:0001",
    }
    assert placed["farmtrace:refs"] == [{REF_EXPORT[n]: v for n, v in ref.items()}]
