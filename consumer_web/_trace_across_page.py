"""The federated site's trace page: ``/trace?subject=...&log=...&from=...&to=...`` at its root.

Like a log's own trace page (:mod:`consumer_web._trace_page`: a form, and what
the trace found), across every log the site follows
(:func:`chain.trace_across.trace_across` over their verified replicas, each
up to its checkpoint; every crossed reference checked by
:meth:`consumer_web._federation.Federation.check`). ``log`` (a followed log's
slug or origin) names the log of a ``bird:`` or ``barn:`` start, which the
same id names differently on two farms; a lot or pack is traced in every
log. The page lists recalls first, then the references that do not hold
(with the reason in words), then each fact with its party and links into
that log's own pages under ``/logs/<slug>/``: the subject, the entry's proof
and its block. A bad query is answered 400 and a start no log says
anything about 404, each with the form and a message in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import Blueprint, render_template, request

from chain.crosslog import split_foreign
from chain.errors import FarmtraceError
from chain.gs1 import parse_pack_subject
from chain.store import Store
from chain.trace import FOREVER
from chain.trace_across import AcrossItem, AcrossResult, Crossing, LogCopy, trace_across
from consumer_web._federation import Federation, current_federation
from consumer_web._messages import N_
from consumer_web._templating import format_number
from consumer_web._trace_across import count_refused, locked_copies, reference_status
from consumer_web._trace_page import BadQuery, start_of, window_of

__all__ = ["Fact", "Failing", "bp"]

bp = Blueprint("trace_across_page", __name__)
bp.add_app_template_filter(format_number, "num")  # the root app has no log pages' filters

_SUBJECT_MAX = 200
_TIME_MAX = 40
_NEEDS_LOG = N_(
    "Choose the log of {subject}: the same id names different birds and barns on two farms."
)


@dataclass(frozen=True, slots=True)
class Fact:
    """One item of the trace as the page shows it, with its links (site paths, unpinned).

    ``party``/``slug``: the log the entry is in; ``subject``: the subject as
    that log's entry names it, of ``subject_party``'s log when another's.
    """

    item: AcrossItem
    party: str
    slug: str | None
    subject: str
    subject_party: str | None
    subject_link: str | None
    signer: str
    entry_link: str | None
    block: int | None
    block_link: str | None


@dataclass(frozen=True, slots=True)
class Failing:
    """A reference that does not hold: carried by entry ``crossing.index`` of ``party``'s
    log, naming an entry of ``named``'s."""

    crossing: Crossing
    party: str
    named: str
    entry_link: str | None


class _View:
    """What a trace's page shows, read from the locked copies: names, blocks, links."""

    def __init__(self, federation: Federation, logs: dict[str, LogCopy]) -> None:
        self.federation, self.logs = federation, logs

    def name(self, origin: str) -> str:
        party = self.federation.pins.party(origin)
        return origin if party is None else party.name

    def slug(self, origin: str) -> str | None:
        party = self.federation.pins.party(origin)
        return None if party is None or origin not in self.federation.logs else party.slug

    def subject_link(self, origin: str, subject: str) -> str | None:
        kind, _, ident = subject.partition(":")
        slug = self.slug(origin)
        if kind in ("pack", "lot"):  # the resolver routes a Digital Link to its party
            try:
                return parse_pack_subject(subject).path
            except FarmtraceError:
                return None
        if slug is None:
            return None
        if kind == "bird":
            return f"/logs/{slug}/bird/{quote(ident, safe='')}"
        if kind == "barn":
            return "/trace?" + urlencode({"subject": subject, "log": slug})
        return None

    def signer(self, origin: str, kid: str) -> str:
        name = self.federation.logs[origin].site.lifecycle.directory.operator_name(kid)
        return name or kid

    def fact(self, item: AcrossItem) -> Fact:
        other, subject = split_foreign(item.item.subject)
        owner = other or item.origin
        slug = self.slug(item.origin)
        block = block_link = entry_link = None
        if slug is not None:
            entry_link = f"/logs/{slug}/api/v1/entries/{item.item.index}/proof"
            store: Store = self.logs[item.origin][0]
            block = store.block_of_entry(item.item.index)
            block_link = f"/logs/{slug}/batch/{store.block(block).hash}"
        return Fact(
            item,
            self.name(item.origin),
            slug,
            subject,
            None if other is None else self.name(other),
            self.subject_link(owner, subject),
            self.signer(item.origin, item.item.signer),
            entry_link,
            block,
            block_link,
        )

    def failing(self, crossing: Crossing) -> Failing:
        slug = self.slug(crossing.origin)
        link = None if slug is None else f"/logs/{slug}/api/v1/entries/{crossing.index}/proof"
        return Failing(crossing, self.name(crossing.origin), self.name(crossing.ref.log), link)


@dataclass(frozen=True, slots=True)
class _Shown:
    """A trace and its facts as the page lists them; ``birds`` as (bird, party, link)."""

    result: AcrossResult
    downstream: tuple[Fact, ...]
    upstream: tuple[Fact, ...]
    recalls: tuple[Fact, ...]
    failing: tuple[Failing, ...]
    birds: tuple[tuple[str, str, str | None], ...]


def _trace(
    federation: Federation, start: str, origin: str | None, window: tuple[int, int] | None
) -> _Shown:
    """Trace ``start`` across the followed logs and read what the page shows, under their locks.

    Raises what :func:`chain.trace_across.trace_across` raises.
    """
    with locked_copies(federation) as logs:
        status = reference_status(federation)
        result = trace_across(logs, start, ref_status=status, origin=origin, window=window)
        view = _View(federation, logs)
        birds = []
        for key in result.birds:
            owner, bird = split_foreign(key)
            owner = owner or ""
            birds.append((bird, view.name(owner), view.subject_link(owner, bird)))
        return _Shown(
            result,
            tuple(map(view.fact, result.downstream)),
            tuple(map(view.fact, result.upstream)),
            tuple(map(view.fact, result.recalls)),
            tuple(map(view.failing, result.failing)),
            tuple(birds),
        )


def _origin_of(federation: Federation, start: str, log: str) -> str | None:
    """The followed log ``log`` (slug or origin) names for a bird or barn start, else None.

    Raises:
        BadQuery: a bird or barn start without a followed log.
    """
    if not start.startswith(("bird:", "barn:")):
        return None
    party = (federation.pins.by_slug(log) or federation.pins.party(log)) if log else None
    if party is None or party.origin not in federation.logs:
        raise BadQuery(_NEEDS_LOG, subject=start)
    return party.origin


@bp.get("/trace")
def trace_page() -> tuple[str, int]:
    """The trace form, and the trace across logs of ``subject`` when one is given."""
    federation = current_federation()
    if federation is None:  # registered on a federated site's root app only
        raise RuntimeError("the trace page across logs needs a federated site")
    args = request.args
    text = args.get("subject", "")[:_SUBJECT_MAX].strip()
    log = args.get("log", "")[:_SUBJECT_MAX].strip()
    start_text = args.get("from", "")[:_TIME_MAX].strip()
    end_text = args.get("to", "")[:_TIME_MAX].strip()
    form = {"subject": text, "log": log, "from": start_text, "to": end_text}
    parties = [p for p in federation.pins.parties if p.origin in federation.logs]

    def page(status: int, key: str | None = None, **values: object) -> tuple[str, int]:
        return render_template(
            "trace_across.html", form=form, parties=parties, message=key, values=values, shown=None
        ), status

    if not text:
        return page(200)
    try:
        start = start_of(text)
        window = window_of(start, start_text, end_text)
        origin = _origin_of(federation, start, log)
    except BadQuery as bad:
        count_refused(federation, "bad_trace_query")
        return page(400, bad.key, **bad.values)
    shown = _trace(federation, start, origin, window)
    if not shown.result.found:
        count_refused(federation, "unknown_trace")
        return page(
            404,
            N_("No log this site follows says anything about “{subject}” (up to its checkpoint)."),
            subject=start,
        )
    html = render_template(
        "trace_across.html",
        form=form,
        parties=parties,
        message=None,
        values={},
        shown=shown,
        names={p.origin: p.name for p in federation.pins.parties},
        forever=FOREVER,
    )
    return html, 200
