"""GS1 Digital Links named by request paths, and the site's links that keep the label's pin.

:func:`link_of` reads a Digital Link from a request's path (or stops the view
with a friendly 404). A label's address ends in ``?lk=<log key ID>``
(:mod:`chain.gs1`): the browser's verifier refuses a log signed by another
key. :func:`pinned` carries that pin from page to page: an internal link
built with it ends in the request's ``lk``, re-made from its parsed value,
so that only 8 lowercase hex digits are ever written back, never what the
request said; a request without a well-formed ``lk`` adds nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import request

from chain.errors import GS1Error
from chain.gs1 import (
    GTIN_LENGTHS,
    LOG_KEY_PARAM,
    DigitalLink,
    gtin_check_digit,
    log_key_label,
    parse_digital_link_path,
    parse_log_key_label,
)
from consumer_web._errors import not_found
from consumer_web._messages import N_

__all__ = ["label_key_id", "link_of", "pinned"]


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


def label_key_id() -> int | None:
    """The request's ``lk`` as a key ID, or None when it has none or a malformed one."""
    given = request.args.get(LOG_KEY_PARAM)
    try:
        return None if given is None else parse_log_key_label(given)
    except GS1Error:
        return None


def pinned(path: str) -> str:
    """``path`` (a site-relative link, with or without a query) carrying the request's ``lk``.

    Unchanged when the request has no well-formed ``lk``. A path starting
    with ``/`` gets the app's mount point first (``request.script_root``: a
    log's site mounted under ``/logs/<slug>`` on a federated site).
    Precondition: ``path`` has no ``lk`` and no fragment.
    """
    if path.startswith("/"):
        path = request.script_root + path
    key_id = label_key_id()
    if key_id is None:
        return path
    return f"{path}{'&' if '?' in path else '?'}{LOG_KEY_PARAM}={log_key_label(key_id)}"
