"""GTIN check digits and GS1 Digital Link paths (chain.gs1)."""

from __future__ import annotations

import re

import pytest

from chain.errors import GS1Error, MalformedError
from chain.gs1 import (
    DigitalLink,
    gtin_check_digit,
    pack_subject,
    parse_digital_link_path,
    parse_pack_subject,
    validate_gtin,
    validate_key_value,
)
from chain.jws import ID_PATTERN

# Published examples: GS1 Digital Link's example GTIN-14; the GTIN-13 on Wikipedia's
# EAN-13 barcode; GS1's check digit calculator example (629104150021 -> 3); GS1
# Sweden's (730001100001 -> 7); IBM's GTIN-14 example; the GTIN-12 in GS1's
# Digital Link toolkit README (054123450013 -> 00054123450013); a GTIN-8.
PUBLISHED = [
    ("09506000134352", "09506000134352"),
    ("4006381333931", "04006381333931"),
    ("6291041500213", "06291041500213"),
    ("7300011000017", "07300011000017"),
    ("40987650000223", "40987650000223"),
    ("05412345000013", "05412345000013"),
    ("054123450013", "00054123450013"),
    ("96385074", "00000096385074"),
]


@pytest.mark.parametrize(("gtin", "gtin14"), PUBLISHED)
def test_published_gtins_validate_and_pad_to_14_digits(gtin: str, gtin14: str) -> None:
    assert gtin_check_digit(gtin[:-1]) == int(gtin[-1])
    assert validate_gtin(gtin) == gtin14
    assert validate_gtin(gtin14) == gtin14


def test_check_digit_zero_when_the_sum_is_a_multiple_of_ten() -> None:
    assert gtin_check_digit("0000000000000") == 0
    assert gtin_check_digit("1") == 7  # 1*3 = 3 -> 7
    assert gtin_check_digit("01") == 7  # weights run from the right: 1*3 + 0*1


@pytest.mark.parametrize("position", range(14))
def test_every_single_digit_error_is_caught(position: int) -> None:
    gtin = "09506000134352"
    for digit in "0123456789":
        if digit == gtin[position]:
            continue
        wrong = gtin[:position] + digit + gtin[position + 1 :]
        with pytest.raises(GS1Error, match="wrong check digit"):
            validate_gtin(wrong)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1",
        "9506000134352 ",
        " 9506000134352",
        "095060001343521",  # 15 digits
        "095060001343x2",
        "09506000134352\n",
        "\u06609506000134352",  # ARABIC-INDIC DIGIT ZERO: str.isdigit() says yes
        "\uff10\uff19506000134352",  # FULLWIDTH digits
        "+9506000134352",
        "-9506000134352",
        "9_506_000_134_352",
        9506000134352,
        None,
    ],
)
def test_hostile_gtins_are_rejected(bad: object) -> None:
    with pytest.raises(GS1Error, match="GTIN") as caught:
        validate_gtin(bad)  # type: ignore[arg-type]
    assert isinstance(caught.value, MalformedError)
    assert caught.value.reason == "malformed_identifier"


def test_check_digit_body_must_be_ascii_digits() -> None:
    for bad in ("", "12a", "\u0661\u0662", "1 2"):
        with pytest.raises(GS1Error, match="expected ASCII digits"):
            gtin_check_digit(bad)


def test_the_message_names_the_expected_check_digit() -> None:
    with pytest.raises(GS1Error, match="GTIN 09506000134353: wrong check digit 3, expected 2"):
        validate_gtin("09506000134353")


GTIN = "09506000134352"


@pytest.mark.parametrize(
    ("link", "path"),
    [
        (DigitalLink(GTIN, serial="A1B2"), f"/01/{GTIN}/21/A1B2"),
        (DigitalLink(GTIN, lot="L-2026.01_a"), f"/01/{GTIN}/10/L-2026.01_a"),
        (DigitalLink(GTIN, serial="S" * 20), f"/01/{GTIN}/21/{'S' * 20}"),
    ],
)
def test_links_round_trip_through_paths_and_subjects(link: DigitalLink, path: str) -> None:
    assert link.path == path
    assert parse_digital_link_path(path) == link
    subject_text = pack_subject(link)
    assert subject_text.startswith("pack:" if link.serial else "lot:")
    assert parse_pack_subject(subject_text) == link


def test_pack_subjects_are_farmtrace_subjects() -> None:
    longest = DigitalLink("09506000134352", serial="s" * 20)
    kind, _, ident = pack_subject(longest).partition(":")
    assert kind == "pack" and re.fullmatch(ID_PATTERN, ident)
    assert pack_subject(longest) == "pack:09506000134352." + "s" * 20
    assert pack_subject(DigitalLink("09506000134352", lot="L7")) == "lot:09506000134352.L7"


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("/01/9506000134352/21/A1", DigitalLink("09506000134352", serial="A1")),  # GTIN-13
        ("/01/054123450013/10/ABC", DigitalLink("00054123450013", lot="ABC")),  # GTIN-12
        ("/01/09506000134352/21/%41%31", DigitalLink("09506000134352", serial="A1")),
        ("/01/0950600013435%32/21/A1", DigitalLink("09506000134352", serial="A1")),
        ("/01/09506000134352/21/a.b_c-d", DigitalLink("09506000134352", serial="a.b_c-d")),
    ],
)
def test_paths_are_decoded_and_normalised(path: str, link: DigitalLink) -> None:
    assert parse_digital_link_path(path) == link
    assert parse_digital_link_path(link.path) == link


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "expected /01/<GTIN>/21/<serial> or /01/<GTIN>/10/<lot>"),
        ("/", "expected /01/"),
        ("01/09506000134352/21/A1", "expected /01/"),
        ("/01/09506000134352/21/A1/", "expected /01/"),
        ("/01/09506000134352/21/", "serial: expected 1 to 20 characters"),
        ("/01/09506000134352", "expected /01/"),
        ("/01/09506000134352/22/A1", "expected /01/"),  # AI 22 (CPV) not used here
        ("/01/09506000134352/10/L1/21/S1", "expected /01/"),
        ("/gtin/09506000134352/ser/A1", "expected /01/"),
        ("/00/09506000134352/21/A1", "expected /01/"),
        ("/01/09506000134353/21/A1", "wrong check digit 3, expected 2"),
        ("/01/\u06609506000134352/21/A1", "GTIN: expected 8, 12, 13 or 14 ASCII digits"),
        ("/01/%D9%A09506000134352/21/A1", "GTIN: expected 8, 12, 13 or 14 ASCII digits"),
        ("/01/09506000134352/21/..", "serial: expected 1 to 20"),
        ("/01/09506000134352/21/%2E%2E", "serial: expected 1 to 20"),
        ("/01/09506000134352/21/..%2F..%2Fetc%2Fpasswd", "serial: expected"),
        ("/01/09506000134352/21/A%2FB", "serial: expected"),
        ("/01/09506000134352/21/A%00", "serial: expected"),
        ("/01/09506000134352/21/A%", "serial: expected"),
        ("/01/09506000134352/21/A%zz", "serial: expected"),
        ("/01/09506000134352/21/%ff", "bad percent-encoding"),
        ("/01/09506000134352/21/A1?x=1", "serial: expected"),
        ("/01/09506000134352/21/A1#frag", "serial: expected"),
        ("/01/09506000134352/21/ABC%26%2B123", "serial: expected"),  # valid GS1, not ours
        ("/01/09506000134352/21/" + "S" * 21, "serial: expected 1 to 20"),
        ("/01/09506000134352/10/" + "L" * 300, "expected /01/"),  # too long to look at
        ("/01/09506000134352/10/-L", "lot: expected"),
        ("/01/09506000134352/10/L\u00e9", "lot: expected"),
        ("/01/09506000134352/10/L%C3%A9", "lot: expected"),
        ("//01/09506000134352/21/A1", "expected /01/"),
    ],
)
def test_hostile_paths_are_rejected(path: str, message: str) -> None:
    with pytest.raises(GS1Error, match=re.escape(message)):
        parse_digital_link_path(path)


def test_non_string_paths_are_rejected() -> None:
    with pytest.raises(GS1Error, match="GS1 Digital Link path"):
        parse_digital_link_path(b"/01/09506000134352/21/A1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gtin": "09506000134352"}, "exactly one of a serial and a lot"),
        ({"gtin": "09506000134352", "serial": "S", "lot": "L"}, "exactly one"),
        ({"gtin": "9506000134352", "serial": "S"}, "expected the 14-digit form"),
        ({"gtin": "09506000134353", "serial": "S"}, "wrong check digit"),
        ({"gtin": "09506000134352", "serial": "S/1"}, "serial: expected"),
        ({"gtin": "09506000134352", "lot": ""}, "lot: expected"),
    ],
)
def test_links_refuse_to_be_built_wrong(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(GS1Error, match=message):
        DigitalLink(**kwargs)


@pytest.mark.parametrize(
    "subject",
    [
        "pack:09506000134352",
        "pack:9506000134352.S1",
        "pack:09506000134353.S1",
        "crate:09506000134352.S1",
        "pack:09506000134352.S/1",
        "pack:09506000134352." + "S" * 21,
        "bird:b1",
    ],
)
def test_bad_pack_subjects_are_rejected(subject: str) -> None:
    with pytest.raises(GS1Error):
        parse_pack_subject(subject)


def test_key_values() -> None:
    assert validate_key_value("A1", "serial") == "A1"
    for bad in ("", ".A", "A B", "A" * 21, None, "Ä"):
        with pytest.raises(GS1Error, match=r"^lot: expected 1 to 20"):
            validate_key_value(bad, "lot")  # type: ignore[arg-type]
