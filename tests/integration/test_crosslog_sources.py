"""Cross-log references checked against real read APIs and real LevelDB copies (readapi.crosslog).

A farm's log and its stale copy are real stores served by the real read API
over HTTP; the plant's references are made with :func:`reference_to` and
checked with :func:`check_at_sources` and :func:`local_evidence`, as a
writer, an auditor and a site do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from server_thread import ServerThread
from werkzeug.serving import make_server

from chain.crosslog import (
    CrossLogReferenceError,
    LogReference,
    Referrer,
    check_reference,
)
from chain.entries import event_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import create_read_api, install_json_errors
from readapi.crosslog import (
    NoReferableEntryError,
    Pins,
    ReferenceUnavailableError,
    check_at_sources,
    load_pins,
    local_evidence,
    reference_to,
)

FARM = "farm-a.example/log"
T0 = 1_780_000_000_000
SLAUGHTER = Referrer("slaughtered", ("bird:0001",), T0 + 86_400_000)


@dataclass(frozen=True)
class _Source:
    """A readapi.LogSource over one store."""

    origin: str
    verifier_key: str
    store: Store
    witnesses: tuple[str, ...] = ()


class FarmLog:
    """A farm's real log: hatched, placed (block 1), a vet's visit (block 2), died (block 3)."""

    def __init__(self, root: Path) -> None:
        self.data_dir = DataDir(root)
        admin = SignerKey.generate("admin", seed=bytes(32))
        self.trust = init_data_dir(self.data_dir, FARM, [admin], T0 - 1000)
        self.store = Store.open(self.data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(self.data_dir))
        self.seq = 0
        self.hatched = self.add("hatched", ["bird:0001", "bird:0002"], breed="Ross 308")
        self.placed = self.add("placed", ["bird:0001", "bird:0002"], barn="b1")
        self.vaccinated = self.add("vaccinated", ["bird:0001"], vaccine="ND")

    def add(self, event: str, subjects: list[str], **fields: object) -> int:
        self.seq += 1
        payload = event_payload(event, self.seq, T0 + self.seq * 1000, subjects, **fields)
        entry = parse_entry(sign_entry(payload, "farmer", hashlib.sha256(b"farmer").digest()))
        header = self.writer.commit_block([entry], T0 + self.seq * 1000)
        self.writer.sign_checkpoint()
        return header.first_index

    def serve(self, store: Store | None = None) -> ServerThread:
        source = _Source(FARM, self.trust.log_key, store or self.store)
        app = Flask("farm")
        app.register_blueprint(create_read_api(source))
        install_json_errors(app)
        return ServerThread(make_server("127.0.0.1", 0, app, threaded=True))


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[FarmLog]:
    log = FarmLog(tmp_path / "farm")
    yield log
    log.store.close()


def _pins(tmp_path: Path, farm: FarmLog, *urls: str) -> Pins:
    (tmp_path / "farm-trust.json").write_text(farm.trust.to_json())
    doc = {
        "logs": [
            {
                "origin": FARM,
                "name": "Green Valley Farm",
                "role": "farm",
                "trust": "farm-trust.json",
                "sources": list(urls),
            }
        ]
    }
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(doc))
    return load_pins(path)


def _url(server: ServerThread) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_a_writer_references_the_placement_and_any_verifier_checks_it(
    tmp_path: Path, farm: FarmLog
) -> None:
    server = farm.serve()
    try:
        pins = _pins(tmp_path, farm, _url(server))
        checked = reference_to(FARM, "bird:0001", pins, SLAUGHTER)
        # The latest entry a slaughter may name: the placement, not the vet's visit.
        assert (checked.ref.index, checked.ref.size) == (farm.placed, farm.store.size)
        assert checked.entry.payload["event"] == "placed"
        farm.add("died", ["bird:0002"])  # the farm grows on: a consistency proof is needed
        again = check_at_sources(checked.ref, pins, SLAUGHTER)
        assert again.checkpoint.size == checked.ref.size + 1
        with pytest.raises(NoReferableEntryError, match="bird:0009"):
            reference_to(FARM, "bird:0009", pins, SLAUGHTER)
    finally:
        server.stop()


def test_a_forged_reference_is_refused_by_the_live_log(tmp_path: Path, farm: FarmLog) -> None:
    server = farm.serve()
    try:
        pins = _pins(tmp_path, farm, _url(server))
        real = reference_to(FARM, "bird:0001", pins, SLAUGHTER).ref
        forged = dataclasses.replace(real, entry_hash=hashlib.sha256(b"never placed").hexdigest())
        with pytest.raises(CrossLogReferenceError) as caught:
            check_at_sources(forged, pins, SLAUGHTER)
        assert caught.value.reason == "ref_entry_mismatch"
    finally:
        server.stop()


def test_a_farm_serving_an_older_tree_is_caught_rolling_back(tmp_path: Path, farm: FarmLog) -> None:
    farm.store.copy_to(tmp_path / "backup")  # three blocks: before the vet's visit
    farm.add("moved", ["bird:0001"], barn="b2", from_barn="b1")
    live = farm.serve()
    try:
        pins = _pins(tmp_path, farm, _url(live))
        ref = reference_to(FARM, "bird:0001", pins, SLAUGHTER).ref  # the move, at size 5
    finally:
        live.stop()
    backup = Store.open(tmp_path / "backup")
    restored = farm.serve(backup)  # the farm "restores a backup" and serves it
    live = farm.serve()
    try:
        pins = _pins(tmp_path, farm, _url(restored))
        with pytest.raises(CrossLogReferenceError) as caught:
            check_at_sources(ref, pins, SLAUGHTER)
        assert caught.value.reason == "ref_rolled_back"
        assert (caught.value.expected, caught.value.found) == (
            f"a checkpoint of size >= {ref.size}",
            f"size {backup.size}",
        )
        # A second source still showing the tree: the reference holds there.
        both = _pins(tmp_path, farm, _url(restored), _url(live))
        assert check_at_sources(ref, both, SLAUGHTER).checkpoint.size == ref.size
    finally:
        restored.stop()
        live.stop()
        backup.close()


def test_a_log_whose_sources_are_down_leaves_the_reference_dangling(
    tmp_path: Path, farm: FarmLog
) -> None:
    server = farm.serve()
    pins = _pins(tmp_path, farm, _url(server))
    ref = reference_to(FARM, "bird:0001", pins, SLAUGHTER).ref
    server.stop()
    with pytest.raises(ReferenceUnavailableError, match="no source answered") as caught:
        check_at_sources(ref, pins, SLAUGHTER, timeout=2)
    assert caught.value.reason == "ref_unavailable"


def test_an_unpinned_log_is_refused_before_any_request(tmp_path: Path, farm: FarmLog) -> None:
    pins = _pins(tmp_path, farm, "http://127.0.0.1:9")
    other = LogReference("farm-b.example/log", 1, "0" * 64, 2, "0" * 64, "bird:0001")
    with pytest.raises(CrossLogReferenceError) as caught:
        check_at_sources(other, pins, SLAUGHTER)
    assert caught.value.reason == "ref_unknown_log"
    with pytest.raises(CrossLogReferenceError, match="not pinned"):
        reference_to("farm-b.example/log", "bird:0001", pins, SLAUGHTER)


def test_a_local_copy_is_evidence_too(tmp_path: Path, farm: FarmLog) -> None:
    server = farm.serve()
    try:
        pins = _pins(tmp_path, farm, _url(server))
        ref = reference_to(FARM, "bird:0001", pins, SLAUGHTER).ref
    finally:
        server.stop()
    farm.store.copy_to(tmp_path / "behind")
    farm.add("died", ["bird:0002"])
    checked = check_reference(ref, local_evidence(ref, farm.store), pins.pinned(), SLAUGHTER)
    assert checked.checkpoint.size == ref.size + 1
    # An index past everything the tree of ref.size holds: never shown there.
    beyond = dataclasses.replace(ref, index=farm.store.entry_count + 5)
    with pytest.raises(CrossLogReferenceError) as caught:
        local_evidence(beyond, farm.store)
    assert caught.value.reason == "ref_entry_mismatch"
    # A copy that has not caught up is not a log that rolled back.
    later = dataclasses.replace(ref, size=farm.store.size)
    behind = Store.open(tmp_path / "behind")
    try:
        with pytest.raises(ReferenceUnavailableError, match="not yet"):
            local_evidence(later, behind)
    finally:
        behind.close()
