"""Where a log-in may send its user afterwards: a page of this desk, and nothing else.

The ``next`` parameter comes from whoever made the link, so it is parsed with
a real URL parser (:func:`urllib.parse.urlsplit`, which drops tabs and line
breaks as browsers do) and must be a path with no scheme and no host, made
of printable ASCII without a backslash (which browsers read as ``/``), that
names a page the desk serves. The redirect goes to the URL rebuilt from
the parsed parts, so what was checked is what is sent.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from flask import Flask
from werkzeug.exceptions import HTTPException

__all__ = ["local_target"]

# Control characters, spaces, backslashes and anything beyond ASCII.
_UNSAFE = re.compile(r"[^\x21-\x7e]|\\")


def local_target(target: str | None, app: Flask) -> str | None:
    """``target`` as a URL of a page of ``app`` (path, query, fragment), or None.

    None when ``target`` is empty, has an unsafe character, a scheme or a
    host, or its path is not a page ``app`` answers with GET. Raises nothing.
    """
    if not target or _UNSAFE.search(target) or not target.startswith("/"):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    try:
        app.url_map.bind("desk.invalid").match(unquote(parts.path), method="GET")
    except HTTPException:  # no such page, not a GET page, or a redirect elsewhere
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))
