"""``farmtrace audit --pins`` says who is to blame for a reference the other log no longer shows.

Real parts: real LevelDB logs (tests/party_logs.py), the farm and the plant
served by the real read API over HTTP, the real ``farmtrace`` command in its
own process, offline (the plant's data directory) and live (its read API).
The plant's log makes three references to farm A that fail:

- ``forged``: a placement farm A never made, at a real index; the plant kept
  no note of farm A at that size: the plant made it up;
- ``kept``: a placement farm A showed under a cosigned checkpoint that the
  plant's gateway kept (as ``gateway run --pins`` does), after which farm A
  rolled back: farm A is to blame, with both checkpoints;
- ``unkept``: a placement farm A also rolled back, but the plant kept no
  note of that size: the plant cannot show the farm ever cosigned it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from party_logs import START_MS, PartyLog, Served, write_pins

ROOT = Path(__file__).resolve().parents[2]
FARM, PLANT = "farm-a.example/log", "plant.example/log"
LATER = START_MS + 3_600_000


@dataclass
class Logs:
    plant: PartyLog
    plant_url: str
    offline: Path  # a copy of the plant's data directory, for the offline audit
    pins: Path
    entries: dict[str, int]
    kept_size: int
    rolled_back_size: int


def _audit(*args: object) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "farmtrace", "audit", *map(str, args), "--json", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _slaughter(plant: PartyLog, bird: str, ref: dict[str, object]) -> int:
    ident = bird.partition(":")[2]
    return plant.event(
        "slaughtered", [bird], LATER, plant="Riverside", outputs=[f"carcass:{ident}"], refs=[ref]
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    root = tmp_path_factory.mktemp("crosslog-blame")
    farm = PartyLog(root / "farm", FARM, "farm")
    plant = PartyLog(root / "plant", PLANT, "plant")
    served: list[Served] = []
    before = None
    try:
        for n, bird in enumerate(("bird:0001", "bird:0002", "bird:0003")):
            farm.event("hatched", [bird], START_MS + n, breed="Ross 308")
        placed = farm.event("placed", ["bird:0001"], START_MS + 100, barn="b1")
        forged = farm.ref(placed, "bird:0001") | {
            "subject": "bird:0009",
            "hash": hashlib.sha256(b"a placement farm A never made").hexdigest(),
        }
        before = farm.snapshot(root / "farm-before")
        kept = farm.ref(farm.event("placed", ["bird:0002"], START_MS + 200, barn="b2"), "bird:0002")
        # What the plant's gateway keeps when it checks the reference (gateway/ref_check.py).
        plant.store.put_ref_checkpoint(FARM, int(kept["size"]), farm.store.checkpoint(kept["size"]))
        unkept = farm.ref(
            farm.event("placed", ["bird:0003"], START_MS + 300, barn="b2"), "bird:0003"
        )
        entries = {
            "forged": _slaughter(plant, "bird:0009", forged),
            "kept": _slaughter(plant, "bird:0002", kept),
            "unkept": _slaughter(plant, "bird:0003", unkept),
        }
        offline = root / "plant-offline"
        offline.mkdir()
        shutil.copyfile(plant.data_dir.trust, offline / "trust.json")
        plant.store.copy_to(offline / "log")
        farm_now = farm.serve(before)  # farm A rolled back to before bird:0002's placement
        served.append(farm_now)
        plant_api = plant.serve()
        served.append(plant_api)
        pins = write_pins(
            root / "pins" / "pins.json", [farm.pin(root / "pins", [farm_now.url], role="farm")]
        )
        yield Logs(plant, plant_api.url, offline, pins, entries, int(kept["size"]), before.size)
    finally:
        for server in served:
            server.stop()
        farm.close()
        plant.close()
        if before is not None:
            before.close()


def _blames(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["entry"]: c["blame"] for c in report["references"]["checks"]}


def _check_verdicts(logs: Logs, report: dict[str, Any]) -> None:
    blames = _blames(report)
    forged = blames[logs.entries["forged"]]
    assert (forged["party"], forged["log"]) == ("referencing_log", PLANT), forged
    assert "made this reference up" in forged["evidence"]
    kept = blames[logs.entries["kept"]]
    assert (kept["party"], kept["log"]) == ("referenced_log", FARM), kept
    assert (kept["kept"]["size"], kept["shown"]["size"]) == (logs.kept_size, logs.rolled_back_size)
    assert kept["kept_cosigners"] == ["w1.example/witness"]
    assert kept["cosigned_both"] == []  # an old checkpoint served again: not the witness's doing
    assert f"now size {logs.rolled_back_size}" in kept["evidence"]
    assert kept["kept"]["note"].startswith(f"{FARM}\n{logs.kept_size}\n")
    unkept = blames[logs.entries["unkept"]]
    assert (unkept["party"], unkept["log"]) == ("referencing_log", PLANT), unkept
    messages = {f["entry"]: f["message"] for f in report["failures"]}
    assert "who is to blame: " in messages[logs.entries["kept"]]
    assert f"{FARM} rolled back or forked" in messages[logs.entries["kept"]]


def test_the_offline_audit_reads_the_notes_the_audited_log_kept(logs: Logs) -> None:
    report = _audit("--data-dir", logs.offline, "--pins", logs.pins)
    outcomes = {c["entry"]: c["outcome"] for c in report["references"]["checks"]}
    assert outcomes == {
        logs.entries["forged"]: "ref_entry_mismatch",
        logs.entries["kept"]: "ref_rolled_back",
        logs.entries["unkept"]: "ref_rolled_back",
    }
    _check_verdicts(logs, report)


def test_the_live_audit_reads_them_from_the_audited_logs_read_api(logs: Logs) -> None:
    report = _audit(
        "--url", logs.plant_url, "--trust", logs.plant.data_dir.trust, "--pins", logs.pins
    )
    _check_verdicts(logs, report)
