"""Times in the farm's time zone, with the offset shown: "4 Mar 2026, 14:05 (UTC+1)".

The zone is the site's ``FARM_TZ`` setting (an IANA name such as
``Europe/Amsterdam``; default ``UTC``): one site serves one farm's log, so
one zone. Dates and times are worded for the page's language by Babel's
CLDR data; the offset is the one in force at that moment (summer time
included).

Templates get the filters ``local`` (date and time), ``local_day`` (the
date), ``local_short`` (day and month), ``local_iso`` (ISO 8601 with the
offset, for ``<time datetime>``) and ``calendar_day`` (a ``YYYY-MM-DD`` date
the log states, e.g. a best-before date), and the global ``farm_zone`` (the
zone's name).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_time
from flask import Flask

from chain.errors import MalformedError
from consumer_web._i18n import current_language

__all__ = ["farm_zone", "format_calendar_day", "format_local", "install_localtime", "offset_label"]

_EXTENSION = "farmtrace_farm_tz"


def farm_zone(name: str) -> ZoneInfo:
    """The zone called ``name``.

    Raises:
        MalformedError: ``name`` is not an IANA time zone this machine knows.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MalformedError(
            f"FARM_TZ: expected an IANA time zone name such as Europe/Amsterdam, found {name!r}",
            reason="bad_time_zone",
        ) from exc


def offset_label(moment: datetime) -> str:
    """``moment``'s UTC offset as "UTC", "UTC+1", "UTC-3:30"."""
    offset = moment.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _moment(ms: int, zone: ZoneInfo) -> datetime | None:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    except (OverflowError, ValueError, OSError):  # a signed time beyond year 9999
        return None


def _locale(lang: str) -> str:
    return lang.replace("-", "_")


def format_local(
    ms: int | None, zone: ZoneInfo, lang: str, *, date_only: bool = False, short: bool = False
) -> str:
    """``ms`` (Unix milliseconds) in ``zone``, worded for ``lang``; "" for None.

    ``date_only``: the date alone; ``short``: the day and month alone ("Jan 3").
    A time no calendar date can hold is shown as its number of milliseconds.
    """
    if ms is None:
        return ""
    moment = _moment(ms, zone)
    if moment is None:
        return f"{ms} ms"
    if short:
        return format_skeleton("MMMd", moment, locale=_locale(lang))
    day = format_date(moment, format="medium", locale=_locale(lang))
    if date_only:
        return day
    clock = format_time(moment, format="HH:mm", locale=_locale(lang))
    return f"{day} {clock} ({offset_label(moment)})"


def format_calendar_day(text: str | None, lang: str) -> str:
    """A calendar date ``YYYY-MM-DD`` (a best-before date: no time, no zone) worded for
    ``lang``; "" for None, and anything that is not such a date shown as it is."""
    if text is None:
        return ""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return format_date(day, format="medium", locale=_locale(lang))


def _iso(ms: int | None, zone: ZoneInfo) -> str:
    moment = None if ms is None else _moment(ms, zone)
    return "" if moment is None else moment.isoformat(timespec="minutes")


def install_localtime(app: Flask) -> None:
    """Register the filters and globals on ``app``, for its ``FARM_TZ`` zone.

    Raises:
        MalformedError: ``FARM_TZ`` is not a known time zone.
    """
    zone = farm_zone(str(app.config.get("FARM_TZ") or "UTC"))
    app.extensions[_EXTENSION] = zone
    env = app.jinja_env
    env.filters["local"] = lambda ms: format_local(ms, zone, current_language())
    env.filters["local_day"] = lambda ms: format_local(ms, zone, current_language(), date_only=True)
    env.filters["local_short"] = lambda ms: format_local(ms, zone, current_language(), short=True)
    env.filters["local_iso"] = lambda ms: _iso(ms, zone)
    env.filters["calendar_day"] = lambda text: format_calendar_day(text, current_language())
    env.globals["farm_zone"] = zone.key
