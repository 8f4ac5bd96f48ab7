"""The site's TILES_URL: where the pages' verifier reads proofs (C2SP tlog-tiles, docs/tiles.md).

With it, the proof panel carries ``data-tiles-base="<prefix>"`` and the
browser builds entry proofs (checkpoint, hash tiles, entry bundles,
``block/<N>`` files) from that static origin instead of the site's read API;
the site's Content-Security-Policy allows exactly that origin in
``connect-src``. The log's description (``/api/v1/log``) and the signers'
registration lists (``/api/v1/signers/<id>``) still come from the site's API:
tiles do not hold them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from chain.errors import MalformedError

__all__ = ["TilesBase", "install_tiles_base", "parse_tiles_url"]

_TILES_PREFIX = "tiles+"
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]")
_PATH = re.compile(r"[A-Za-z0-9._~!$&()*+,=:@%/-]*")  # RFC 3986 path characters, no ' or ;


@dataclass(frozen=True, slots=True)
class TilesBase:
    """A tlog-tiles prefix: ``url`` (no trailing slash) and its ``origin`` (scheme://host[:port])."""

    url: str
    origin: str


def parse_tiles_url(text: str) -> TilesBase:
    """The tiles prefix ``text`` names: ``https://HOST[:PORT][/PATH]``, or the same with
    the ``tiles+`` scheme prefix that ``--source`` uses; ``http`` too (a browser refuses
    it from an HTTPS page).

    Raises:
        MalformedError: ``text`` is not such a URL: another scheme, user info, a
            query or fragment, or characters a Content-Security-Policy cannot carry.
    """
    given = text.removeprefix(_TILES_PREFIX) if isinstance(text, str) else ""
    expected = f"TILES_URL (--tiles-url): expected https://HOST[:PORT][/PATH], found {text!r}"
    try:
        parts = urlsplit(given)
        port = parts.port
    except ValueError:
        raise MalformedError(expected) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if ":" in host:  # an IPv6 address, which urlsplit gives without its brackets
        host = f"[{host}]"
    ok = (
        given.isascii()
        and scheme in ("http", "https")
        and _HOST.fullmatch(host) is not None
        and "@" not in parts.netloc
        and not parts.query
        and not parts.fragment
        and "?" not in given
        and "#" not in given
        and _PATH.fullmatch(parts.path) is not None
    )
    if not ok:
        raise MalformedError(expected)
    origin = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    return TilesBase(origin + parts.path.rstrip("/"), origin)


def install_tiles_base(app: Flask, tiles: TilesBase | None) -> None:
    """Give ``app``'s templates ``tiles_base``: ``tiles.url``, or None without tiles."""
    url = None if tiles is None else tiles.url

    @app.context_processor
    def tiles_context() -> dict[str, Any]:
        return {"tiles_base": url}
