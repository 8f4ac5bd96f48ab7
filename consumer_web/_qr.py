"""QR codes (segno) that encode a pack's or lot's GS1 Digital Link URI.

``/qr/<GTIN>/21/<serial>.svg`` (or ``.png``) for a pack, ``/qr/<GTIN>/10/<lot>.svg``
for a lot. The URI is the site's one configured origin (:func:`site_origin`:
``PUBLIC_URL``, else :data:`DEFAULT_PUBLIC_URL`) followed by the link's path,
as GS1 Digital Link prescribes (``https://<host>/01/<GTIN-14>/21/<serial>``).
It never follows the request's Host header: whoever can send a request must
not be able to choose the origin printed on labels or in exports.
The URI ends in ``?lk=<log key ID>`` (:func:`chain.gs1.labelled_uri`): the
label commits to the log's checkpoint key, so that a verifier refuses a
site serving another log; :func:`label_log_key` is that ID as printed.
A QR code is only a rendering of a valid link: it does not need the pack to
be in the log yet (labels may be printed before the packing event arrives).
"""

from __future__ import annotations

import io

import segno
from flask import Blueprint, Response, current_app

from chain import note
from chain.gs1 import AI_LOT, AI_SERIAL, DigitalLink, labelled_uri, log_key_label
from consumer_web._errors import not_found
from consumer_web._links import link_of
from consumer_web._messages import N_
from consumer_web._site import current_site

__all__ = ["DEFAULT_PUBLIC_URL", "bp", "label_log_key", "public_url", "site_origin"]

bp = Blueprint("qr", __name__)

_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


DEFAULT_PUBLIC_URL = "http://localhost"
"""The origin used when the site has no ``PUBLIC_URL`` (``farmtrace site run`` sets one)."""


def site_origin() -> str:
    """The current app's public origin: ``PUBLIC_URL``, else :data:`DEFAULT_PUBLIC_URL`."""
    return str(current_app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")


def site_log_key_id() -> int:
    """The key ID of the current site's log key (its trust root's checkpoint key).

    Raises:
        MalformedNoteError: the trust root's log key is not a verifier key.
    """
    return note.parse_verifier_key(current_site().data.trust.log_key).key_id


def public_url(link: DigitalLink) -> str:
    """The GS1 Digital Link URI a label of ``link`` carries: on this site, pinned to its log key.

    ``<site_origin()><link.path>?lk=<key ID>`` (:func:`chain.gs1.labelled_uri`).
    """
    return labelled_uri(site_origin(), link, site_log_key_id())


def label_log_key() -> str:
    """The site's log key ID as a label prints it (8 hex digits)."""
    return log_key_label(site_log_key_id())


def qr_image(url: str, kind: str) -> bytes:
    """``url`` as a QR code image of ``kind`` ("svg" or "png"), with the standard quiet zone."""
    code = segno.make_qr(url, error="m")
    out = io.BytesIO()
    if kind == "svg":
        code.save(out, kind="svg", scale=4, border=4, xmldecl=False)
    else:
        code.save(out, kind="png", scale=8, border=4)
    return out.getvalue()


@bp.get("/qr/<gtin>/<ai>/<filename>")
def qr(gtin: str, ai: str, filename: str) -> Response:
    """The QR code of ``/01/<gtin>/<ai>/<value>``, ``filename`` being ``<value>.svg|png``."""
    value, dot, kind = filename.rpartition(".")
    if not dot or kind not in _FORMATS or ai not in (AI_SERIAL, AI_LOT):
        not_found("bad_link", N_("This is not a valid product code."))
    link = link_of(gtin, ai, value)
    response = Response(qr_image(public_url(link), kind), mimetype=_FORMATS[kind])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
