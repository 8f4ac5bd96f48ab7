"""The label's commitment to the log: ``?lk=<key ID>`` on a GS1 Digital Link (chain.gs1)."""

from __future__ import annotations

import pytest

from chain import note
from chain.errors import GS1Error
from chain.gs1 import (
    LOG_KEY_PARAM,
    DigitalLink,
    labelled_uri,
    log_key_label,
    parse_digital_link_path,
    parse_log_key_label,
)

PACK = DigitalLink("09506000134352", serial="S0001")


def test_the_label_carries_the_log_keys_c2sp_key_id() -> None:
    _, vkey = note.generate_key("farm.example/log", seed=bytes(32))
    key_id = note.parse_verifier_key(vkey).key_id
    uri = labelled_uri("https://farm.example", PACK, key_id)
    assert uri == f"https://farm.example/01/09506000134352/21/S0001?lk={vkey.split('+')[1]}"
    path, _, query = uri.removeprefix("https://farm.example").partition("?")
    assert parse_digital_link_path(path) == PACK  # the GS1 part is unchanged
    name, _, value = query.partition("=")
    assert (name, parse_log_key_label(value)) == (LOG_KEY_PARAM, key_id)


def test_without_a_key_the_uri_is_the_plain_digital_link() -> None:
    assert labelled_uri("https://farm.example", PACK, None) == (
        "https://farm.example/01/09506000134352/21/S0001"
    )


@pytest.mark.parametrize(("key_id", "text"), [(0, "00000000"), (0x1A2B3C4D, "1a2b3c4d")])
def test_key_ids_print_as_eight_lowercase_hex_digits(key_id: int, text: str) -> None:
    assert log_key_label(key_id) == text
    assert parse_log_key_label(text) == key_id


@pytest.mark.parametrize("key_id", [-1, 1 << 32, True, 1.0, "1a2b3c4d"])
def test_a_key_id_that_is_not_a_uint32_is_refused(key_id: object) -> None:
    with pytest.raises(GS1Error, match="32-bit unsigned integer"):
        log_key_label(key_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "1a2b3c4", "1a2b3c4d0", "1A2B3C4D", "1a2b3c4g", " 1a2b3c4"])
def test_a_label_value_that_is_not_eight_lowercase_hex_digits_is_refused(text: str) -> None:
    with pytest.raises(GS1Error, match="expected the log key ID as 8 lowercase hex digits"):
        parse_log_key_label(text)
