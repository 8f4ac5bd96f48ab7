"""Counted phrases for the pack page: "40 birds, 1 barn", "signed by 6 parties, …".

Worded with the catalogue's plural forms in the page's language, so that
"1 bird" and "2 birds" both read right. Installed on the pages blueprint as
the template functions ``subjects_summary(subjects)`` and
``badge_claim(parties, sensors, witnesses)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from flask import Blueprint

from consumer_web._i18n import current_language, translate, translate_plural, translations
from consumer_web._messages import N_, NP_

__all__ = ["badge_claim", "install_summaries", "subjects_summary"]


def _count(lang: str, kind: str, n: int) -> str:
    if kind == "bird":
        return translate_plural(lang, "{n} bird", "{n} birds", n)
    if kind == "barn":
        return translate_plural(lang, "{n} barn", "{n} barns", n)
    if kind == "carcass":
        return translate_plural(lang, "{n} carcass", "{n} carcasses", n)
    if kind == "cut":
        return translate_plural(lang, "{n} cut", "{n} cuts", n)
    if kind == "pack":
        return translate_plural(lang, "{n} pack", "{n} packs", n)
    if kind == "lot":
        return translate_plural(lang, "{n} lot", "{n} lots", n)
    return translate_plural(lang, "{n} other item", "{n} other items", n)


def _named(lang: str, subject: str) -> str:
    kind, _, ident = subject.partition(":")
    if kind in ("pack", "lot"):  # <GTIN>.<serial or lot>: the code printed on the label
        ident = ident.partition(".")[2] or ident
    names = {
        "bird": N_("bird {id}"),
        "barn": N_("barn {id}"),
        "carcass": N_("carcass {id}"),
        "cut": N_("cut {id}"),
        "pack": N_("pack {id}"),
        "lot": N_("lot {id}"),
    }
    message = names.get(kind)
    return subject if message is None else translate(lang, message, id=ident)


_SEPARATOR = NP_("list", ", ")  # Chinese lists things with "、"


def _join(lang: str, items: Iterable[str]) -> str:
    return translations(lang).pgettext(*_SEPARATOR).join(items)


NAMED_AT_MOST = 3
"""Up to this many subjects are named ("barn b2, pack S0001"); more are counted by kind."""


def subjects_summary(lang: str, subjects: Iterable[str]) -> str:
    """What ``subjects`` are, in ``lang``: named when few ("barn b2"), else counted
    by kind ("40 birds, 1 barn")."""
    listed = list(subjects)
    if len(listed) <= NAMED_AT_MOST:
        return _join(lang, (_named(lang, subject) for subject in listed))
    counts = Counter(subject.partition(":")[0] for subject in listed)
    return _join(lang, (_count(lang, kind, n) for kind, n in counts.items()))


def badge_claim(lang: str, parties: int, sensors: int, witnesses: int) -> str:
    """The badge's claim in ``lang``: who signed the story and how many witnesses vouch for it."""
    who = translate_plural(lang, "{n} party", "{n} parties", parties)
    if sensors:
        devices = translate_plural(lang, "{n} sensor", "{n} sensors", sensors)
        signed = translate(lang, "signed by {parties} and {sensors}", parties=who, sensors=devices)
    else:
        signed = translate(lang, "signed by {parties}", parties=who)
    if not witnesses:
        return signed
    vouched = translate_plural(
        lang, "{n} independent witness", "{n} independent witnesses", witnesses
    )
    return translate(lang, "{signed}, vouched for by {witnesses}", signed=signed, witnesses=vouched)


def install_summaries(bp: Blueprint) -> None:
    """Make the two phrases template functions of every page (in the page's language)."""

    @bp.app_context_processor
    def summaries() -> dict[str, Any]:
        lang = current_language()
        return {
            "subjects_summary": lambda subjects: subjects_summary(lang, subjects),
            "badge_claim": lambda parties, sensors, witnesses: badge_claim(
                lang, parties, sensors, witnesses
            ),
        }
