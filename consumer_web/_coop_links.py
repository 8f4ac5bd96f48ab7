"""The pack's address as its label gives it, for "verify with <witness>" links.

A witness that serves a verifier page (``farmtrace witness serve``: GET
``/verify?pack=<address>``) checks the pack against its own anchors, not
this site's. The link hands it the address the shopper's browser came with:
the site's public origin, the page's GS1 Digital Link path, and the label's
``lk`` as the request carried it (never the site's own idea of its key:
the label is what the witness must compare the log with).
"""

from __future__ import annotations

from flask import request

from chain.errors import GS1Error
from chain.gs1 import labelled_uri, parse_digital_link_path
from consumer_web._links import label_key_id
from consumer_web._qr import site_origin

__all__ = ["label_address"]


def label_address() -> str | None:
    """This pack page's labelled address, or None when the page is not a pack's."""
    try:
        link = parse_digital_link_path(request.path)
    except GS1Error:
        return None
    return labelled_uri(site_origin(), link, label_key_id())
