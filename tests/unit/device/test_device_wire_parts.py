"""Pure parts of the transports: MQTT URLs, line framing, the bridge's kid, the send cursor."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from chain.entries import reading_payload, sign_entry
from chain.errors import MalformedEntryError
from chain.wire import Receipt
from signer._lines import LineFramer
from signer._sender import LinkStats, Sender
from signer.bridge import signer_of
from signer.device import Device
from signer.identity import DeviceIdentity
from signer.mqtt_url import MqttUrl, parse_mqtt_url
from signer.outbox import Outbox


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://localhost", MqttUrl("localhost", 1883)),
        ("mqtt://gw.local:1884", MqttUrl("gw.local", 1884)),
        ("mqtt://b1-temp@10.0.0.1", MqttUrl("10.0.0.1", 1883, "b1-temp")),
        ("mqtt://u:p%40ss%3Aw@h:2/", MqttUrl("h", 2, "u", "p@ss:w")),
        ("mqtt://[::1]:1883", MqttUrl("::1", 1883)),
    ],
)
def test_mqtt_urls_parse(url: str, expected: MqttUrl) -> None:
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mqttss://h", "scheme"),
        ("tcp://h:1883", "scheme"),
        ("mqtt://", "host"),
        ("mqtt://h:0", "port"),
        ("mqtt://h:70000", "out of range"),
        ("mqtt://h:x", "integer"),
        ("mqtt://h/topic", "path"),
        ("mqtt://h?x=1", "query"),
        ("mqtt://:pw@h", "user name"),
    ],
)
def test_bad_mqtt_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mqtt_url(url)


def test_an_mqtt_url_hides_its_password_in_logs() -> None:
    url = parse_mqtt_url("mqtt://dev:s3cret@h:1")
    assert str(url) == "mqtt://dev:***@h:1"
    assert "s3cret" not in repr(url)


def test_line_framing_drops_overlong_and_non_ascii_lines_whole() -> None:
    framer = LineFramer(max_len=10)
    assert list(framer.feed(b"abc\nde")) == [(b"abc", None)]
    assert list(framer.feed(b"f\r\n\n" + b"x" * 15)) == [(b"def", None), (None, "too_long")]
    assert list(framer.feed(b"x" * 30 + b"\nok\n")) == [(b"ok", None)]  # same long line
    assert list(framer.feed(b"0123456789\n0123456789A\n\xff\n")) == [
        (b"0123456789", None),
        (None, "too_long"),
        (None, "not_ascii"),
    ]


def test_the_bridge_reads_the_kid_without_any_key() -> None:
    raw = sign_entry(
        reading_payload("b1-temp", 1, 5, "temperature", "barn:b1", 1.5, "Cel"), "b1-temp", bytes(32)
    )
    assert signer_of(raw) == "b1-temp"
    for bad, why in [
        (b"abc", "3 dot-separated"),
        (b"!!.x.y", "base64url JSON"),
        (b"eyJhbGciOiJFZERTQSJ9.x.y", "kid"),  # {"alg":"EdDSA"}
        (b"eyJraWQiOiJhL2IifQ.x.y", "kid"),  # {"kid":"a/b"}: not a topic level
        (base64.urlsafe_b64encode(b"[" * 3000) + b".x.y", "nested at most"),
        (base64.urlsafe_b64encode(b'{"kid":1e999999}') + b".x.y", "finite number"),
        (base64.urlsafe_b64encode(b'{"kid":"\xff"}') + b".x.y", "UTF-8"),
    ]:
        with pytest.raises(MalformedEntryError, match=why):
            signer_of(bad)


def test_the_sender_windows_resumes_and_resends_after_a_stall(tmp_path: Path) -> None:
    identity = DeviceIdentity.open_or_create(tmp_path / "d", "b1-temp", seed=bytes(32))
    device = Device(identity, Outbox.open(tmp_path / "d" / "o.db"))
    device.record_many([("temperature", "barn:b1", 1.0, "Cel", k) for k in range(1, 8)])
    now = [0.0]
    stats = LinkStats()
    sender = Sender(device, stats, window=3, resend_after=10, clock=lambda: now[0])
    assert [e.seq for e in sender.next_batch()] == [1, 2, 3]
    assert sender.next_batch() == [] and not sender.has_more()  # window full
    sender.done(2)
    assert [e.seq for e in sender.next_batch()] == [4, 5]
    sender.done(3)
    assert [e.seq for e in sender.next_batch()] == [6, 7]
    sender.done(2)
    assert (stats.sent, stats.resent) == (7, 0)
    device.apply_receipt(Receipt("b1-temp", 2, 1, ((4, 7),)))  # seq 3 lost on the way
    assert not sender.check_stalled()  # starts the clock on seq 3
    now[0] = 9.0
    assert not sender.check_stalled()
    now[0] = 10.5
    assert sender.check_stalled() and stats.stall_resends == 1
    assert [e.seq for e in sender.next_batch()] == [3]
    assert (stats.sent, stats.resent) == (7, 1)
    now[0] = 25.0
    assert not sender.check_stalled()  # the timeout doubled to 20 s
    now[0] = 31.0
    assert sender.check_stalled()
    sender.restart()  # a reconnect sends everything kept again
    assert [e.seq for e in sender.next_batch()] == [3]
