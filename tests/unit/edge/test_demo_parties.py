"""The six-party demo's set-up: six logs, two witnesses watching all, one pins file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from demo._chain_story import GTIN
from demo._parties import PARTIES, ChainPorts, chain_witnesses, set_up_logs, write_pins
from readapi.crosslog import load_pins
from witness import WitnessConfig


def test_six_logs_two_witnesses_and_pins_every_reader_can_load(tmp_path: Path) -> None:
    ports = ChainPorts()
    dirs = set_up_logs(tmp_path, 1_700_000_000_000)
    witnesses = chain_witnesses(tmp_path, dirs, ports.witnesses)
    pins = load_pins(write_pins(tmp_path, dirs, ports))

    origins = [TrustRoot.from_json(dirs[p.slug].trust.read_text()).origin for p in PARTIES]
    assert origins == [p.origin for p in PARTIES]
    keys = {TrustRoot.from_json(d.trust.read_text()).log_key for d in dirs.values()}
    assert len(keys) == 6  # each party its own log key
    for w in witnesses:
        assert set(WitnessConfig.load(w.directory).logs) == set(origins)
    policy = WitnessPolicy.from_json(dirs["plant"].witnesses.read_text())
    assert policy.quorum == 2 and len(policy.witnesses) == 2
    assert [p.slug for p in pins.parties] == [p.slug for p in PARTIES]
    assert {p.role for p in pins.parties} == {"farm", "hatchery", "plant", "distributor", "shop"}
    plant = pins.for_gtin(GTIN)
    assert plant is not None and plant.origin == dict(zip(
        [p.slug for p in PARTIES], origins, strict=True))["plant"]  # fmt: skip
    assert pins.party(origins[0]) is not None
    assert pins.party(origins[0]).sources == (ports.api("farm-a"),)  # type: ignore[union-attr]


def test_set_up_again_keeps_every_log_and_witness(tmp_path: Path) -> None:
    dirs = set_up_logs(tmp_path, 1_700_000_000_000)
    before = {slug: d.trust.read_text() for slug, d in dirs.items()}
    first = chain_witnesses(tmp_path, dirs, (7381, 7382))
    again = set_up_logs(tmp_path, 1_800_000_000_000)
    moved = chain_witnesses(tmp_path, again, (9381, 9382))
    assert {slug: d.trust.read_text() for slug, d in again.items()} == before
    assert [w.config.vkey for w in moved] == [w.config.vkey for w in first]
    urls = [w["url"] for w in json.loads(again["shop"].witnesses.read_text())["witnesses"]]
    assert urls == ["http://127.0.0.1:9381", "http://127.0.0.1:9382"]


def test_ports_must_be_six_logs_two_brokers_all_distinct() -> None:
    with pytest.raises(ValueError, match="6 gateway and 2 MQTT ports"):
        ChainPorts(gateways=(1, 2, 3))
    with pytest.raises(ValueError, match="distinct"):
        ChainPorts(web=8080)
