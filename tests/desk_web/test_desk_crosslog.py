"""The desk names other logs' entries (``PINS``, desk/_refs.py): a plant slaughters a farm's bird.

Real parts: the farm's log is a real LevelDB log cosigned by a test witness
and served over real HTTP (tests/party_logs.py); the plant's log is a real
operator-only gateway taking entries over HTTP and checking references
against the same pins (gateway.ref_check).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desk_harness import AppFactory, log_in, make_desk_dir, reserved_seq, submit
from flask.testing import FlaskClient
from party_logs import START_MS, PartyLog, Served, write_pins

from chain.checkpoint import generate_cosigner_key
from chain.entries import operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from desk import create_app
from desk._refs import parties_for
from farmtrace import _cmd_desk
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.init import init_data_dir
from gateway.service import Gateway, GatewayConfig
from readapi.crosslog import load_pins
from signer.http_submit import parse_submit_url, submit_and_wait

FARM = "farm-a.example/log"
FARM_FIELD = "from-farm-a-example"
PLANT_OPERATOR = SignerKey.generate("plant1")
SLAUGHTER = {"plant": "Riverside", "outputs": "carcass:0001"}


class FarmA:
    """Farm A's log with bird:0001 placed, served over HTTP, and a pins file pinning it.

    The pins also name a distributor (never asked: its source is a closed port).
    """

    def __init__(self, root: Path) -> None:
        self.log = PartyLog(root / "farm", FARM, "farm")
        self.log.event("hatched", ["bird:0001"], START_MS - 100, breed="Ross 308")
        self.placed = self.log.event("placed", ["bird:0001"], START_MS, barn="b1")
        self.served: Served = self.log.serve()
        self.distributor = PartyLog(root / "dist", "dist.example/log", "distributor")
        farm_pin = self.log.pin(root / "pins", [self.served.url], role="farm", name="Farm A")
        dist_pin = self.distributor.pin(
            root / "pins", ["http://127.0.0.1:9"], role="distributor", name="Dist"
        )
        self.pins_file = write_pins(root / "pins" / "pins.json", [farm_pin, dist_pin])

    def close(self) -> None:
        self.served.stop()
        self.log.close()
        self.distributor.close()


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[FarmA]:
    found = FarmA(tmp_path)
    yield found
    found.close()


@pytest.fixture
def plant_log(tmp_path: Path, farm: FarmA) -> Iterator[Gateway]:
    """The plant's operator-only log, checking references (the farm pinned); plant1 registered."""
    data_dir = DataDir(tmp_path / "plant")
    admin = SignerKey.generate("admin")
    now = time.time_ns() // 1_000_000
    init_data_dir(data_dir, "plant.example/log", [admin], now - 7_200_000)
    config = GatewayConfig(
        data_dir=data_dir,
        farm=None,
        ingest=IngestConfig(block_interval_ms=50),
        http_port=0,
        pins=load_pins(farm.pins_file),
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        payload = operator_payload(
            "register", PLANT_OPERATOR.id, 2, now - 3_600_000,
            pubkey=PLANT_OPERATOR.public_key, roles=["plant"],
        )  # fmt: skip
        url = parse_submit_url(f"http://127.0.0.1:{gateway.http_port}")
        submit_and_wait(url, sign_entry(payload, admin.id, admin.seed), timeout=20)
        yield gateway
    finally:
        gateway.stop()


def _client(app: Any) -> FlaskClient:
    app.testing = True
    client: FlaskClient = app.test_client()
    log_in(client)
    return client


def test_a_plant_slaughters_farm_as_bird_and_the_signed_event_names_its_placement(
    tmp_path: Path, farm: FarmA, plant_log: Gateway
) -> None:
    api = f"http://127.0.0.1:{plant_log.http_port}"
    desk_dir = make_desk_dir(tmp_path / "desk", PLANT_OPERATOR)
    config = {"DESK_DIR": desk_dir, "SUBMIT_URL": api, "CHECK_URL": api, "PINS": farm.pins_file}
    client = _client(create_app({**config, "RECEIPT_TIMEOUT": 15.0}))
    form = client.get("/events/slaughtered").get_data(as_text=True)
    assert f'name="{FARM_FIELD}"' in form and "Farm A" in form
    assert "Dist" not in form  # a distributor's log holds no birds

    fields = {"subjects": "bird:0001", FARM_FIELD: "bird:0001", **SLAUGHTER}
    response = submit(client, "slaughtered", fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    shown = re.search(r'<ul id="refs">(.*?)</ul>', page, re.S)
    assert shown is not None, page
    assert re.search(rf"Farm A \(<code>{re.escape(FARM)}</code>\), entry {farm.placed},", shown[1])
    assert "its placed of 2026-01-01 00:00:00 UTC" in shown[1]
    assert "cosigned by w1.example/witness" in shown[1]
    assert reserved_seq(desk_dir) == 1

    plant_log.stop()
    with Store.open(plant_log.config.data_dir.log) as store:
        last = parse_entry(store.entry(store.entry_count - 1))
    assert (last.kid, last.payload["event"]) == ("plant1", "slaughtered")
    assert [dict(ref) for ref in last.payload["refs"]] == [farm.log.ref(farm.placed, "bird:0001")]


@pytest.fixture
def offline_desk(make_app: AppFactory, farm: FarmA) -> FlaskClient:
    """A plant's desk pinning the farm; its own log is never reached (every refusal comes first)."""
    return _client(make_app(PINS=farm.pins_file, ROLES=["plant", "distributor"]))


def _refused(client: FlaskClient, fields: dict[str, str], status: int) -> str:
    response = submit(client, "slaughtered", {"subjects": "bird:0001", **SLAUGHTER, **fields})
    page: str = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert f'value="{fields.get(FARM_FIELD, "")}"' in page  # the form is kept as typed
    return page


def _counted(client: FlaskClient, outcome: str) -> bool:
    metrics = client.get("/metrics").get_data(as_text=True)
    return f'desk_events_total{{event="slaughtered",outcome="{outcome}"}} 1.0' in metrics


def test_a_bird_the_farm_never_placed_is_a_clear_error_and_no_seq_is_used(
    offline_desk: FlaskClient, desk_dir: Path
) -> None:
    page = _refused(offline_desk, {"subjects": "bird:0009", FARM_FIELD: "bird:0009"}, 409)
    assert "The other log has no such entry" in page
    assert f"{FARM} has no entry about bird:0009 that a slaughtered may name" in page
    assert _counted(offline_desk, "ref_nothing_to_name")
    assert reserved_seq(desk_dir) == 0


def test_an_unreachable_farm_log_means_try_again_later(
    offline_desk: FlaskClient, farm: FarmA, desk_dir: Path
) -> None:
    farm.served.stop()
    page = _refused(offline_desk, {FARM_FIELD: "bird:0001"}, 503)
    assert "The other log could not be reached, nothing was signed: try again later" in page
    assert "no source answered" in page
    assert _counted(offline_desk, "ref_unavailable")
    assert reserved_seq(desk_dir) == 0


def test_a_reference_that_does_not_hold_is_refused_with_its_reason_in_words(
    make_app: AppFactory, farm: FarmA, desk_dir: Path, tmp_path: Path
) -> None:
    _skey, other = generate_cosigner_key("w2.example/witness", seed=b"\x08" * 32)
    policy = WitnessPolicy(1, (Witness(other),))  # the farm's checkpoints lack w2's cosignature
    (farm.pins_file.parent / "farm-a.example_log" / "witnesses.json").write_text(policy.to_json())
    client = _client(make_app(PINS=farm.pins_file))
    page = _refused(client, {FARM_FIELD: "bird:0001"}, 409)
    assert "The reference to the other log does not hold" in page
    assert "lacks the cosignatures its witnesses must give (ref_not_cosigned)" in page
    assert _counted(client, "ref_not_cosigned")
    assert reserved_seq(desk_dir) == 0


def test_a_subject_from_another_log_must_be_one_of_the_events(
    offline_desk: FlaskClient, desk_dir: Path
) -> None:
    page = _refused(offline_desk, {FARM_FIELD: "bird:0002"}, 400)
    assert "from Farm A: bird:0002 is not one of the event&#39;s subjects (bird:0001)" in page
    assert reserved_seq(desk_dir) == 0


def test_each_referencing_kind_offers_the_parties_whose_logs_may_hold_what_it_names(
    offline_desk: FlaskClient, farm: FarmA
) -> None:
    pins = load_pins(farm.pins_file)
    offered = {kind: [p.name for p in parties_for(pins, kind)] for kind in ("slaughtered",)}
    offered |= {kind: [p.name for p in parties_for(pins, kind)] for kind in ("received", "moved")}
    assert offered == {"slaughtered": ["Farm A"], "received": ["Farm A", "Dist"], "moved": []}
    received = offline_desk.get("/events/received").get_data(as_text=True)
    assert 'name="from-dist-example"' in received and 'id="from-other-logs"' in received
    assert parties_for(None, "slaughtered") == ()
    assert [p.name for p in parties_for(pins, "received", own="dist.example/log")] == ["Farm A"]


def test_the_desks_own_log_is_not_offered_as_another(make_app: AppFactory, farm: FarmA) -> None:
    client = _client(make_app(PINS=farm.pins_file, CHECK_URL=farm.served.url, ROLES=["farm"]))
    page = client.get("/events/shipped").get_data(as_text=True)  # at farm A's own desk
    assert 'name="from-dist-example"' in page and FARM_FIELD not in page


def test_without_pins_the_forms_have_no_field_for_other_logs(make_app: AppFactory) -> None:
    page = _client(make_app()).get("/events/slaughtered").get_data(as_text=True)
    assert "from-other-logs" not in page and "From other logs" not in page


def test_desk_run_refuses_to_start_on_a_pins_file_it_cannot_read(
    desk_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_desk.add_parser(parser.add_subparsers(dest="command", required=True))
    (tmp_path / "bad.json").write_text('{"logs": []}')
    for pins, problem in (("missing.json", "cannot read pins file"), ("bad.json", "at least one")):
        args = parser.parse_args(
            ["desk", "run", "--desk-dir", str(desk_dir), "--mqtt", "mqtt://p@127.0.0.1:9",
             "--farm", "farm1", "--check-url", "http://127.0.0.1:9", "--port", "0",
             "--pins", str(tmp_path / pins)]
        )  # fmt: skip
        assert args.handler(args) == 2
        assert problem in capsys.readouterr().err
