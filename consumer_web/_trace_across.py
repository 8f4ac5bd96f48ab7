"""Trace and recall across the logs a federated site follows: ``GET /api/v1/trace`` at its root.

``/api/v1/trace?subject=<start>&log=<slug or origin>&from=<ISO>&to=<ISO>``
answers :meth:`chain.trace_across.AcrossResult.to_json` (200), traced with
:func:`chain.trace_across.trace_across` over every followed log's verified
replica up to its checkpoint, each crossed reference checked by
:meth:`consumer_web._federation.Federation.check` (its ``ref_*`` reason, or
``ref_unavailable``, as the item's flag). ``subject`` is a trace start
(``lot:``, ``pack:``, ``bird:``, ``barn:``) or a pack's GS1 Digital Link; a
bird or barn needs ``log``, the log it belongs to. A bad query is 400
``{"reason", "error"}``; a start no log says anything about, 404 (both
counted: ``site_trace_refused_total{reason}``, :func:`count_refused`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from flask import Blueprint, Response, request
from prometheus_client import Counter

from chain.crosslog import LogReference, Referrer
from chain.errors import FarmtraceError, MalformedError
from chain.gs1 import pack_subject, parse_digital_link_path
from chain.trace import FOREVER, check_start, parse_time
from chain.trace_across import AcrossResult, LogCopy, RefStatus, trace_across
from consumer_web._federation import Federation, FederationMetrics, current_federation

__all__ = ["bp", "count_refused", "locked_copies", "reference_status", "trace_federation"]

bp = Blueprint("trace_across", __name__)

_SUBJECT_MAX = 200
_TIME_MAX = 40


_REFUSED: WeakKeyDictionary[FederationMetrics, Counter] = WeakKeyDictionary()
_REFUSED_LOCK = threading.Lock()


def count_refused(federation: Federation, reason: str) -> None:
    """Count a trace query refused for ``reason`` (``bad_trace_query``: 400;
    ``unknown_trace``: 404) in ``site_trace_refused_total{reason}`` of the root ``/metrics``."""
    metrics = federation.metrics
    with _REFUSED_LOCK:
        counter = _REFUSED.get(metrics)
        if counter is None:
            counter = _REFUSED[metrics] = Counter(
                "site_trace_refused",
                "Trace queries across logs refused, by reason",
                ["reason"],
                registry=metrics.registry,
            )
            for known in ("bad_trace_query", "unknown_trace"):
                counter.labels(known)
    counter.labels(reason).inc()


def reference_status(federation: Federation) -> RefStatus:
    """A trace's reference check by ``federation``: None if it holds, else its ``ref_*`` reason.

    The check raises what is not a reference's failure (StorageError).
    """

    def status(ref: LogReference, referrer: Referrer) -> str | None:
        try:
            federation.check(ref, referrer)
        except FarmtraceError as exc:
            if exc.reason.startswith("ref_"):
                return exc.reason
            raise
        return None

    return status


@contextmanager
def locked_copies(federation: Federation) -> Iterator[dict[str, LogCopy]]:
    """Every followed log with data, by origin: its store and trace index at its checkpoint.

    Holds every followed log's lifecycle lock (in origin order) until the block ends.
    """
    with ExitStack() as stack:
        logs: dict[str, LogCopy] = {}
        for name in sorted(federation.logs):
            copy = stack.enter_context(federation.logs[name].site.lifecycle.trace_copy())
            if copy is not None:
                logs[name] = copy
        yield logs


def trace_federation(
    federation: Federation,
    start: str,
    *,
    origin: str | None = None,
    window: tuple[int, int] | None = None,
) -> AcrossResult:
    """Trace ``start`` across every log ``federation`` follows, each up to its checkpoint.

    Holds every followed log's lifecycle lock (in origin order) while tracing.

    Raises:
        GS1Error, MalformedError: a bad start, window or origin (see
            :func:`chain.trace_across.trace_across`).
        StorageError: a replica's store failed.
    """
    with locked_copies(federation) as logs:
        status = reference_status(federation)
        return trace_across(logs, start, ref_status=status, origin=origin, window=window)


def _start_of(text: str) -> str:
    if "/01/" in text:
        return pack_subject(parse_digital_link_path(urlsplit(text).path if "://" in text else text))
    check_start(text)
    return text


def _origin_of(federation: Federation, log: str) -> str:
    party = federation.pins.by_slug(log) or federation.pins.party(log)
    if party is None or party.origin not in federation.logs:
        raise MalformedError(
            f"log: expected the slug or origin of a followed log, found {log!r:.80}",
            reason="bad_trace_start",
        )
    return party.origin


def _answer(body: object, status: int) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )


@bp.get("/api/v1/trace")
def trace_api() -> Response:
    """The trace across logs of the query's start (see the module docstring)."""
    federation = current_federation()
    if federation is None:
        return _answer({"reason": "not_federated", "error": "this site follows one log"}, 404)
    args = request.args
    try:
        start = _start_of(args.get("subject", "")[:_SUBJECT_MAX].strip())
        log = args.get("log", "").strip()
        origin = (
            _origin_of(federation, log) if log and start.startswith(("bird:", "barn:")) else None
        )
        begin, end = (args.get(k, "")[:_TIME_MAX].strip() for k in ("from", "to"))
        window = None
        if start.startswith("barn:") and (begin or end):
            window = (parse_time(begin) if begin else 0, parse_time(end) if end else FOREVER)
        began = time.perf_counter()
        result = trace_federation(federation, start, origin=origin, window=window)
    except MalformedError as exc:  # GS1Error is one
        count_refused(federation, "bad_trace_query")
        return _answer({"reason": exc.reason, "error": str(exc)}, 400)
    if not result.found:
        count_refused(federation, "unknown_trace")
        error = f"no followed log says anything about {start}"
        return _answer({"reason": "unknown_trace", "error": error}, 404)
    seconds = round(time.perf_counter() - began, 4)
    return _answer(result.to_json() | {"seconds": seconds}, 200)
