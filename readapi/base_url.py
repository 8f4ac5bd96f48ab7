"""Checking a read API's base address before asking it anything."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["base_url_problem"]


def base_url_problem(url: str, option: str = "--url") -> str | None:
    """Why ``url`` is no http(s) base address (no query or fragment), or None if it is.

    ``option`` names where ``url`` came from, in the message.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"{option} {url!r}: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{option} {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]"
    if parts.query or parts.fragment:
        return f"{option} {url!r}: expected no query or fragment"
    return None
