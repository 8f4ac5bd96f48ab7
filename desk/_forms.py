"""The event forms: one per kind the desk's operator may sign, and the result page.

A submission goes through :mod:`signer.operator_events`, the same path
as ``farmtrace event``: draft and validate, pre-check against the log (no
seq used when refused), sign, publish, wait for the receipt. Success
redirects to the result page (so that reloading it signs nothing again);
each form carries a one-time id, so that a second click on the same form
shows the first result instead of signing the event twice. A form id is
bound to the user who recorded it: another user who sends it gets a 404.

Each user signs as the desk's operator, or as an operator of their own
(:mod:`desk.people`); the index lists, and the server accepts, only the
kinds that operator's roles (as the log says) may sign.

With pins (``PINS``), a form may name subjects that come from other logs:
the desk makes and checks those references before anything else
(:mod:`desk._refs`); one that cannot be made refuses the form, no seq used.
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from chain.crosslog import REFERABLE, CrossLogReferenceError, Referrer
from chain.errors import (
    AuthorizationError,
    LifecycleError,
    MalformedEntryError,
    SourceError,
    StorageError,
)
from desk._auth import current_user, login_required
from desk._operator import Operator, Submitted
from desk._refs import field_name, make_references, parties_for, reason_words, shown, wanted_refs
from readapi.crosslog import NoReferableEntryError, PinnedParty, ReferenceUnavailableError
from signer.http_submit import SubmitRejectedError
from signer.operator_events import (
    EVENT_KINDS,
    EventDraft,
    NoReceiptError,
    draft_event,
    kinds_for_roles,
)
from signer.transport import NotConnectedError

if TYPE_CHECKING:
    from desk._app import Desk

__all__ = ["FUTURE_LIMIT_MS", "bp"]

_logger = logging.getLogger(__name__)

bp = Blueprint("events", __name__)

FUTURE_LIMIT_MS = 5 * 60 * 1000
"""How far ahead of the desk's clock an event's time may be."""

_FORM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

# exception type -> (HTTP status, counted outcome, what the page says before the message)
_REFUSALS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (NoReferableEntryError, 409, "ref_nothing_to_name", "The other log has no such entry"),
    (
        ReferenceUnavailableError,
        503,
        "ref_unavailable",
        "The other log could not be reached, nothing was signed: try again later",
    ),
    (CrossLogReferenceError, 409, "ref_refused", "The reference to the other log does not hold"),
    (MalformedEntryError, 400, "invalid", "Please correct the form"),
    (AuthorizationError, 403, "not_allowed", "This desk may not sign that"),
    (LifecycleError, 409, "conflict", "The log contradicts this event"),
    (SourceError, 503, "check_unavailable", "The log could not be checked, nothing was signed"),
    (StorageError, 503, "state_error", "The operator's signing state is unavailable"),
    (NoReceiptError, 504, "no_receipt", "Not confirmed"),
    (NotConnectedError, 503, "broker_unreachable", "The broker is unreachable, nothing was signed"),
    (SubmitRejectedError, 502, "gateway_refused", "The gateway refused the event"),
    (PermissionError, 502, "broker_refused", "The broker refused the event"),
)


def _desk() -> Desk:
    desk: Desk = current_app.extensions["desk"]
    return desk


def _operator() -> Operator:
    """The operator the logged-in user signs as."""
    return _desk().operator_for(current_user())


def _allowed_kinds() -> tuple[tuple[str, ...], str | None]:
    lookup = _operator().roles()
    return kinds_for_roles(lookup.roles), lookup.problem


@bp.get("/")
@login_required
def index() -> str:
    lookup = _operator().roles()
    kinds = kinds_for_roles(lookup.roles)
    return render_template(
        "index.html", kinds=kinds, roles=sorted(lookup.roles), problem=lookup.problem
    )


def _kind_or_404(kind: str) -> str:
    if kind not in EVENT_KINDS:
        abort(404)
    return kind


def _form_page(kind: str, values: dict[str, str], error: str | None, title: str | None) -> str:
    desk = _desk()
    return render_template(
        "event.html",
        kind=EVENT_KINDS[kind],
        values=values,
        error=error,
        error_title=title,
        form_id=secrets.token_urlsafe(18),
        zone=desk.zone.key,
        parties=_parties(kind),
        referable=sorted(REFERABLE.get(kind, ())),
        field_name=field_name,
    )


@bp.get("/events/<kind>")
@login_required
def event_form(kind: str) -> Any:
    _kind_or_404(kind)
    kinds, problem = _allowed_kinds()
    if kind not in kinds:
        why = problem or f"Its roles do not allow {kind} events."
        return render_template("refused.html", kind=kind, problem=why), 403
    return _form_page(kind, {}, None, None)


def _timestamp(text: str, zone: datetime.tzinfo) -> int:
    """The event time from the form (blank: now), in ms; refused if badly in the future."""
    now = time.time_ns() // 1_000_000
    if not text.strip():
        return now
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise MalformedEntryError(f"when: expected a date and time, found {text[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    ts = int(when.timestamp() * 1000)
    if ts < 0:
        raise MalformedEntryError("when: expected a time after 1970")
    if ts > now + FUTURE_LIMIT_MS:
        raise MalformedEntryError("when: expected a time that is not in the future")
    return ts


def _parties(kind: str) -> tuple[PinnedParty, ...]:
    """The other logs the form of ``kind`` offers (none without pins: no read API asked)."""
    desk = _desk()
    if not parties_for(desk.pins, kind):
        return ()
    return parties_for(desk.pins, kind, desk.own_origin.get())


def _draft(
    kind: str, values: dict[str, str], ts: int, refs: Sequence[Mapping[str, object]] = ()
) -> EventDraft:
    spec = EVENT_KINDS[kind]
    members = {name: values.get(name, "") for name in spec.members}
    return draft_event(kind, values.get("subjects", ""), members, ts, refs=refs)


def _referencing(
    kind: str, values: dict[str, str]
) -> tuple[EventDraft, tuple[Mapping[str, object], ...]]:
    """The draft of the form, with the references it asks for made and checked.

    Also returns what the result page shows of each reference.

    Raises:
        MalformedEntryError: the form is invalid.
        NoReferableEntryError, CrossLogReferenceError, ReferenceUnavailableError:
            a reference cannot be made (desk._refs.make_references).
    """
    desk = _desk()
    ts = _timestamp(values.get("when", ""), desk.zone)
    draft = _draft(kind, values, ts)
    wanted = wanted_refs(_parties(kind), values, draft.subjects)
    if not wanted or desk.pins is None:
        return draft, ()
    referrer = Referrer(kind, draft.subjects, ts)
    checked = make_references(wanted, desk.pins, referrer, timeout=desk.ref_timeout)
    draft = _draft(kind, values, ts, [c.ref.to_json() for c in checked])
    return draft, tuple(shown(c, w.party, desk.zone) for c, w in zip(checked, wanted, strict=True))


def _refusal_text(exc: BaseException) -> str:
    if isinstance(exc, CrossLogReferenceError):
        return f"{reason_words(exc.reason)} ({exc.reason}): {exc}"
    return str(exc)


@bp.post("/events/<kind>")
@login_required
def submit(kind: str) -> Any:
    _kind_or_404(kind)
    desk = _desk()
    user = current_user() or "?"
    kinds, problem = _allowed_kinds()
    if kind not in kinds:
        desk.metrics.events.labels(kind, "not_allowed").inc()
        why = problem or f"Its roles do not allow {kind} events."
        return render_template("refused.html", kind=kind, problem=why), 403
    values = dict(request.form.items())  # bounded by MAX_CONTENT_LENGTH; never cut short
    form_id = values.get("form_id", "")
    if not _FORM_ID.fullmatch(form_id):
        abort(400)
    operator = _operator()
    try:
        earlier = operator.submitted(form_id, user)
    except AuthorizationError:  # another user's form: its result is none of this user's business
        desk.metrics.events.labels(kind, "not_yours").inc()
        _logger.warning("%s by %r refused: the form id of another user", kind, user)
        abort(404)
    if earlier is not None:  # a second click on a form already recorded: show that result
        desk.metrics.events.labels(kind, "repeated").inc()
        return _show(earlier)
    try:
        draft, refs = _referencing(kind, values)
        result = operator.submit(draft, form_id, user, refs)
    except tuple(refusal[0] for refusal in _REFUSALS) as exc:
        status, outcome, title = next(
            (r[1], r[2], r[3]) for r in _REFUSALS if isinstance(exc, r[0])
        )
        if isinstance(exc, CrossLogReferenceError):
            outcome = exc.reason  # one of chain.crosslog.FAILURE_REASONS
        desk.metrics.events.labels(kind, outcome).inc()
        _logger.warning("%s by %r refused (%s): %s", kind, user, outcome, exc)
        return _form_page(kind, values, _refusal_text(exc), title), status
    desk.metrics.events.labels(kind, "recorded").inc()
    _logger.info("%s recorded by %r as seq %d, block %s", kind, user, result.seq, result.block)
    return _show(result)


def _show(result: Submitted) -> Response:
    """Redirect to the result page of ``result`` (reloading that page signs nothing)."""
    session["recorded"] = {
        "event": result.event,
        "subjects": list(result.subjects),
        "seq": result.seq,
        "block": result.block,
        "refs": [dict(ref) for ref in result.refs],
    }
    return redirect(url_for("events.recorded"), 303)


@bp.get("/recorded")
@login_required
def recorded() -> Response | str:
    result = session.get("recorded")
    if not isinstance(result, dict):
        return redirect(url_for("events.index"))
    return render_template("recorded.html", result=result)
