"""``farmtrace audit --pins``: every cross-log reference checked at the other log's own read API.

Real parts: each party's log is a real LevelDB data directory (gateway.init,
signed events, a checkpoint cosigned by a witness key), the farms are served
by the real read API over HTTP, and the audit is the real ``farmtrace``
command in its own process. A plant's log references farm A's placements:
one good, one forged (a bird farm A never placed, at a real index), one to
an entry farm A showed and then rolled back (it now serves an older
snapshot of itself), one to farm B, whose server is down.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from party_logs import START_MS, PartyLog, Served, write_pins

ROOT = Path(__file__).resolve().parents[2]
FARM_A, FARM_B, FARM_C = "farm-a.example/log", "farm-b.example/log", "farm-c.example/log"
PLANT, GOOD_PLANT = "plant.example/log", "plant-b.example/log"
DISTRIBUTOR = "distributor.example/log"
LOT = "lot:09506000134352.L7"
LATER = START_MS + 3_600_000


def farmtrace(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *map(str, args), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@dataclass
class Chain:
    plant: PartyLog  # one good reference, one forged, one rolled back, one dangling
    good_plant: PartyLog  # one good reference only
    pins: Path
    entries: dict[str, int]  # the plant's referencing entries, by case
    rewritten_root: str  # the root farm C's tree had when the plant referenced it
    good_plant_url: str
    distributor: PartyLog  # received the good plant's lot, which the plant then recalled
    lot_recall: int  # the good plant's recall of that lot


def _slaughter(plant: PartyLog, bird: str, ref: dict[str, object]) -> int:
    return plant.event(
        "slaughtered",
        [bird],
        LATER,
        plant="Riverside",
        outputs=[f"carcass:{bird.partition(':')[2]}"],
        refs=[ref],
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("crosslog-audit")
    farm_a = PartyLog(root / "farm-a", FARM_A, "farm")
    farm_b = PartyLog(root / "farm-b", FARM_B, "farm")
    farm_c = PartyLog(root / "farm-c", FARM_C, "farm")
    plant = PartyLog(root / "plant", PLANT, "plant")
    good_plant = PartyLog(root / "plant-b", GOOD_PLANT, "plant")
    served: list[Served] = []
    before = restored = None
    try:
        for n, bird in enumerate(("bird:0001", "bird:0002", "bird:0003")):
            farm_a.event("hatched", [bird], START_MS + n, breed="Ross 308")
        placed = {
            bird: farm_a.event("placed", [bird], START_MS + 100, barn="b1")
            for bird in ("bird:0001", "bird:0002")
        }
        good = farm_a.ref(placed["bird:0001"], "bird:0001")
        also_good = farm_a.ref(placed["bird:0002"], "bird:0002")
        forged = farm_a.ref(placed["bird:0002"], "bird:0002") | {
            "subject": "bird:0009",
            "hash": hashlib.sha256(b"a placement farm A never made").hexdigest(),
        }
        farm_a.event("recalled", ["barn:b1"], START_MS + 150, reason="Salmonella in barn b1")
        before = farm_a.snapshot(root / "farm-a-before")
        shown_then_gone = farm_a.ref(
            farm_a.event("placed", ["bird:0003"], START_MS + 200, barn="b2"), "bird:0003"
        )
        farm_b.event("hatched", ["bird:0004"], START_MS, breed="Ross 308")
        on_b = farm_b.ref(
            farm_b.event("placed", ["bird:0004"], START_MS + 100, barn="b1"), "bird:0004"
        )
        farm_c.event("hatched", ["bird:0005"], START_MS, breed="Ross 308")
        restored = farm_c.fork(root / "farm-c-restored")
        placed_c = farm_c.event("placed", ["bird:0005"], START_MS + 100, barn="b1")
        rewritten = farm_c.ref(placed_c, "bird:0005")
        restored.seq = farm_c.seq
        again = restored.commit(  # the same placement, in a block with one more entry
            farm_c.store.entry(placed_c),
            restored.sign("moved", ["bird:0005"], START_MS + 150, barn="b2"),
        )
        assert (again, restored.store.size) == (placed_c, farm_c.store.size)
        entries = {
            "good": _slaughter(plant, "bird:0001", good),
            "forged": _slaughter(plant, "bird:0009", forged),
            "rolled_back": _slaughter(plant, "bird:0003", shown_then_gone),
            "dangling": _slaughter(plant, "bird:0004", on_b),
            "rewritten": _slaughter(plant, "bird:0005", rewritten),
        }
        entries["recall"] = plant.event(
            "recalled", ["carcass:0001"], LATER + 1, reason="metal fragment"
        )
        _slaughter(good_plant, "bird:0002", also_good)
        lot_packed = good_plant.event(
            "packed", ["carcass:0002"], LATER + 10, gtin=LOT[4:18], lot=LOT.rpartition(".")[2]
        )
        distributor = PartyLog(root / "distributor", DISTRIBUTOR, "distributor")
        distributor.event(
            "received", [LOT], LATER + 20, location="Depot 1",
            refs=[good_plant.ref(lot_packed, LOT)],
        )  # fmt: skip
        distributor.close()
        lot_recall = good_plant.event("recalled", [LOT], LATER + 30, reason="Listeria")
        plant.close()  # the offline audit opens it in its own process
        farm_a_now = farm_a.serve(before)  # farm A rolled back to before bird:0003's placement
        served.append(farm_a_now)
        farm_c_now = farm_c.serve(restored.store)
        served.append(farm_c_now)
        down = farm_b.serve()
        down.stop()  # farm B's server is down: its port refuses
        good_plant_api = good_plant.serve()
        served.append(good_plant_api)
        pins = write_pins(
            root / "pins" / "pins.json",
            [
                farm_a.pin(root / "pins", [farm_a_now.url], role="farm"),
                farm_b.pin(root / "pins", [down.url], role="farm"),
                farm_c.pin(root / "pins", [farm_c_now.url], role="farm"),
                good_plant.pin(root / "pins", [good_plant_api.url], role="plant"),
            ],
        )
        yield Chain(
            plant, good_plant, pins, entries, str(rewritten["root"]), good_plant_api.url,
            distributor, lot_recall,
        )  # fmt: skip
    finally:
        for server in served:
            server.stop()
        for party in (farm_a, farm_b, farm_c, good_plant, restored):
            if party is not None:
                party.close()
        if before is not None:
            before.close()


def test_the_audit_fails_on_a_forged_a_rolled_back_and_a_dangling_reference(chain: Chain) -> None:
    result = farmtrace("audit", "--data-dir", chain.plant.data_dir.root, "--pins", chain.pins)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "references to other logs  5 to 3 logs: 1 hold, 4 fail" in out
    for case, reason in (
        ("forged", "ref_entry_mismatch"),
        ("rolled_back", "ref_rolled_back"),
        ("dangling", "ref_unavailable"),
        ("rewritten", "ref_rolled_back"),
    ):
        assert f"entry {chain.entries[case]}: {reason}: reference to " in out, (case, out)
    assert f"entry {chain.entries['good']}: ref_" not in out
    assert "RESULT: FAILED: 4 problems" in out


def test_the_audit_lists_its_own_recalls_and_those_its_references_lead_to(chain: Chain) -> None:
    result = farmtrace("audit", "--data-dir", chain.plant.data_dir.root, "--pins", chain.pins)
    out = result.stdout
    assert "recalls in this log  1 (notices, not failures):" in out, out
    assert f"carcass:0001 recalled at entry {chain.entries['recall']}: metal fragment" in out
    # bird:0001 was placed in barn b1, which farm A recalled: one step from the reference
    assert "recalls in the logs it references  1 (notices, not failures):" in out, out
    assert (
        f"{FARM_A}: barn:b1 recalled at entry 7: Salmonella in barn b1 "
        f"(reaches bird:0001, referenced by entry {chain.entries['good']})"
    ) in out, out
    assert f"recalls not read: {FARM_B}" not in out  # known down: not asked again
    report = json.loads(
        farmtrace(
            "audit", "--data-dir", chain.plant.data_dir.root, "--pins", chain.pins, "--json"
        ).stdout
    )
    recalls = report["recalls"]
    assert recalls["followed"] is True
    assert [(r["entry"], r["subjects"], r["reason"]) for r in recalls["own"]] == [
        (chain.entries["recall"], ["carcass:0001"], "metal fragment")
    ]
    [referenced] = recalls["referenced"]
    assert (referenced["log"], referenced["subjects"], referenced["referenced"]) == (
        FARM_A,
        ["barn:b1"],
        "bird:0001",
    )


def test_the_json_report_gives_each_reference_its_reason_expected_and_found(chain: Chain) -> None:
    result = farmtrace(
        "audit", "--data-dir", chain.plant.data_dir.root, "--pins", chain.pins, "--json"
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    section = report["references"]
    assert (section["followed"], section["total"], section["failed"]) == (True, 5, 4)
    assert section["fetched"] == 4  # farm B's sources were asked once, found down, not again
    by_entry = {check["entry"]: check for check in section["checks"]}
    good = by_entry[chain.entries["good"]]
    assert (good["outcome"], good["log"], good["subject"]) == ("ok", FARM_A, "bird:0001")
    assert good["cosigners"] == ["w1.example/witness"]
    forged = by_entry[chain.entries["forged"]]
    assert (forged["outcome"], forged["subject"]) == ("ref_entry_mismatch", "bird:0009")
    assert forged["expected"].startswith(f"entry {forged['index']} with hash ")
    rolled = by_entry[chain.entries["rolled_back"]]
    assert rolled["outcome"] == "ref_rolled_back"
    assert "size >=" in rolled["expected"], rolled
    dangling = by_entry[chain.entries["dangling"]]
    assert (dangling["outcome"], dangling["log"]) == ("ref_unavailable", FARM_B)
    rewritten = by_entry[chain.entries["rewritten"]]
    assert (rewritten["outcome"], rewritten["log"]) == ("ref_rolled_back", FARM_C)
    assert f"consistent with root {chain.rewritten_root}" in rewritten["expected"], rewritten
    reasons = sorted(f["reason"] for f in report["failures"])
    assert reasons == [
        "ref_entry_mismatch",
        "ref_rolled_back",
        "ref_rolled_back",
        "ref_unavailable",
    ]


def test_auditing_a_log_that_received_a_lot_lists_its_recall_at_the_plant(chain: Chain) -> None:
    result = farmtrace("audit", "--data-dir", chain.distributor.data_dir.root, "--pins", chain.pins)
    assert "references to other logs  1 to 1 logs: 1 hold, 0 fail" in result.stdout, result
    assert (
        f"{GOOD_PLANT}: {LOT} recalled at entry {chain.lot_recall}: Listeria "
        f"(reaches {LOT}, referenced by entry "
    ) in result.stdout, result.stdout
    assert "RESULT: OK" in result.stdout  # a recall is a notice, not a failure


def test_without_pins_the_references_are_listed_as_not_followed(chain: Chain) -> None:
    result = farmtrace("audit", "--data-dir", chain.plant.data_dir.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "references to other logs  5, not followed (pass --pins" in result.stdout
    assert "warning: refs_not_followed: 5 references" in result.stdout
    assert f"entry {chain.entries['forged']}: {FARM_A} entry" in result.stdout
    assert "carcass:0001 recalled at entry" in result.stdout  # its own recalls, even so
    assert "recalls in the logs it references" not in result.stdout


def test_a_live_audit_with_every_reference_good_passes(chain: Chain) -> None:
    result = farmtrace(
        "audit",
        "--url",
        chain.good_plant_url,
        "--trust",
        chain.good_plant.data_dir.trust,
        "--pins",
        chain.pins,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "references to other logs  1 to 1 logs: 1 hold, 0 fail" in result.stdout
    assert f"{FARM_A}: barn:b1 recalled at entry 7" in result.stdout  # a notice, not a failure
    assert "RESULT: OK" in result.stdout


def test_an_unreadable_pins_file_is_bad_usage(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from farmtrace.cli import main

    args = ["audit", "--data-dir", str(chain.plant.data_dir.root), "--pins", str(tmp_path / "x")]
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    assert "cannot read pins file" in capsys.readouterr().err


def test_a_log_that_cannot_be_read_has_its_references_not_collected(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from farmtrace.cli import main

    trust = chain.plant.data_dir.trust
    args = ["audit", "--data-dir", str(tmp_path), "--trust", str(trust), "--pins", str(chain.pins)]
    try:
        code = main([*args, "--no-progress"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert code == 2, out
    assert "references to other logs  not collected: the log itself could not be" in out
