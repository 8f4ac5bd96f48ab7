"""The page language: chosen from ``?lang=``, then the ``lang`` cookie, then Accept-Language.

Two languages, English (``en``) and Simplified Chinese (``zh-CN``); any
Chinese tag (zh, zh-TW, zh-Hans-CN ...) gets ``zh-CN``, anything else
English. ``?lang=`` with a supported tag also sets the cookie (a year), so
that the choice sticks across pages; an unsupported value is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Request, g, request
from werkzeug.wrappers import Response

from consumer_web._messages import CATALOGUE

__all__ = [
    "COOKIE",
    "DEFAULT",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "choose_language",
    "current_language",
    "format_ago",
    "format_iso",
    "format_ms",
    "remember_language",
    "translate",
]

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"
COOKIE = "lang"
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}


def _supported(tag: str | None) -> str | None:
    if not tag:
        return None
    for lang in LANGUAGES:
        if tag.lower() == lang.lower():
            return lang
    return None


def choose_language(req: Request) -> str:
    """The language for ``req``: query, cookie, Accept-Language, in that order."""
    chosen = _supported(req.args.get("lang")) or _supported(req.cookies.get(COOKIE))
    if chosen:
        return chosen
    for tag, _quality in req.accept_languages:  # best first
        primary = tag.lower().split("-")[0].split("_")[0]
        if primary == "zh":
            return "zh-CN"
        if primary == "en":
            return "en"
    return DEFAULT


def remember_language(response: Response) -> Response:
    """Set the cookie when the request chose a language with ``?lang=``; vary on the inputs."""
    chosen = _supported(request.args.get("lang"))
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(
            COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True, path="/"
        )
    response.vary.update(("Accept-Language", "Cookie"))
    return response


def translate(lang: str, key: str, **values: object) -> str:
    """Message ``key`` in ``lang`` (English if missing there), with ``values`` filled in.

    Raises:
        KeyError: ``key`` is in no catalogue (a bug in a template).
    """
    text = CATALOGUE.get(lang, {}).get(key) or CATALOGUE[DEFAULT][key]
    return text.format(**values) if values else text


def current_language() -> str:
    """The language chosen for the request being served."""
    lang = g.get("lang")
    if lang is None:
        lang = g.lang = choose_language(request)
    return str(lang)


def _moment(ms: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, ValueError, OSError):  # a signed time beyond year 9999
        return None


def format_ms(ms: int | None, *, date_only: bool = False) -> str:
    """``ms`` (Unix milliseconds) as ``YYYY-MM-DD HH:MM UTC``, or an empty string for None.

    A time no calendar date can hold is shown as its number of milliseconds.
    """
    if ms is None:
        return ""
    moment = _moment(ms)
    if moment is None:
        return f"{ms} ms"
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M UTC")


def format_iso(ms: int | None) -> str:
    """``ms`` as an ISO 8601 UTC time (for ``<time datetime=...>``), or "" if none fits."""
    moment = None if ms is None else _moment(ms)
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_ago(lang: str, ms: int, now_ms: int) -> str:
    """How long before ``now_ms`` the time ``ms`` was, in ``lang``: "5 minutes ago".

    Minutes below an hour, hours below two days, then days; a time in the
    future (a clock ahead of ours) is "just now".
    """
    minutes = max(0, now_ms - ms) // 60_000
    if minutes < 1:
        return translate(lang, "ago_now")
    if minutes < 60:
        unit, n = "minute", minutes
    elif minutes < 48 * 60:
        unit, n = "hour", minutes // 60
    else:
        unit, n = "day", minutes // 1440
    return translate(lang, f"ago_{unit}" if n == 1 else f"ago_{unit}s", n=n)
