"""The desk's fleet page in a real browser, fed by a real gateway over a real Mosquitto.

A member of staff logs in, opens the fleet page and sees every registered
device, the silent one flagged (and listed first), the live one not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import ConsoleWatch, screenshot, serve
from desk_web.desk_harness import PASSWORD, make_desk_dir
from integration.gateway_harness import FARM, Publisher, Signer, new_data_dir, now_ms
from mqtt_broker import Broker
from playwright.sync_api import Page, expect

from chain.keyfile import SignerKey
from desk import create_app
from gateway.fleet_state import FleetSettings
from gateway.ingest import IngestConfig
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig


@pytest.fixture
def gateway(broker: Broker, tmp_path: Path) -> Iterator[tuple[Gateway, Signer]]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    gw = Gateway(
        GatewayConfig(
            data_dir=data_dir,
            farm=FARM,
            mqtt=MqttSettings(port=broker.port, client_id="gw-fleet-page"),
            ingest=IngestConfig(block_interval_ms=50),
            http_port=0,
            # silent after 1 s unheard (default interval, no grace); b1 shows a 60 s cadence
            fleet=FleetSettings(grace_ms=0, default_interval_ms=1_000),
        )
    )
    gw.start()
    assert gw.mqtt is not None and gw.mqtt.connected.wait(10)
    yield gw, admin
    gw.stop()


def test_staff_see_the_fleet_with_the_silent_device_flagged(
    gateway: tuple[Gateway, Signer],
    broker: Broker,
    page: Page,
    console: ConsoleWatch,
    tmp_path: Path,
) -> None:
    gw, admin = gateway
    live, dead = SignerKey.generate("b1-temp"), SignerKey.generate("b2-dead")
    publisher = Publisher(broker.port, "fleet-page-publisher")
    try:
        publisher.register(admin, [live, dead])
        b1 = Signer(live)
        publisher.watch(live.id)
        t = now_ms()
        publisher.publish(live.id, [b1.reading(ts=t - 60_000), b1.reading(ts=t)])
        publisher.wait_receipt(live.id, lambda r: r.seq == 2)
    finally:
        publisher.close()
    started = time.monotonic()
    desk = create_app(
        {
            "DESK_DIR": make_desk_dir(tmp_path / "desk", SignerKey.generate("farm1")),
            "MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
            "FARM": FARM,
            "CHECK_URL": f"http://127.0.0.1:{gw.http_port}",
            "ROLES": ["farm"],
        }
    )
    with serve(desk) as base:
        page.goto(f"{base}/fleet")  # log-in required: sent to the log-in page, then back
        expect(page.locator("h1")).to_have_text("Log in")
        page.fill("#username", "maria")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Fleet")
        dead_row = page.locator("#dev-b2-dead")
        # silence is judged at each load: reload until b2-dead's second without a word passed
        while "silent" not in (dead_row.text_content() or ""):
            assert time.monotonic() - started < 15, dead_row.text_content()
            page.reload()
        expect(dead_row).to_have_class("flagged")
        expect(dead_row.locator(".flag")).to_have_text(["silent"])
        live_row = page.locator("#dev-b1-temp")
        expect(live_row).to_have_class("fine")
        expect(live_row).to_contain_text("60 s")  # its cadence, from its readings' ts
        expect(page.locator("#fleet tbody tr").first).to_have_id("dev-b2-dead")
        expect(page.locator("#summary")).to_have_text("2 devices, 1 flagged.")
        screenshot(page, "desk-fleet")
    problems = [m for m in console.messages if "/favicon.ico" not in m]  # the desk has none
    assert problems == [], problems  # no CSP violation, no script error, no failed request


def test_the_fleet_page_needs_a_log_in_and_explains_a_missing_gateway(
    page: Page, tmp_path: Path
) -> None:
    desk = create_app(
        {
            "DESK_DIR": make_desk_dir(tmp_path / "desk", SignerKey.generate("farm1")),
            "MQTT_URL": "mqtt://127.0.0.1:9",
            "FARM": FARM,
            "CHECK_URL": "http://127.0.0.1:9",
            "ROLES": ["farm"],
        }
    )
    with serve(desk) as base:
        page.goto(f"{base}/fleet")
        expect(page.locator("h1")).to_have_text("Log in")
        page.fill("#username", "maria")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#problem")).to_contain_text("fleet view could not be read")
