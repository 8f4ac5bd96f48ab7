"""Issue 16: paho's Properties with shared tables behave exactly like paho's own.

A pristine copy of paho's ``properties`` module (loaded from the installed
file under another name) is the reference; the lightened class must pack,
unpack, print and refuse exactly as it does, for every packet type.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import paho.mqtt.properties
import pytest
from paho.mqtt.packettypes import PacketTypes

from gateway.paho_receive import lighten, lighten_paho_receive


def _pristine() -> ModuleType:
    path = paho.mqtt.properties.__file__
    spec = importlib.util.spec_from_file_location("paho.mqtt.pristine_properties", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PACKETS = [*PacketTypes.indexes, PacketTypes.WILLMESSAGE]
VALUES: dict[str, Any] = {
    "PayloadFormatIndicator": 1,
    "MessageExpiryInterval": 60,
    "ContentType": "application/jose",
    "ResponseTopic": "a/b",
    "CorrelationData": b"\x00\x01",
    "SubscriptionIdentifier": 7,
    "SessionExpiryInterval": 3600,
    "ReceiveMaximum": 4096,
    "TopicAlias": 3,
    "UserProperty": ("k", "v"),
    "ReasonString": "because",
    "MaximumPacketSize": 65536,
}


def _fill(props: Any) -> tuple[Any, list[str]]:
    refused = []
    for name, value in VALUES.items():
        try:
            setattr(props, name, value)
        except Exception as exc:  # not allowed in this packet type: the same for both
            refused.append(f"{name}: {exc}")
    return props, refused


@pytest.fixture(scope="module")
def classes() -> tuple[Any, Any]:
    reference = _pristine().Properties
    fast = type("Fast", (_pristine().Properties,), {})
    assert lighten(fast)
    return reference, fast


@pytest.mark.parametrize("packet", PACKETS)
def test_lightened_properties_behave_like_paho_s(classes: tuple[Any, Any], packet: int) -> None:
    reference, fast = classes
    expected, expected_refused = _fill(reference(packet))
    found, found_refused = _fill(fast(packet))
    assert found_refused == expected_refused
    assert str(found) == str(expected)
    assert found.json() == expected.json()
    assert found.isEmpty() == expected.isEmpty()
    wire = expected.pack()
    assert found.pack() == wire
    decoded_expected, used_expected = reference(packet).unpack(wire)
    decoded_found, used_found = fast(packet).unpack(wire)
    assert (str(decoded_found), used_found) == (str(decoded_expected), used_expected)
    found.clear()
    expected.clear()
    assert str(found) == str(expected) == "[]"
    with pytest.raises(Exception, match="ReceiveMaximum property value"):
        fast(PacketTypes.CONNECT).ReceiveMaximum = 0


def test_the_tables_are_shared_and_read_only(classes: tuple[Any, Any]) -> None:
    _, fast = classes
    one, two = fast(PacketTypes.PUBLISH), fast(PacketTypes.CONNACK)
    assert one.names is two.names and one.properties is two.properties
    with pytest.raises(TypeError):
        one.names["Invented"] = 99


def test_a_properties_class_of_another_shape_is_left_alone() -> None:
    base = _pristine().Properties

    class Changed(base):  # type: ignore[misc, valid-type]
        def __init__(self, packetType: int) -> None:
            super().__init__(packetType)
            object.__setattr__(self, "extra", {})

    original = Changed.__init__
    assert not lighten(Changed)
    assert Changed.__init__ is original


def test_paho_itself_is_lightened_in_the_pinned_version() -> None:
    assert lighten_paho_receive()
    assert lighten_paho_receive()  # idempotent
    props = paho.mqtt.properties.Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("a", "b")
    assert props.UserProperty == [("a", "b")]
