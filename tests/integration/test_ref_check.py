"""The gateway's reference check (gateway.ref_check) in its ingest, against a real read API.

A farm's log (tests/integration/party_logs.py: real LevelDB, cosigned by a
test witness) served over real HTTP; a plant's log whose
:class:`~gateway.ingest.Ingest` checks references with a :class:`RefCheck`
pinning the farm. The gateway subprocesses' test is test_gateway_ref_check.py.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from farm_logs import START_MS
from followed_logs import HttpLog
from party_logs import PartyLog, write_pins

from chain.entries import Entry, event_payload, parse_entry, sign_entry
from gateway.admission import Verdict
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.ref_check import RefCheck
from readapi.client import urllib_transport
from readapi.crosslog import Pins, ReferenceUnavailableError, load_pins

NOW = START_MS + 60_000
FARM = "farm-a.example/log"


class Parties:
    """The farm's log (bird:0001 and bird:0002 placed), served; the plant's log, its pins."""

    def __init__(self, root: Path) -> None:
        self.farm = PartyLog(root / "farm", FARM, "farm")
        self.placed = self.farm.event("placed", ["bird:0001", "bird:0002"], START_MS, barn="b1")
        self.plant = PartyLog(root / "plant", "plant.example/log", "plant")
        self.served: HttpLog = self.farm.serve()
        pin = self.farm.pin(root / "pins", [self.served.url], role="farm")
        self.pins: Pins = load_pins(write_pins(root / "pins" / "pins.json", [pin]))

    def slaughter(self, bird: str, **ref_changes: object) -> Entry:
        """The plant's slaughter of ``bird``, naming its placement at the farm."""
        self.plant.seq += 1
        ref = {**self.farm.ref(self.placed, bird), **ref_changes}
        payload = event_payload(
            "slaughtered", self.plant.seq, START_MS + 1000, [bird],
            plant="Riverside", outputs=[f"carcass:{bird[5:]}"], refs=[ref],
        )  # fmt: skip
        return parse_entry(sign_entry(payload, "plant", self.plant.operator.seed))

    def ingest(self, refs: RefCheck | None) -> Ingest:
        signer = read_log_signer(self.plant.data_dir)
        return Ingest.open(self.plant.store, self.plant.trust, signer, IngestConfig(), NOW, refs)

    def close(self) -> None:
        self.served.stop()
        self.farm.close()
        self.plant.close()


@pytest.fixture
def parties(tmp_path: Path) -> Iterator[Parties]:
    found = Parties(tmp_path)
    yield found
    found.close()


def test_without_pins_an_event_with_references_is_refused_unknown_log(parties: Parties) -> None:
    ingest = parties.ingest(None)
    decision = ingest.offer(parties.slaughter("bird:0001").raw, None, NOW)
    assert (decision.verdict, decision.reason) == (Verdict.REJECTED, "ref_unknown_log")
    assert "log not pinned" in decision.message and "following: none" in decision.message
    assert ingest.counts == {"ref_unknown_log": 1}


def test_the_note_kept_is_the_farms_cosigned_note_of_the_references_size(
    parties: Parties,
) -> None:
    event = parties.slaughter("bird:0001")
    (ref,) = event.payload["refs"]
    parties.farm.event("moved", ["bird:0002"], START_MS + 10, barn="b2")  # the farm grows on
    ingest = parties.ingest(RefCheck(parties.pins, parties.plant.store))
    assert ingest.offer(event.raw, None, NOW).verdict is Verdict.ACCEPTED
    farm_store = parties.farm.store
    assert farm_store.size > ref["size"]  # checked at the farm's current checkpoint ...
    kept = parties.plant.store.ref_checkpoint(FARM, ref["size"])
    assert kept == farm_store.checkpoint(ref["size"])  # ... and the note it names kept
    assert "— w1.example/witness" in kept
    assert parties.plant.store.ref_checkpoint(FARM, farm_store.size) is None
    served = parties.plant.serve()  # the plant's read API serves the kept note
    try:
        base = f"{served.url}/api/v1/refs/{hashlib.sha256(FARM.encode()).hexdigest()}/checkpoints"
        with urllib.request.urlopen(f"{base}/{ref['size']}", timeout=5) as answer:
            assert answer.read().decode() == kept
            assert answer.headers["Content-Type"].startswith("text/plain")
        for url, status in (
            (f"{base}/{farm_store.size}", 404),
            (f"{served.url}/api/v1/refs/ABC/checkpoints/1", 400),
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url, timeout=5)
            with refused.value:
                assert refused.value.code == status and "error" in json.load(refused.value)
    finally:
        served.stop()


def test_at_the_references_own_size_the_note_checked_is_kept_without_asking_again(
    parties: Parties,
) -> None:
    asked: list[str] = []

    def counted(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        asked.append(url)
        return urllib_transport(method, url, timeout)

    event = parties.slaughter("bird:0001")  # the farm has not grown since
    (ref,) = event.payload["refs"]
    refs = RefCheck(parties.pins, parties.plant.store, transport=counted)
    assert parties.ingest(refs).offer(event.raw, None, NOW).verdict is Verdict.ACCEPTED
    assert parties.plant.store.ref_checkpoint(FARM, ref["size"]) == parties.farm.store.checkpoint(
        ref["size"]
    )
    assert [url.rpartition("/api/v1/")[2] for url in asked if "/api/v1/" in url] == [
        f"entries/{ref['index']}/proof?tree_size={ref['size']}"
    ], asked  # the proof check_at_sources asked for, and nothing more


def test_a_recovered_or_checked_reference_is_not_fetched_again(parties: Parties) -> None:
    refs = RefCheck(parties.pins, parties.plant.store)
    ingest = parties.ingest(refs)
    first, second = parties.slaughter("bird:0001"), parties.slaughter("bird:0002")
    assert ingest.offer(first.raw, None, NOW).verdict is Verdict.ACCEPTED
    ingest.flush()
    refs.check(second)
    parties.served.stop()  # the farm's log is down from now on
    refs.check(second)  # held a moment ago: remembered
    # A restart re-admits the durable pending slaughter without asking the farm.
    again = parties.ingest(RefCheck(parties.pins, parties.plant.store))
    assert again.pending_count == 1 and not again.counts
    third = parties.slaughter("bird:0002")  # another event: its reference is checked
    decision = again.offer(third.raw, None, NOW)
    assert (decision.verdict, decision.reason) == (Verdict.REJECTED, "ref_unavailable")


def test_a_source_that_never_answers_costs_at_most_the_events_budget(parties: Parties) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        party = replace(parties.pins.parties[0], sources=(f"http://127.0.0.1:{port}",))
        pins = Pins((party,))
        refs = RefCheck(pins, parties.plant.store, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(ReferenceUnavailableError) as caught:
            refs.check(parties.slaughter("bird:0001"))
        assert time.monotonic() - started < 3
    assert caught.value.reason == "ref_unavailable"
    assert "no source answered" in str(caught.value) and "timed out" in str(caught.value)
