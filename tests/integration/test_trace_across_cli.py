"""``farmtrace trace --pins``, a real subprocess, over five logs' data directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from supply_chain_logs import (
    FARM_A,
    FARM_B,
    GTIN,
    LOT,
    PLANT,
    SHOP,
    SupplyChain,
    build_supply_chain,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SupplyChain:
    return build_supply_chain(tmp_path_factory.mktemp("trace-across"))


def _farmtrace(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", "trace", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _dirs(built: SupplyChain, *origins: str) -> list[str]:
    argv: list[str] = []
    for origin in origins or tuple(built.dirs):
        argv += ["--data-dir", str(built.dirs[origin].root)]
    return argv


def test_a_lot_recalled_at_the_plant_in_text_and_json(built: SupplyChain) -> None:
    argv = ["--pins", str(built.pins_file), *_dirs(built), "--lot", f"{GTIN}/L1"]
    done = _farmtrace(*argv)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"Trace of {LOT} across 5 logs, from every log that names it")
    assert "RECALLED (1):" in out and "plant: entry" in out and "reason=label error" in out
    assert "shop: entry" in out and "received" in out
    assert f"Birds (2): {FARM_A}|bird:0001, {FARM_B}|bird:0001" in out
    assert "REFERENCES THAT DO NOT HOLD" not in out
    body = json.loads(_farmtrace(*argv, "--json").stdout)
    assert {item["log"] for item in body["downstream"]} >= {SHOP}
    assert all(c["status"] is None for c in body["references"])


def test_a_barn_downstream_flags_the_forged_reference(built: SupplyChain) -> None:
    argv = ["--pins", str(built.pins_file), *_dirs(built), "--log", FARM_A, "--barn", "b1"]
    done = _farmtrace(*argv, "--from", "2026-05-28", "--to", "2026-06-05")
    assert done.returncode == 0, done.stderr
    assert "REFERENCES THAT DO NOT HOLD (1):" in done.stdout
    forged = f"plant: entry {built.at['slaughter_f9']} -> farm-a: entry"
    assert forged in done.stdout and "FAILS ref_entry_mismatch" in done.stdout
    assert "!! REFERENCE FAILS: ref_entry_mismatch" in done.stdout


def test_a_log_without_a_local_copy_is_unavailable_and_a_bad_call_exits_2(
    built: SupplyChain, tmp_path: Path
) -> None:
    done = _farmtrace(
        "--pins", str(built.pins_file), *_dirs(built, PLANT), "--lot", f"{GTIN}/L1", "--json"
    )
    assert done.returncode == 0, done.stderr
    statuses = {c["ref"]["log"]: c["status"] for c in json.loads(done.stdout)["references"]}
    assert statuses == {FARM_A: "ref_unavailable", FARM_B: "ref_unavailable"}
    site = tmp_path / "site-logs-farm-a"  # a site's copy keeps its store in replica/
    site.mkdir()
    (site / "replica").symlink_to(built.dirs[FARM_A].log)
    argv = ["--pins", str(built.pins_file), *_dirs(built, PLANT), "--data-dir", str(site)]
    done = _farmtrace(*argv, "--lot", f"{GTIN}/L1", "--json")
    statuses = {c["ref"]["log"]: c["status"] for c in json.loads(done.stdout)["references"]}
    assert statuses == {FARM_A: None, FARM_B: "ref_unavailable"}
    several = _farmtrace(*_dirs(built, PLANT, SHOP), "--lot", f"{GTIN}/L1")
    assert several.returncode == 2 and "give --pins" in several.stderr
    other = tmp_path / "pins.json"
    other.write_text(json.dumps({"logs": json.loads(built.pins_file.read_text())["logs"][:1]}))
    (tmp_path / "farm-a").symlink_to(built.dirs[FARM_A].root)
    unpinned = _farmtrace("--pins", str(other), *_dirs(built, PLANT), "--lot", f"{GTIN}/L1")
    assert unpinned.returncode == 2 and f"holds log {PLANT}, not pinned" in unpinned.stderr
