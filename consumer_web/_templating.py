"""What every template may use: the translator, the language switch, the replica's notices.

Templates get ``_(message, **values)`` (the English ``message`` in the page
language, placeholders filled in), ``pgettext(context, message)``,
``word(context, value)`` (a value from the log as a word, see
:data:`~consumer_web._messages.WORDS`), ``lang``, ``languages`` (``(tag, name,
url)`` for the switch), ``notice``
(sources down, conflicts, a newer checkpoint waiting for witnesses, see
:class:`Notice`), ``head`` (the checkpoint the site shows), ``witness``
(its :class:`~consumer_web._witness_view.WitnessPanel`), ``ago(ms)`` ("5
minutes ago") and the filters ``when`` (a time), ``iso`` (an ISO 8601 time),
``day`` (a date), ``num`` (a number, at most two decimals) and ``pinned``
(an internal link keeping the label's ``lk``, :func:`consumer_web._links.pinned`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask, request

from chain.gs1 import LOG_KEY_PARAM
from consumer_web._charts import HEIGHT, WIDTH
from consumer_web._coop_links import label_address
from consumer_web._i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    current_language,
    format_ago,
    format_iso,
    format_ms,
    translate,
    translate_word,
    translations,
)
from consumer_web._links import pinned
from consumer_web._replica_state import Conflict, WitnessWait
from consumer_web._site import current_site
from consumer_web._witness_view import witness_panel

__all__ = ["Notice", "format_number", "install_templating", "notice_of"]


@dataclass(frozen=True, slots=True)
class Notice:
    """What a page must warn about: ``as_of_ms`` when every source is down, conflicts,
    and a newer checkpoint ``waiting`` for witnesses (``tree_size``: the one we show)."""

    sources_down: bool
    as_of_ms: int | None
    conflicts: tuple[Conflict, ...]
    waiting: WitnessWait | None = None
    tree_size: int = 0


def notice_of() -> Notice:
    """The notice for the current replica status."""
    status = current_site().status()
    down = bool(status.sources) and not any(s.ok for s in status.sources)
    return Notice(
        down, status.as_of_ms, status.conflicts, status.waiting_for_witnesses, status.tree_size
    )


_UNITS = {"Cel": "°C", "l": "L", "count": ""}


def format_number(value: float | int | None) -> str:
    """A number as the pages show it (the ``num`` filter): at most two decimals."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _switch_url(lang: str) -> str:
    args = {k: v for k, v in request.args.items() if k not in ("lang", LOG_KEY_PARAM)}
    args["lang"] = lang
    return pinned(f"{quote(request.path, safe='/')}?{urlencode(args)}")  # a valid lk only


def install_templating(app: Flask) -> None:
    """Register the context processor and filters on ``app``; autoescaping stays on."""
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["when"] = format_ms
    app.jinja_env.filters["iso"] = format_iso
    app.jinja_env.filters["day"] = lambda ms: format_ms(ms, date_only=True)
    app.jinja_env.filters["num"] = format_number
    app.jinja_env.filters["unit"] = lambda unit: _UNITS.get(unit, unit)
    app.jinja_env.filters["pinned"] = pinned  # an internal link keeping the label's lk
    for lang in LANGUAGES:
        translations(lang)  # a broken catalogue fails here, not on a reader's page

    @app.context_processor
    def page_context() -> dict[str, Any]:
        lang = current_language()

        def gettext(message: str, **values: object) -> str:
            return translate(lang, message, **values)

        def pgettext(context: str, message: str) -> str:
            return translations(lang).pgettext(context, message)

        def word(context: str, value: object) -> str:
            return translate_word(lang, context, value)

        now_ms = time.time_ns() // 1_000_000

        def ago(ms: int) -> str:
            """How long ago ``ms`` was, in the page language."""
            return format_ago(lang, ms, now_ms)

        site = current_site()
        head = site.lifecycle.head()
        return {
            "_": gettext,
            "pgettext": pgettext,
            "lang": lang,
            "languages": [(tag, LANGUAGE_NAMES[tag], _switch_url(tag)) for tag in LANGUAGES],
            "notice": notice_of(),
            "head": head,
            "witness": witness_panel(site.policy, head),
            "label_address": label_address,
            "ago": ago,
            "origin": site.data.trust.origin,
            "word": word,
            "chart_width": WIDTH,
            "chart_height": HEIGHT,
        }
