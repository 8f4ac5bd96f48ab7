"""Desk submissions end to end: a real Mosquitto with passwords and ACL, a real gateway."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from desk_harness import PASSWORD, log_in, make_desk_dir, reserved_seq, submit
from flask import Flask
from flask.testing import FlaskClient
from mqtt_broker import Broker

from chain.entries import Entry, operator_payload, parse_entry, sign_entry, verify_entry
from chain.keyfile import SignerKey
from chain.store import Store
from desk import USERS_FILE, add_user, create_app
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.init import init_data_dir
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig
from signer.mqtt_url import MqttUrl
from signer.transport import publish_and_wait

FARM = "deskfarm"
GTIN = "09506000134352"
HATCHERY, PLANT = SignerKey.generate("hatch1"), SignerKey.generate("plant1")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Farm:
    """A gateway behind a secured broker, with hatch1 (hatchery, farm) and plant1 (plant)."""

    def __init__(self, root: Path, broker: Broker) -> None:
        self.root, self.broker = root, broker
        self.data_dir = DataDir(root / "gw")
        admin = SignerKey.generate("admin")
        init_data_dir(self.data_dir, "desk.test/log", [admin], now_ms() - 7_200_000)
        self.gateway = Gateway(
            GatewayConfig(
                data_dir=self.data_dir,
                farm=FARM,
                mqtt=MqttSettings(
                    port=broker.port,
                    username="gateway",
                    password=broker.password("gateway"),
                    client_id="gw-desk-test",
                ),
                ingest=IngestConfig(block_interval_ms=50),
                http_port=0,
            )
        )
        self.gateway.start()
        assert self.gateway.mqtt is not None
        assert self.gateway.mqtt.connected.wait(20), "the gateway never subscribed"
        self.check_url = f"http://127.0.0.1:{self.gateway.http_port}"
        ts = now_ms() - 3_600_000
        operators = [(HATCHERY, ["hatchery", "farm"]), (PLANT, ["plant"])]
        for seq, (key, roles) in enumerate(operators, start=2):  # genesis used seq 1
            payload = operator_payload(
                "register", key.id, seq, ts, pubkey=key.public_key, roles=roles
            )
            raw = sign_entry(payload, admin.id, admin.seed)
            publish_and_wait(raw, seq, admin.id, self.mqtt("admin"), FARM, 20)

    def mqtt(self, user: str) -> MqttUrl:
        return MqttUrl("127.0.0.1", self.broker.port, user, self.broker.password(user))

    def desk(self, key: SignerKey, **config: Any) -> tuple[Flask, Path]:
        desk_dir = make_desk_dir(self.root / f"desk-{key.id}", key)
        url = self.mqtt(key.id)
        base = {
            "DESK_DIR": desk_dir,
            "MQTT_URL": f"mqtt://{url.username}:{url.password}@127.0.0.1:{url.port}",
            "FARM": FARM,
            "CHECK_URL": self.check_url,
            "RECEIPT_TIMEOUT": 15.0,
        }
        app = create_app({**base, **config})
        app.testing = True
        return app, desk_dir

    def entries(self) -> list[Entry]:
        """Every committed entry (stops the gateway)."""
        self.gateway.stop()
        with Store.open(self.data_dir.log) as store:
            return [parse_entry(store.entry(i)) for i in range(store.entry_count)]


@pytest.fixture
def farm(tmp_path: Path, secured_broker: Any) -> Iterator[Farm]:
    broker = secured_broker(farm=FARM, devices=("admin", "hatch1", "plant1"))
    farm = Farm(tmp_path, broker)
    yield farm
    farm.gateway.stop()


def recorded(client: FlaskClient, response: Any) -> tuple[int, int]:
    """Follow a successful submission to its result page: (seq, block)."""
    assert response.status_code == 303, response.get_data(as_text=True)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    seq = re.search(r'<span id="seq">(\d+)</span>', html)
    block = re.search(r'<dd id="block">(\d+)</dd>', html)
    assert seq is not None and block is not None, html
    return int(seq[1]), int(block[1])


def test_a_birds_story_through_two_desks_ends_signed_in_the_log(farm: Farm) -> None:
    hatchery_app, _ = farm.desk(HATCHERY)  # roles read from the log
    plant_app, plant_dir = farm.desk(PLANT)
    hatchery, plant = hatchery_app.test_client(), plant_app.test_client()
    log_in(hatchery)
    log_in(plant)
    index = plant.get("/").get_data(as_text=True)
    assert "/events/slaughtered" in index and "/events/hatched" not in index
    assert plant.get("/events/hatched").status_code == 403

    hatched = submit(hatchery, "hatched", {"subjects": "bird:0001", "breed": "Ross 308"})
    assert recorded(hatchery, hatched)[0] == 1
    placed = submit(hatchery, "placed", {"subjects": "bird:0001", "barn": "b1"})
    assert recorded(hatchery, placed)[0] == 2

    early = submit(plant, "packed", {"subjects": "bird:0001", "gtin": GTIN, "serial": "s1"})
    assert early.status_code == 409
    page = early.get_data(as_text=True)
    assert "The log contradicts this event" in page and "was never slaughtered" in page
    assert "bird:0001" in page and 'value="s1"' in page  # the form keeps what was typed
    assert reserved_seq(plant_dir) == 0  # refused before signing: no seq used

    fields = {"subjects": "bird:0001", "plant": "Riverside", "outputs": "carcass:0001"}
    seq, block = recorded(plant, submit(plant, "slaughtered", fields))
    assert (seq, reserved_seq(plant_dir)) == (1, 1) and block >= 1
    again = submit(plant, "slaughtered", {**fields, "outputs": "carcass:0002"})
    assert again.status_code == 409
    assert "was slaughtered in entry" in again.get_data(as_text=True)
    assert reserved_seq(plant_dir) == 1

    html = plant.get("/events/packed").get_data(as_text=True)
    assert '<input id="m-best_before" name="best_before" type="date"' in html  # a date picker
    tokens = dict(re.findall(r'name="(csrf_token|form_id)" value="([^"]+)"', html))
    data = {**tokens, "subjects": "carcass:0001", "gtin": GTIN, "serial": "s1", "weight_g": "1850"}
    best_before = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    data |= {"product": "Whole chicken", "best_before": best_before}
    first = plant.post("/events/packed", data=data)
    second = plant.post("/events/packed", data=data)  # a double click: the same form again
    assert recorded(plant, first)[0] == 2 and recorded(plant, second)[0] == 2
    assert reserved_seq(plant_dir) == 2

    metrics = plant.get("/metrics").get_data(as_text=True)
    assert 'desk_events_total{event="packed",outcome="conflict"} 1.0' in metrics
    assert 'desk_events_total{event="packed",outcome="recorded"} 1.0' in metrics
    assert 'desk_events_total{event="packed",outcome="repeated"} 1.0' in metrics

    events = [e for e in farm.entries() if e.type == "event"]
    assert [(e.kid, e.seq, e.payload["event"]) for e in events] == [
        ("hatch1", 1, "hatched"),
        ("hatch1", 2, "placed"),
        ("plant1", 1, "slaughtered"),
        ("plant1", 2, "packed"),
    ]
    for entry in events:
        verify_entry(entry, (HATCHERY if entry.kid == "hatch1" else PLANT).public_key)
    with Store.open(farm.data_dir.log) as store:
        index = store.lookup("plant1", 1)
        assert index is not None and store.block_of_entry(index) == block
    packed = events[-1].payload
    assert packed["subjects"] == ("carcass:0001",) and packed["weight_g"] == 1850
    assert packed["gtin"] == GTIN and packed["serial"] == "s1"
    assert (packed["product"], packed["best_before"]) == ("Whole chicken", best_before)


def test_an_event_the_gateway_refuses_is_reported_as_not_confirmed(farm: Farm) -> None:
    # The desk is told the operator is a vet; the log says it is a plant: the
    # pre-check passes, the gateway refuses, no receipt comes.
    app, desk_dir = farm.desk(PLANT, ROLES=["vet"], RECEIPT_TIMEOUT=1.0)
    client = app.test_client()
    log_in(client)
    hatchery_app, _ = farm.desk(HATCHERY)
    hatchery = hatchery_app.test_client()
    log_in(hatchery)
    recorded(hatchery, submit(hatchery, "hatched", {"subjects": "bird:0002", "breed": "Ross"}))
    response = submit(client, "inspected", {"subjects": "bird:0002", "result": "pass"})
    assert response.status_code == 504
    page = response.get_data(as_text=True)
    assert "Not confirmed" in page and "seq 1" in page and "check the log" in page
    assert reserved_seq(desk_dir) == 1
    assert not any(e.kid == "plant1" for e in farm.entries())


def test_an_unreachable_log_signs_nothing(farm: Farm) -> None:
    app, desk_dir = farm.desk(PLANT)
    client = app.test_client()
    log_in(client)
    form = client.get("/events/slaughtered").get_data(as_text=True)
    farm.gateway.stop()
    tokens = dict(re.findall(r'name="(csrf_token|form_id)" value="([^"]+)"', form))
    fields = {"subjects": "bird:0003", "plant": "Riverside", "outputs": "carcass:0003"}
    response = client.post("/events/slaughtered", data={**tokens, **fields})
    assert response.status_code == 503  # the roles are still cached; the events are unreadable
    page = response.get_data(as_text=True)
    assert "The log could not be checked, nothing was signed" in page
    assert "unreachable" in page
    assert reserved_seq(desk_dir) == 0


def test_a_form_id_shows_its_result_to_its_user_only(farm: Farm) -> None:
    app, desk_dir = farm.desk(HATCHERY)
    add_user(desk_dir / USERS_FILE, "jonas", PASSWORD)
    maria, jonas = app.test_client(), app.test_client()
    log_in(maria)
    log_in(jonas, user="jonas")
    html = maria.get("/events/hatched").get_data(as_text=True)
    tokens = dict(re.findall(r'name="(csrf_token|form_id)" value="([^"]+)"', html))
    fields = {"subjects": "bird:0004", "breed": "Ross 308"}
    assert recorded(maria, maria.post("/events/hatched", data={**tokens, **fields}))[0] == 1
    theirs = jonas.get("/events/hatched").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', theirs)
    assert csrf is not None
    data = {**tokens, "csrf_token": csrf[1], **fields}
    response = jonas.post("/events/hatched", data=data)
    assert response.status_code == 404
    assert "bird:0004" not in response.get_data(as_text=True)
    assert jonas.get("/recorded").status_code == 302  # no result in jonas's session
    assert reserved_seq(desk_dir) == 1  # and nothing signed again
