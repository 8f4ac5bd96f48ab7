"""A sensor swapped in a bird's barn (``farmtrace device replace``) is told on the bird's page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_site import StaticSiteData

from chain.entries import (
    Entry,
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from consumer_web import create_app
from consumer_web._swaps import SWAP_WINDOW_MS, find_swaps
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

T0 = 1_780_000_000_000
HOUR = 3_600_000
KEYS = {name: SignerKey.generate(name) for name in ("admin", "manager", "t-old", "t-new", "hum")}


def _device(seq: int, action: str, dev: str, ts: int, kind: str = "temperature") -> bytes:
    extra: dict[str, object] = {}
    if action == "register":
        extra = {"pubkey": KEYS[dev].public_key, "kinds": [kind], "subjects": ["barn:b1"]}
        extra["location"] = "barn:b1"
    return sign_entry(device_payload(action, dev, seq, ts, **extra), "admin", KEYS["admin"].seed)


def _parsed(raws: list[bytes]) -> list[tuple[int, Entry]]:
    return list(enumerate(parse_entry(raw) for raw in raws))


def test_a_replacement_is_a_swap_with_both_keys() -> None:
    raws = [_device(2, "register", "t-old", T0), _device(3, "register", "t-new", T0 + 10 * HOUR)]
    raws.append(_device(4, "revoke", "t-old", T0 + 10 * HOUR + 5))
    (swap,) = find_swaps(_parsed(raws))
    assert (swap.location, swap.ts, swap.index) == ("barn:b1", T0 + 10 * HOUR + 5, 2)
    assert (swap.old_dev, swap.new_dev) == ("t-old", "t-new")
    assert swap.old_key == KEYS["t-old"].public_key_b64
    assert swap.new_key == KEYS["t-new"].public_key_b64


@pytest.mark.parametrize(
    "raws",
    [
        # retired, nothing put in its place
        [_device(2, "register", "t-old", T0), _device(3, "revoke", "t-old", T0 + HOUR)],
        # the barn's hygrometer, added minutes before, does not replace a thermometer
        [
            _device(2, "register", "t-old", T0),
            _device(3, "register", "hum", T0 + HOUR, "humidity"),
            _device(4, "revoke", "t-old", T0 + HOUR + 60_000),
        ],
        # a thermometer installed long before is a second one, not a replacement
        [
            _device(2, "register", "t-old", T0),
            _device(3, "register", "t-new", T0 + HOUR),
            _device(4, "revoke", "t-old", T0 + 2 * HOUR + SWAP_WINDOW_MS),
        ],
    ],
)
def test_no_swap_without_a_successor_of_the_same_kind_just_before(raws: list[bytes]) -> None:
    assert find_swaps(_parsed(raws)) == []


@pytest.fixture
def swapped_farm(tmp_path: Path) -> Iterator[StaticSiteData]:
    """Bird 0001 placed in barn b1, whose thermometer is replaced while the bird is there."""
    data_dir = DataDir(tmp_path / "farm")
    trust = init_data_dir(data_dir, "swap.test/log", [KEYS["admin"]], T0 - HOUR)
    manager = KEYS["manager"]
    op = operator_payload("register", "manager", 2, T0 - HOUR, pubkey=manager.public_key)
    raws = [sign_entry(op | {"roles": ["farm", "hatchery"]}, "admin", KEYS["admin"].seed)]
    raws.append(_device(3, "register", "t-old", T0 - HOUR))
    events = [
        event_payload("hatched", 1, T0, ["bird:0001"], breed="Ross 308"),
        event_payload("placed", 2, T0 + HOUR, ["bird:0001"], barn="b1"),
    ]
    raws += [sign_entry(e, "manager", manager.seed) for e in events]
    for i in range(1, 4):
        reading = reading_payload("t-old", i, T0 + i * HOUR, "temperature", "barn:b1", 30.0, "Cel")
        raws.append(sign_entry(reading, "t-old", KEYS["t-old"].seed))
    swap_ts = T0 + 4 * HOUR
    raws += [_device(4, "register", "t-new", swap_ts), _device(5, "revoke", "t-old", swap_ts + 1)]
    for i in range(1, 4):
        ts = swap_ts + i * HOUR
        reading = reading_payload("t-new", i, ts, "temperature", "barn:b1", 31.0, "Cel")
        raws.append(sign_entry(reading, "t-new", KEYS["t-new"].seed))
    with Store.open(data_dir.log) as store:
        writer = LogWriter(store, read_log_signer(data_dir))
        writer.commit_block([parse_entry(raw) for raw in raws], T0 + 8 * HOUR)
        writer.sign_checkpoint()
        yield StaticSiteData(store, trust)


def test_the_birds_page_and_lifecycle_tell_the_swap(swapped_farm: StaticSiteData) -> None:
    config = {"TESTING": True, "SITE_DATA": swapped_farm, "WARM_CACHE": False}
    client = create_app(config).test_client()
    page = client.get("/bird/0001").get_data(as_text=True)
    assert "Sensor replaced on" in page
    assert f"t-old (key {KEYS['t-old'].public_key_b64[:8]}…) → t-new" in page
    chinese = client.get("/bird/0001?lang=zh-CN").get_data(as_text=True)
    assert "更换了传感器" in chinese
    (swap,) = client.get("/api/v1/birds/0001/lifecycle").get_json()["swaps"]
    assert swap["old"]["dev"] == "t-old" and swap["new"]["dev"] == "t-new"
