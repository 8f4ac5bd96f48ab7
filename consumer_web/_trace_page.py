"""The trace page: ``/trace?subject=...&from=...&to=...``, a form and what the trace found.

``subject`` is a trace start (:func:`chain.trace.check_start`: ``lot:``,
``pack:``, ``bird:`` or ``barn:``) or a pack's GS1 Digital Link (URI or
path); ``from`` and ``to`` (ISO 8601, UTC without a zone) bound a barn's
window, and are ignored for other starts. The trace runs over what the
site's latest checkpoint covers (:meth:`consumer_web._lifecycle.Lifecycle.trace`);
results are kept per (start, window, checkpoint). A bad start or time is
answered 400, a start the log says nothing about 404, each with the form
and a message in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, render_template, request

from chain.errors import FarmtraceError
from chain.gs1 import pack_subject, parse_digital_link_path, parse_pack_subject
from chain.trace import FOREVER, REFILL_MIN_KG, TraceItem, TraceResult, check_start, parse_time
from consumer_web._messages import N_
from consumer_web._site import current_site

__all__ = ["BadQuery", "bp", "start_of", "window_of"]

bp = Blueprint("trace", __name__)

_SUBJECT_MAX = 200
_TIME_MAX = 40
_BAD_SUBJECT = N_("“{subject}” is not a lot, pack, bird or barn that can be traced.")


class BadQuery(Exception):
    """A start or time the trace cannot take: its message (English) and its values."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def start_of(text: str) -> str:
    """The trace start ``text`` names (a Digital Link becomes its pack or lot subject).

    Raises:
        BadQuery: ``text`` is not a trace start or a Digital Link.
    """
    if "/01/" in text:
        path = urlsplit(text).path if "://" in text else text
        try:
            return pack_subject(parse_digital_link_path(path))
        except FarmtraceError:
            raise BadQuery(_BAD_SUBJECT, subject=text) from None
    try:
        check_start(text)
    except FarmtraceError:
        raise BadQuery(_BAD_SUBJECT, subject=text) from None
    return text


def _time(text: str, default: int) -> int:
    if not text:
        return default
    try:
        return parse_time(text)
    except FarmtraceError:
        raise BadQuery(
            N_("“{value}” is not a date or time (write 2026-01-01 or 2026-01-01T06:00)."),
            value=text,
        ) from None


def window_of(start: str, start_text: str, end_text: str) -> tuple[int, int] | None:
    """A barn start's window from the form's ``from``/``to`` (None: none, or not a barn).

    Raises:
        BadQuery: a time is not one, or the window ends before it starts.
    """
    if not start.startswith("barn:") or not (start_text or end_text):
        return None
    window = (_time(start_text, 0), _time(end_text, FOREVER))
    if window[0] >= window[1]:
        raise BadQuery(N_("The time window must start before it ends."))
    return window


def _links(result: TraceResult) -> dict[str, str]:
    """Where each subject of ``result`` has a page: birds, packs and lots, barns (a trace)."""
    items: Iterable[TraceItem] = (*result.downstream, *result.upstream, *result.recalls)
    subjects = {result.start, *(f"bird:{b}" for b in result.birds), *(i.subject for i in items)}
    links: dict[str, str] = {}
    for subject in subjects:
        kind, _, ident = subject.partition(":")
        if kind == "bird":
            links[subject] = f"/bird/{quote(ident, safe='')}"
        elif kind in ("pack", "lot"):
            try:
                links[subject] = parse_pack_subject(subject).path
            except FarmtraceError:
                continue
        elif kind == "barn":
            links[subject] = "/trace?" + urlencode({"subject": subject})
    return links


@bp.get("/trace")
def trace_page() -> tuple[str, int]:
    """The trace form, and the trace of ``subject`` when one is given."""
    text = request.args.get("subject", "")[:_SUBJECT_MAX].strip()
    start_text = request.args.get("from", "")[:_TIME_MAX].strip()
    end_text = request.args.get("to", "")[:_TIME_MAX].strip()
    form = {"subject": text, "from": start_text, "to": end_text}

    def page(status: int, key: str | None = None, **values: object) -> tuple[str, int]:
        return render_template(
            "trace.html",
            form=form,
            message=key,
            values=values,
            found=None,
            refill_kg=REFILL_MIN_KG,
        ), status

    if not text:
        return page(200)
    try:
        start = start_of(text)
        window = window_of(start, start_text, end_text)
    except BadQuery as bad:
        return page(400, bad.key, **bad.values)
    site = current_site()
    head = site.lifecycle.head()
    key = ("trace", start, window, None if head is None else head.entry_count)
    found = site.memo.get(key, lambda: site.lifecycle.trace(start, window))
    if found is None or not found[0].found:
        site.metrics.not_found.labels("unknown_trace").inc()
        return page(
            404,
            N_("The log (up to its latest checkpoint) says nothing about “{subject}”."),
            subject=start,
        )
    result, names = found
    html = render_template(
        "trace.html",
        form=form,
        message=None,
        values={},
        found=result,
        names=names,
        links=_links(result),
        forever=FOREVER,
        refill_kg=REFILL_MIN_KG,
    )
    return html, 200
