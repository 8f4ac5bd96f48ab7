"""``farmtrace export epcis`` across logs: one document, each party's events from its own log.

A farm's, a plant's and a distributor's logs (real LevelDB data
directories, signed events, cosigned checkpoints): the plant's
``slaughtered`` references the farm's ``placed``, the distributor's
``received`` references the plant's ``packed``. Exporting the pack from the
three logs follows the references upstream to the farm's bird, and the
document is valid against GS1's EPCIS 2.0 JSON schema.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from epcis_reference import schema_errors
from party_logs import START_MS, PartyLog, write_pins

from chain.gs1 import gtin_check_digit
from farmtrace import _cmd_export

FARM, PLANT, DISTRIBUTOR = "farm-a.example/log", "plant.example/log", "dist.example/log"
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
BASE = "https://shop.example"


@dataclass
class Logs:
    dirs: list[Path]  # plant, distributor, farm
    pins: Path
    sources: dict[str, str]  # origin -> the first source in the pins
    placed: int  # the farm's entry the plant references
    packed: int  # the plant's entry the distributor references


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    root = tmp_path_factory.mktemp("epcis-across")
    farm = PartyLog(root / "farm", FARM, "farm")
    plant = PartyLog(root / "plant", PLANT, "plant")
    distributor = PartyLog(root / "dist", DISTRIBUTOR, "distributor")
    try:
        farm.event("hatched", ["bird:0001"], START_MS, breed="Ross 308")
        placed = farm.event("placed", ["bird:0001"], START_MS + 1000, barn="b1")
        plant.event(
            "slaughtered",
            ["bird:0001"],
            START_MS + 86_400_000,
            plant="Riverside",
            outputs=["carcass:0001"],
            refs=[farm.ref(placed, "bird:0001")],
        )
        packed = plant.event(
            "packed", ["carcass:0001"], START_MS + 86_500_000, gtin=GTIN, serial="S0001"
        )
        pack = f"pack:{GTIN}.S0001"
        distributor.event(
            "received",
            [pack],
            START_MS + 90_000_000,
            location="Depot North",
            refs=[plant.ref(packed, pack)],
        )
        sources = {
            FARM: "https://farm-a.example",
            PLANT: "https://plant.example",
            DISTRIBUTOR: "https://dist.example",
        }
        pins = write_pins(
            root / "pins" / "pins.json",
            [
                party.pin(root / "pins", [sources[party.origin], "http://127.0.0.1:9"])
                for party in (farm, plant, distributor)
            ],
        )
    finally:
        for party in (farm, plant, distributor):
            party.close()  # the export opens the stores
    yield Logs(
        [plant.data_dir.root, distributor.data_dir.root, farm.data_dir.root],
        pins,
        sources,
        placed,
        packed,
    )


def _export(tmp_path: Path, *argv: object) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_export.add_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "doc.jsonld"
    args = parser.parse_args(["export", "epcis", *map(str, argv), "--output", str(out)])
    assert args.handler(args) == 0
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _data_dirs(logs: Logs) -> list[str]:
    return [arg for d in logs.dirs for arg in ("--data-dir", str(d))]


def test_a_pack_across_three_logs_with_pins(logs: Logs, tmp_path: Path) -> None:
    document = _export(
        tmp_path,
        *_data_dirs(logs),
        "--pins",
        logs.pins,
        "--pack",
        f"{GTIN}/S0001",
        "--base-url",
        BASE,
    )
    assert schema_errors(document) == []
    events = document["epcisBody"]["eventList"]
    told = [(e["farmtrace:log"], e["farmtrace:event"]) for e in events]
    assert told == [
        (FARM, "hatched"),
        (FARM, "placed"),
        (PLANT, "slaughtered"),
        (PLANT, "packed"),
        (DISTRIBUTOR, "received"),
    ]
    assert [log["farmtrace:log"] for log in document["farmtrace:logs"]] == [
        PLANT,
        DISTRIBUTOR,
        FARM,
    ]
    slaughtered, packed, received = events[2], events[3], events[4]
    # Each log's URIs under its mount on the site; the pack's Digital Link at the resolver's root.
    assert slaughtered["inputEPCList"] == [f"{BASE}/logs/plant-example/bird/0001"]
    assert events[0]["epcList"] == [f"{BASE}/logs/farm-a-example/bird/0001"]
    assert packed["parentID"] == received["epcList"][0] == f"{BASE}/01/{GTIN}/21/S0001"
    assert slaughtered["farmtrace:proof"].startswith(f"{BASE}/logs/plant-example/api/v1/")
    # Each reference leads to its proof at the referenced log's own source.
    (ref,) = slaughtered["farmtrace:refs"]
    assert ref["farmtrace:log"] == FARM and ref["farmtrace:entryIndex"] == logs.placed
    assert ref["farmtrace:proof"] == f"{logs.sources[FARM]}/api/v1/entries/{logs.placed}/proof"
    (ref,) = received["farmtrace:refs"]
    assert ref["farmtrace:proof"] == f"{logs.sources[PLANT]}/api/v1/entries/{logs.packed}/proof"
    assert {"type": "owning_party", "source": logs.sources[PLANT]} in received["sourceList"]
    assert "sourceList" not in slaughtered


def test_without_pins_references_carry_no_proof_url_and_a_bird_is_the_first_logs(
    logs: Logs, tmp_path: Path
) -> None:
    farm_first = [logs.dirs[2], logs.dirs[0], logs.dirs[1]]
    dirs = [arg for d in farm_first for arg in ("--data-dir", str(d))]
    document = _export(tmp_path, *dirs, "--bird", "0001", "--base-url", BASE)
    assert schema_errors(document) == []
    logs_told = {e["farmtrace:log"] for e in document["epcisBody"]["eventList"]}
    assert logs_told == {FARM}  # references lead upstream only: the farm's bird has none
    packed_doc = _export(tmp_path, *_data_dirs(logs), "--pack", f"{GTIN}/S0001")
    for event in packed_doc["epcisBody"]["eventList"]:
        for ref in event.get("farmtrace:refs", []):
            assert "farmtrace:proof" not in ref
        assert "owning_party" not in json.dumps(event.get("sourceList", []))
    assert schema_errors(packed_doc) == []


def test_one_log_without_pins_is_exported_as_before(logs: Logs, tmp_path: Path) -> None:
    document = _export(tmp_path, "--data-dir", logs.dirs[0], "--pack", f"{GTIN}/S0001")
    assert document["farmtrace:log"] == PLANT and "farmtrace:logs" not in document
    assert schema_errors(document) == []
