"""Issue 15's Done means: two farms and a plant, each its own witnessed log, with real processes.

Processes: one Mosquitto; farm A's gateway fed over MQTT (``--farm``); farm
B's and the plant's operator-only gateways (events over HTTP); the plant's
gateway checks every cross-log reference against the farms' logs
(``--pins``); one ``farmtrace witness serve`` cosigning all three logs
(quorum 1, pinned); and the resolver (``farmtrace site run --pins``). The
plant's operator signs with the real ``farmtrace event ... --ref-to
--submit-url`` (in this process, to spare an interpreter start-up each).

The story: both farms hatch and place a ``bird:0001`` (the same id on
purpose). The plant slaughters both and packs the two carcasses into ONE
pack (S1, a pack built from three logs), farm A's bird:0002 into a lot (L1)
which it then recalls, and farm B's bird:0002 into S2. Farm B took a backup
before placing bird:0002 (the plant's reference to its bird:0001 names that
tree: S1 stays good); after the plant referenced the later placement, farm B
rolls its log back (kill -9, the backup restored, restarted). And
the plant lies once: its honest gateway would refuse a forged reference,
so its "modified software" writes a slaughter of a bird farm A never placed
(the index of a real farm A entry, the hash of another) straight into its
store, signed by its own log key; the witness cosigns it (witnesses do not
read content), and the plant packs that carcass into S9.

Each of the forgery, the rollback and the recall must then surface on the
pack pages (server and browser), in ``farmtrace audit --pins`` and in
``farmtrace trace --pins``; the good pack must verify on the page, in the
browser and with the CLI.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mqtt_broker import Broker
from three_party_chain import (
    Child,
    Party,
    await_true,
    farmtrace_in_process,
    get,
    now_ms,
    write_json,
)
from witness_harness import WitnessProcess, make_witness_dir

from chain.entries import event_payload, parse_entry, sign_entry
from chain.gs1 import gtin_check_digit
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from gateway.init import read_log_signer
from readapi.client import ReadApiClient
from readapi.crosslog import load_pins

CHROMIUM = Path("/usr/bin/chromium")
FARM_A, FARM_B, PLANT = "farm-a.test/log", "farm-b.test/log", "plant.test/log"
PREFIX = "950600013"
GTIN = "0" + PREFIX + "435" + str(gtin_check_digit("0" + PREFIX + "435"))
LOT = f"lot:{GTIN}.L1"
RECALL_REASON = "Salmonella found in lot L1"


@dataclass
class Chain:
    farm_a: Party
    farm_b: Party
    plant: Party
    pins: Path
    site_url: str
    slugs: dict[str, str]  # origin -> the site's mount slug
    copies: dict[str, Path]  # origin -> a backup of the log as it ends (for the trace)
    forged_entry: int  # the plant's forged slaughter
    rolled_entry: int  # the plant's slaughter of farm B's bird:0002
    recall_entry: int  # the plant's recall of the lot
    good_entries: tuple[int, int]  # the slaughters of A's and B's bird:0001

    def pack_url(self, serial: str) -> str:
        return f"{self.site_url}/01/{GTIN}/21/{serial}"


def _slaughter(chain_dir: Path, plant: Party, pins: Path, farm: str, bird: str, out: str) -> None:
    code, stdout, stderr = farmtrace_in_process(
        "event", "slaughtered", "--bird", bird, "--plant", "Riverside", "--output", out,
        "--ref-to", f"{farm}=bird:{bird}", "--pins", pins, *_operator(chain_dir, plant),
    )  # fmt: skip
    assert code == 0 and "committed" in stdout, stdout + stderr


def _operator(chain_dir: Path, plant: Party) -> list[object]:
    return [
        "--key", plant.key_file, "--state-dir", chain_dir / "plant-operator",
        "--submit-url", plant.url, "--timeout", 60,
    ]  # fmt: skip


def _plant_event(chain_dir: Path, plant: Party, *args: object) -> None:
    code, stdout, stderr = farmtrace_in_process("event", *args, *_operator(chain_dir, plant))
    assert code == 0 and "committed" in stdout, stdout + stderr


def _event(party: Party, subject: str, event: str) -> tuple[int, dict[str, object]]:
    """The index and payload of the first ``event`` about ``subject`` the party's log serves."""
    for index, raw in ReadApiClient(party.url).subject_events(subject):
        payload = dict(parse_entry(raw).payload)
        if payload["event"] == event:
            return index, payload
    raise AssertionError(f"{party.origin} has no {event} of {subject}")


def _index_of(party: Party, subject: str, event: str) -> int:
    return _event(party, subject, event)[0]


def _forge(plant: Party, pins: Path, good: dict[str, object], forger: SignerKey) -> int:
    """The lying plant's software: a slaughter with a forged reference, written to its store."""
    forged_ref = good | {
        "subject": "bird:0009",
        "hash": hashlib.sha256(b"a placement farm A never made").hexdigest(),
    }
    payload = event_payload(
        "slaughtered", 1, now_ms(), ["bird:0009"], plant="Riverside",
        outputs=["carcass:f9"], refs=[forged_ref],
    )  # fmt: skip
    raw = sign_entry(payload, forger.id, forger.seed)
    assert plant.gateway is not None
    plant.gateway.stop()
    store = Store.open(plant.data_dir.log)
    try:
        writer = LogWriter(store, read_log_signer(plant.data_dir))
        index = store.entry_count
        writer.commit_block([parse_entry(raw)], now_ms())
        writer.sign_checkpoint()
    finally:
        store.close()
    plant.run("--pins", str(pins))
    return index


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("three-logs")
    broker = Broker(root / "broker")
    broker.start()
    farm_a = Party.create(root / "farm-a", FARM_A, "Green Valley Farm", "farm")
    farm_b = Party.create(root / "farm-b", FARM_B, "Hill Top Farm", "farm")
    plant = Party.create(root / "plant", PLANT, "Riverside Processing", "plant")
    parties = (farm_a, farm_b, plant)
    wdir = make_witness_dir(
        root / "witness", "coop.test/witness", [(p.origin, p.trust.log_key) for p in parties]
    )
    witness = WitnessProcess(wdir)
    site: Child | None = None
    try:
        witness.start()
        policy = WitnessPolicy(1, (Witness(witness.vkey, witness.url),))
        for party in parties:
            party.watched_by(policy)
        folder = root / "pins"
        folder.mkdir()
        witnesses = folder / "witnesses.json"
        witnesses.write_text(policy.to_json())
        pins = write_json(
            folder / "pins.json",
            {
                "logs": [
                    farm_a.pin(folder, witnesses, []),
                    farm_b.pin(folder, witnesses, []),
                    plant.pin(folder, witnesses, [PREFIX]),
                ]
            },
        )
        farm_a.run("--farm", "farma", "--mqtt", broker.url)
        farm_b.run()
        plant.run("--pins", str(pins))

        # Farm A, fed over MQTT: its farmer hatches and places two birds in barn b1.
        height = farm_a.publish(farm_a.registration(farm_a.operator, ["farm"]), "admin",
                                broker.port, "farma")  # fmt: skip
        for event, fields in (("hatched", {"breed": "Ross 308"}), ("placed", {"barn": "b1"})):
            raw = farm_a.event(event, ["bird:0001", "bird:0002"], **fields)
            height = farm_a.publish(raw, "farm", broker.port, "farma")
        farm_a.await_cosigned(policy, height)
        # Farm B, operator-only: the same bird id, and a backup before bird:0002 is placed.
        farm_b.submit(farm_b.registration(farm_b.operator, ["farm"]))
        farm_b.submit(farm_b.event("hatched", ["bird:0001", "bird:0002"], breed="Cobb 500"))
        height = farm_b.submit(farm_b.event("placed", ["bird:0001"], barn="b1"))
        farm_b.await_cosigned(policy, height)
        backup = root / "farm-b-backup"
        code, out, err = farmtrace_in_process(
            "gateway", "backup", "--data-dir", farm_b.data_dir.root, "--out", backup,
            "--include-keys",
        )  # fmt: skip
        assert code == 0, out + err

        # The plant: two operators (one of them its lying software's).
        forger = SignerKey.generate("line2")
        plant.submit(plant.registration(plant.operator, ["plant"]))
        plant.submit(plant.registration(forger, ["plant"]))
        _slaughter(root, plant, pins, FARM_A, "0001", "carcass:a1")
        _slaughter(root, plant, pins, FARM_B, "0001", "carcass:b1")
        _slaughter(root, plant, pins, FARM_A, "0002", "carcass:a2")
        # Farm B places bird:0002 after its backup; the plant references that placement.
        height = farm_b.submit(farm_b.event("placed", ["bird:0002"], barn="b1"))
        farm_b.await_cosigned(policy, height)
        _slaughter(root, plant, pins, FARM_B, "0002", "carcass:b2")
        good_a, good_b = (_index_of(plant, c, "slaughtered") for c in ("carcass:a1", "carcass:b1"))
        rolled = _index_of(plant, "carcass:b2", "slaughtered")
        _plant_event(root, plant, "packed", "--carcass", "a1", "--carcass", "b1",
                     "--gtin", GTIN, "--serial", "S1")  # fmt: skip
        _plant_event(root, plant, "packed", "--carcass", "b2", "--gtin", GTIN, "--serial", "S2")
        _plant_event(root, plant, "packed", "--carcass", "a2", "--gtin", GTIN, "--lot", "L1")
        (good_ref,) = _event(plant, "carcass:a1", "slaughtered")[1]["refs"]
        forged = _forge(plant, pins, dict(good_ref), forger)
        _plant_event(root, plant, "packed", "--carcass", "f9", "--gtin", GTIN, "--serial", "S9")
        _plant_event(root, plant, "recalled", "--subject", LOT, "--reason", RECALL_REASON)
        recall = _index_of(plant, LOT, "recalled")

        # Farm B "rolls back": pulls the plug, restores the backup, runs again.
        assert farm_b.gateway is not None
        farm_b.gateway.kill()
        shutil.rmtree(farm_b.data_dir.root)
        shutil.copytree(backup, farm_b.data_dir.root)
        farm_b.run()
        (ref_b2,) = _event(plant, "carcass:b2", "slaughtered")[1]["refs"]
        assert farm_b.published(policy)[0] < ref_b2["size"], "farm B did not roll back"

        copies = {}
        for party in parties:
            copies[party.origin] = root / "copies" / party.role / party.origin.split(".")[0]
            code, out, err = farmtrace_in_process(
                "gateway", "backup", "--data-dir", party.data_dir.root,
                "--out", copies[party.origin],
            )  # fmt: skip
            assert code == 0, out + err

        site = Child(
            ["site", "run", "--pins", str(pins), "--site-dir", str(root / "site"),
             "--port", "0", "--sync-interval", "0.5"],
            root / "site.log",
            r"site running: (http://\S+?)/? following",
        )  # fmt: skip
        site.start()
        slugs = {p.origin: p.slug for p in load_pins(pins).parties}
        yield Chain(
            farm_a, farm_b, plant, pins, site.url, slugs, copies, forged, rolled, recall,
            (good_a, good_b),
        )  # fmt: skip
    finally:
        if site is not None:
            site.stop()
        for party in parties:
            if party.gateway is not None:
                party.gateway.stop()
        witness.stop()
        broker.kill()


def _followed(chain: Chain) -> bool:
    """The site's replicas hold each log up to what its gateway publishes now."""
    for origin, slug in chain.slugs.items():
        party = {p.origin: p for p in (chain.farm_a, chain.farm_b, chain.plant)}[origin]
        status, mine = get(f"{chain.site_url}/logs/{slug}/checkpoint")
        if status != 200 or mine != get(party.url + "/checkpoint")[1]:
            return False
    return True


def _parts(html: str) -> list[tuple[str, str, str]]:
    """(verified or unverified, the referenced log, the reason) of each stitched part."""
    found = []
    for article in re.findall(r'<article class="xlog-part[^>]*>', html):
        state = re.search(r'class="xlog-part (\w+)"', article)
        log = re.search(r'data-ref="([^"]*)"', article)
        reason = re.search(r'data-reason="([^"]*)"', article)
        assert state and log and reason, article
        ref = json.loads(log[1].replace("&#34;", '"').replace("&quot;", '"'))
        found.append((state[1], ref["log"], reason[1]))
    return sorted(found, key=lambda part: part[1])


def test_the_pack_pages_show_each_part_verified_forged_rolled_back_or_recalled(
    chain: Chain,
) -> None:
    await_true("the site to follow the three logs", lambda: _followed(chain))
    status, html = get(chain.pack_url("S1"))
    assert status == 200, html
    assert _parts(html) == [("verified", FARM_A, ""), ("verified", FARM_B, "")]
    for name in ("Green Valley Farm", "Hill Top Farm"):
        assert f"{name}&#39;s log" in html or f"{name}'s log" in html, html
    assert "cosigned by 1 of 1 witnesses" in html
    status, html = get(chain.pack_url("S9"))
    assert _parts(html) == [("unverified", FARM_A, "ref_entry_mismatch")], html
    status, html = get(chain.pack_url("S2"))
    assert ("unverified", FARM_B, "ref_rolled_back") in _parts(html), html
    assert "Hill Top Farm&#39;s log no longer shows this" in html
    status, html = get(f"{chain.site_url}/01/{GTIN}/10/L1")
    assert status == 200, html
    assert 'id="recall"' in html and RECALL_REASON in html
    assert "RECALLED: do not eat" in html


def test_a_pack_page_shows_only_the_parts_of_the_birds_in_the_pack(chain: Chain) -> None:
    """The plant slaughtered a bird:0002 from each farm: S2 holds farm B's, the lot farm A's."""
    await_true("the site to follow the three logs", lambda: _followed(chain))
    assert _parts(get(chain.pack_url("S2"))[1]) == [("unverified", FARM_B, "ref_rolled_back")]
    assert _parts(get(f"{chain.site_url}/01/{GTIN}/10/L1")[1]) == [("verified", FARM_A, "")]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def _browser_parts(browser: object, url: str) -> list[list[str | None]]:
    context = browser.new_context(locale="en-US")  # type: ignore[attr-defined]
    try:
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-ref]')].length > 0 && "
            "[...document.querySelectorAll('[data-ref]')].every("
            "(p) => ['ok', 'fail'].includes(p.dataset.refState))"
        )
        parts: list[list[str | None]] = page.evaluate(
            """() => [...document.querySelectorAll('[data-ref]')].map((p) => [
                JSON.parse(p.dataset.ref).log, p.dataset.refState, p.dataset.refReason ?? null,
            ]).sort()"""
        )
        return parts
    finally:
        context.close()


def test_the_browser_checks_each_part_again_from_the_logs_own_read_apis(
    chain: Chain, browser: object
) -> None:
    await_true("the site to follow the three logs", lambda: _followed(chain))
    assert _browser_parts(browser, chain.pack_url("S1")) == [
        [FARM_A, "ok", None],
        [FARM_B, "ok", None],
    ]
    assert _browser_parts(browser, chain.pack_url("S9")) == [[FARM_A, "fail", "ref_entry_mismatch"]]
    assert _browser_parts(browser, chain.pack_url("S2")) == [[FARM_B, "fail", "ref_rolled_back"]]


def test_the_audit_of_the_plant_fails_on_the_forgery_and_the_rollback_and_lists_the_recall(
    chain: Chain,
) -> None:
    trust = chain.plant.data_dir.trust
    audit = ["audit", "--url", chain.plant.url, "--trust", trust, "--pins", chain.pins]
    code, out, err = farmtrace_in_process(*audit, "--no-progress")
    assert code == 1, out + err
    assert f"entry {chain.forged_entry}: ref_entry_mismatch: reference to " in out, out
    assert f"entry {chain.rolled_entry}: ref_rolled_back: reference to " in out, out
    assert f"{LOT} recalled at entry {chain.recall_entry}: {RECALL_REASON}" in out, out
    code, out, err = farmtrace_in_process(*audit, "--no-progress", "--json")
    report = json.loads(out)
    assert sorted(f["reason"] for f in report["failures"]) == [
        "ref_entry_mismatch",
        "ref_rolled_back",
    ]
    # The CLI verifies the good pack's two parts: each reference holds, cosigned.
    checks = {c["entry"]: c for c in report["references"]["checks"]}
    for entry, farm in zip(chain.good_entries, (FARM_A, FARM_B), strict=True):
        assert (checks[entry]["outcome"], checks[entry]["log"]) == ("ok", farm)
        assert checks[entry]["cosigners"] == ["coop.test/witness"]
    assert [r["subjects"] for r in report["recalls"]["own"]] == [[LOT]]


def test_the_cli_audits_each_farms_log_through_the_sites_mounts(chain: Chain) -> None:
    await_true("the site to follow the three logs", lambda: _followed(chain))
    audits = {}
    for party in (chain.farm_a, chain.farm_b):
        url = f"{chain.site_url}/logs/{chain.slugs[party.origin]}"
        audits[party.origin] = farmtrace_in_process(
            "audit", "--url", url, "--trust", party.data_dir.trust,
            "--witnesses", chain.pins.parent / "witnesses.json", "--no-progress",
        )  # fmt: skip
    code, out, err = audits[FARM_A]
    assert code == 0 and "RESULT: OK" in out, out + err
    # Farm B's rollback, seen from its own witness: it cosigned a bigger tree than is served.
    code, out, err = audits[FARM_B]
    assert code == 1, out + err
    assert "rollback: witness coop.test/witness cosigned size" in out, out


def _trace(chain: Chain, *what: str) -> tuple[int, str, str]:
    dirs = [arg for copy in chain.copies.values() for arg in ("--data-dir", str(copy))]
    return farmtrace_in_process("trace", "--pins", chain.pins, *dirs, *what)


def test_the_trace_lists_the_recall_first_and_flags_the_forged_and_rolled_back_refs(
    chain: Chain,
) -> None:
    code, out, err = _trace(chain, "--lot", f"{GTIN}/L1")
    assert code == 0, out + err
    first = out.strip().splitlines()
    recall_line = next(i for i, line in enumerate(first) if "recall" in line.lower())
    assert RECALL_REASON in out
    assert f"Birds (1): {FARM_A}|bird:0002" in out  # not farm B's bird:0002 of the same id
    assert recall_line < next(i for i, line in enumerate(first) if "slaughter" in line.lower())
    code, out, err = _trace(chain, "--pack", f"{GTIN}/S9")
    assert code == 0 and "ref_entry_mismatch" in out, out + err
    code, out, err = _trace(chain, "--pack", f"{GTIN}/S2")
    assert code == 0 and "REFERENCES THAT DO NOT HOLD (1):" in out, out + err
    # Farm B's own data directory is smaller than the tree the reference saw, and the plant
    # kept farm B's witness-cosigned note of that tree: farm B rolled back.
    assert re.search(r"-> Hill Top Farm: entry \d+ \(bird:0002, seen at size \d+\): FAILS "
                     r"ref_rolled_back", out), out  # fmt: skip
    code, out, err = _trace(chain, "--pack", f"{GTIN}/S1")
    assert code == 0, out + err
    assert "ref_" not in out, out  # both parts of the good pack hold
    assert FARM_A in out and FARM_B in out
