"""The page language, and the site's texts in it (gettext catalogues).

The language comes from ``?lang=``, then the ``lang`` cookie, then
Accept-Language. Two languages, English (``en``) and Simplified Chinese
(``zh-CN``); any Chinese tag (zh, zh-TW, zh-Hans-CN ...) gets ``zh-CN``,
anything else English. ``?lang=`` with a supported tag also sets the cookie
(a year), so that the choice sticks across pages; an unsupported value is
ignored.

English is the source language: a message is its English text (the msgid).
Other languages are read from ``translations/<locale>/LC_MESSAGES/messages.po``
and compiled in memory once per process (nothing binary is kept in the
repository); a message missing or fuzzy there is shown in English.
Placeholders are ``str.format`` names (``{count}``), the same in every
language.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from io import BytesIO
from typing import IO

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from flask import Request, g, request
from werkzeug.wrappers import Response

from chain.errors import MalformedError
from consumer_web._messages import WORDS

__all__ = [
    "COOKIE",
    "DEFAULT",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LOCALES",
    "choose_language",
    "compile_catalogue",
    "current_language",
    "format_ago",
    "format_iso",
    "format_ms",
    "remember_language",
    "translate",
    "translate_plural",
    "translate_word",
    "translations",
]

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"
COOKIE = "lang"
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}
LOCALES = {"zh-CN": "zh_Hans_CN"}
"""The catalogue (a Babel locale directory under ``translations/``) of each translated tag."""


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


def compile_catalogue(po: IO[bytes], locale: str) -> gettext.GNUTranslations:
    """The translations in the gettext catalogue ``po`` (a .po file) for ``locale``.

    Compiled in memory; fuzzy entries are left out (shown in the source language).

    Raises:
        MalformedError: ``po`` does not parse as a catalogue.
    """
    try:
        catalog = read_po(po, locale=locale, abort_invalid=True)
    except (PoFileError, ValueError, UnicodeDecodeError) as exc:
        raise MalformedError(f"the {locale} catalogue does not parse: {exc}") from exc
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The translations into ``lang``: its catalogue compiled, or none for English.

    Raises:
        MalformedError: the catalogue of ``lang`` does not parse (a translator's slip:
            found at start, when the app installs its templating).
        KeyError: ``lang`` is not one of :data:`LANGUAGES`.
    """
    if lang not in LANGUAGES:
        raise KeyError(lang)
    if lang not in LOCALES:
        return gettext.NullTranslations()
    path = ("translations", LOCALES[lang], "LC_MESSAGES", "messages.po")
    with files("consumer_web").joinpath(*path).open("rb") as po:
        return compile_catalogue(po, LOCALES[lang])


def translate(lang: str, message: str, **values: object) -> str:
    """``message`` (its English text) in ``lang``, with ``values`` filled in.

    Precondition: ``lang`` is one of :data:`LANGUAGES`. Raises KeyError when
    ``values`` lack a placeholder of the text.
    """
    text = translations(lang).gettext(message)
    return text.format(**values) if values else text


def translate_plural(lang: str, singular: str, plural: str, n: int, **values: object) -> str:
    """The form of ``singular``/``plural`` for ``n`` in ``lang``, with ``n`` and ``values``."""
    return translations(lang).ngettext(singular, plural, n).format(n=n, **values)


def translate_word(lang: str, context: str, value: object) -> str:
    """The word for the log's ``value`` under ``context`` (:data:`~consumer_web._messages.WORDS`).

    A value the site has no word for is shown as it is.
    """
    text = str(value)
    message = WORDS.get((context, text))
    return text if message is None else translations(lang).pgettext(context, message)


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
        return translate(lang, "just now")
    if minutes < 60:
        return translate_plural(lang, "{n} minute ago", "{n} minutes ago", minutes)
    if minutes < 48 * 60:
        return translate_plural(lang, "{n} hour ago", "{n} hours ago", minutes // 60)
    return translate_plural(lang, "{n} day ago", "{n} days ago", minutes // 1440)
