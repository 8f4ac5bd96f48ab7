"""QR codes (segno) that encode a pack's or lot's GS1 Digital Link URI.

``/qr/<GTIN>/21/<serial>.svg`` (or ``.png``) for a pack, ``/qr/<GTIN>/10/<lot>.svg``
for a lot. The URI is ``PUBLIC_URL`` (the origin printed on labels; by
default the origin the request came to) followed by the link's path, as
GS1 Digital Link prescribes (``https://<host>/01/<GTIN-14>/21/<serial>``).
A QR code is only a rendering of a valid link: it does not need the pack to
be in the log yet (labels may be printed before the packing event arrives).
"""

from __future__ import annotations

import io

import segno
from flask import Blueprint, Response, current_app, request

from chain.gs1 import AI_LOT, AI_SERIAL, DigitalLink
from consumer_web._errors import not_found
from consumer_web._links import link_of
from consumer_web._messages import N_

__all__ = ["bp", "public_url"]

bp = Blueprint("qr", __name__)

_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def public_url(link: DigitalLink) -> str:
    """The absolute GS1 Digital Link URI of ``link`` on this site."""
    origin = current_app.config.get("PUBLIC_URL") or request.host_url
    return str(origin).rstrip("/") + link.path


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
    response.vary.add("Host")
    return response
