"""GS1 Digital Links named by request paths, or a friendly 404 when they are malformed."""

from __future__ import annotations

from urllib.parse import quote

from chain.errors import GS1Error
from chain.gs1 import GTIN_LENGTHS, DigitalLink, gtin_check_digit, parse_digital_link_path
from consumer_web._errors import not_found
from consumer_web._messages import N_

__all__ = ["link_of"]


def link_of(gtin: str, ai: str, value: str) -> DigitalLink:
    """The Digital Link ``/01/<gtin>/<ai>/<value>`` (path segments already decoded).

    Stops the view with a 404 page when it is malformed; a wrong GTIN check
    digit gets its own message (the code was mistyped or misread).
    """
    try:
        return parse_digital_link_path(f"/01/{quote(gtin, safe='')}/{ai}/{quote(value, safe='')}")
    except GS1Error:
        digits = gtin.isascii() and gtin.isdigit() and len(gtin) in GTIN_LENGTHS
        if digits and gtin_check_digit(gtin[:-1]) != int(gtin[-1]):
            not_found(
                "bad_link",
                N_("The check digit of GTIN {gtin} is wrong: the code was mistyped or misread."),
                gtin=gtin,
            )
        not_found("bad_link", N_("This is not a valid product code."))
