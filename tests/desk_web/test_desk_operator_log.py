"""A desk in front of an operator-only log: events go to the gateway over HTTP, no broker."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from desk_harness import log_in, make_desk_dir, reserved_seq, submit

from chain.entries import operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store
from desk import create_app
from farmtrace import _cmd_desk
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.init import init_data_dir
from gateway.service import Gateway, GatewayConfig
from signer.http_submit import parse_submit_url, submit_and_wait

HATCHERY = SignerKey.generate("hatch1")


@pytest.fixture
def hatchery_log(tmp_path: Path) -> Iterator[Gateway]:
    """A hatchery's operator-only log with hatch1 registered (over HTTP too)."""
    data_dir = DataDir(tmp_path / "gw")
    admin = SignerKey.generate("admin")
    now = time.time_ns() // 1_000_000
    init_data_dir(data_dir, "hatchery.test/log", [admin], now - 7_200_000)
    gateway = Gateway(
        GatewayConfig(
            data_dir=data_dir, farm=None, ingest=IngestConfig(block_interval_ms=50), http_port=0
        )
    )
    gateway.start()
    try:
        assert gateway.mqtt is None and gateway.submit_loop is not None
        payload = operator_payload(
            "register", HATCHERY.id, 2, now - 3_600_000, pubkey=HATCHERY.public_key,
            roles=["hatchery"],
        )  # fmt: skip
        url = parse_submit_url(f"http://127.0.0.1:{gateway.http_port}")
        submit_and_wait(url, sign_entry(payload, admin.id, admin.seed), timeout=20)
        yield gateway
    finally:
        gateway.stop()


def test_a_desk_records_an_event_in_an_operator_only_log(
    tmp_path: Path, hatchery_log: Gateway
) -> None:
    api = f"http://127.0.0.1:{hatchery_log.http_port}"
    desk_dir = make_desk_dir(tmp_path / "desk", HATCHERY)
    app = create_app(
        {"DESK_DIR": desk_dir, "SUBMIT_URL": api, "CHECK_URL": api, "RECEIPT_TIMEOUT": 15.0}
    )
    app.testing = True
    client = app.test_client()
    log_in(client)
    response = submit(client, "hatched", {"subjects": "bird:0001", "breed": "Ross 308"})
    assert response.status_code == 303, response.get_data(as_text=True)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    block = re.search(r'<dd id="block">(\d+)</dd>', html)
    assert block is not None and int(block[1]) >= 2, html
    assert reserved_seq(desk_dir) == 1
    hatchery_log.stop()
    with Store.open(hatchery_log.config.data_dir.log) as store:
        last = parse_entry(store.entry(store.entry_count - 1))
    assert (last.kid, last.seq, last.payload["event"]) == ("hatch1", 1, "hatched")


def test_a_desk_needs_one_way_to_send(tmp_path: Path) -> None:
    desk_dir = make_desk_dir(tmp_path / "desk", HATCHERY)
    both = {"SUBMIT_URL": "http://gw:8083", "MQTT_URL": "mqtt://h@gw", "FARM": "f"}
    with pytest.raises(ValueError, match="SUBMIT_URL"):
        create_app({"DESK_DIR": desk_dir, "CHECK_URL": "http://gw:8083", **both})
    with pytest.raises(ValueError, match="MQTT_URL: required"):
        create_app({"DESK_DIR": desk_dir, "CHECK_URL": "http://gw:8083"})


def test_a_refusal_by_the_gateway_is_shown_with_its_reason(
    tmp_path: Path, hatchery_log: Gateway
) -> None:
    api = f"http://127.0.0.1:{hatchery_log.http_port}"
    desk_dir = make_desk_dir(tmp_path / "desk", HATCHERY)
    config = {"DESK_DIR": desk_dir, "SUBMIT_URL": api, "CHECK_URL": api}
    app = create_app({**config, "ROLES": ["hatchery", "vet"], "RECEIPT_TIMEOUT": 15.0})
    app.testing = True
    client = app.test_client()
    log_in(client)  # the desk believes it may sign as a vet; the log registered a hatchery
    response = submit(client, "inspected", {"subjects": "barn:b1", "result": "pass"})
    page = response.get_data(as_text=True)
    assert response.status_code == 502, page
    assert "The gateway refused the event" in page and "unauthorized" in page


def test_desk_run_takes_a_submit_url_instead_of_a_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_desk.add_parser(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["desk", "run", "--desk-dir", str(desk_dir), *argv])
        code: int = args.handler(args)
        return code

    desk_dir = make_desk_dir(tmp_path / "desk", HATCHERY)
    common = ("--check-url", "http://127.0.0.1:9", "--port", "0")
    assert run("--submit-url", "http://127.0.0.1:9", "--farm", "farm1", *common) == 2
    assert "--farm goes with --mqtt" in capsys.readouterr().err
    assert run("--submit-url", "mqtt://127.0.0.1", *common) == 2
    assert "submit URL: expected http[s]://" in capsys.readouterr().err
