"""The pins file a verifier follows other logs by (readapi.crosslog.parse_pins / load_pins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chain import note
from chain.errors import MalformedError, StorageError
from chain.trust import TrustRoot
from readapi.crosslog import load_pins, parse_pins

FILES = {
    f"{name}.json": TrustRoot(
        f"{name}.example/log",
        note.generate_key(f"{name}.example/log", seed=bytes([i]) * 32)[1],
        (("admin", bytes(32)),),
    ).to_json()
    for i, name in enumerate(["farm-a", "farm-b", "plant"])
}


def _log(party: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "origin": f"{party}.example/log",
        "trust": f"{party}.json",
        "sources": [f"https://{party}.example/"],
    }
    doc.update(extra)
    return doc


def _parse(*logs: dict[str, Any]) -> Any:
    return parse_pins({"logs": list(logs)}, FILES.__getitem__)


def test_parties_are_found_by_origin_slug_and_company_prefix() -> None:
    pins = _parse(
        _log("farm-a", name="Green Valley", role="farm"),
        _log("plant", role="plant", gs1_prefixes=["950600013", "4012345"]),
    )
    farm, plant = pins.parties
    assert (farm.slug, farm.name, farm.role) == ("farm-a-example", "Green Valley", "farm")
    assert farm.sources == ("https://farm-a.example",)  # no trailing slash: paths are appended
    assert plant.name == "plant.example/log" and plant.pin.policy.quorum == 0
    assert pins.party("plant.example/log") is plant and pins.by_slug("farm-a-example") is farm
    assert pins.for_gtin("09506000134352") is plant  # indicator digit, then the prefix
    assert pins.for_gtin("14012345000017") is plant
    assert pins.for_gtin("09506000234352") is None
    assert set(pins.pinned()) == {"farm-a.example/log", "plant.example/log"}


@pytest.mark.parametrize(
    ("logs", "problem"),
    [
        ([], "at least one log"),
        ([_log("farm-a"), _log("farm-a")], "pinned twice"),
        ([_log("farm-a", slug="x"), _log("plant", slug="x")], "used twice"),
        (
            [_log("farm-a", gs1_prefixes=["9506"]), _log("plant", gs1_prefixes=["950600013"])],
            "prefixes never nest",
        ),
        ([_log("plant", gs1_prefixes=["95x6"])], "malformed item"),
        ([_log("plant", sources=[])], "non-empty list"),
        ([_log("plant", sources=["ftp://plant"])], "malformed item"),
        ([_log("plant", role="king")], "expected one of"),
        ([_log("plant", trust="farm-a.json")], "trust root is for 'farm-a.example/log'"),
        ([_log("plant", extra=1)], "unknown member"),
        ([_log("plant", slug="Not A Slug")], "slug"),
    ],
)
def test_a_malformed_pins_document_is_refused_saying_why(
    logs: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(MalformedError, match=problem):
        _parse(*logs)


def test_the_file_names_its_trust_roots_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    for name, text in FILES.items():
        (tmp_path / "roots" / name).write_text(text)
    path = tmp_path / "pins.json"
    path.write_text(json.dumps({"logs": [_log("plant", trust="roots/plant.json")]}))
    assert load_pins(path).parties[0].pin.trust.origin == "plant.example/log"
    path.write_text(json.dumps({"logs": [_log("plant", trust="roots/missing.json")]}))
    with pytest.raises(StorageError, match=r"missing\.json"):
        load_pins(path)
    path.write_text("{not json")
    with pytest.raises(MalformedError, match=r"pins\.json"):
        load_pins(path)
