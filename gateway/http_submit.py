"""Signed entries submitted over HTTP: the queue, the ingest thread's side, and the endpoints.

The wire is :mod:`chain.submission`. HTTP threads never touch the
:class:`~gateway.ingest.Ingest`: a request queues its body in a
:class:`SubmissionQueue` and waits; the ingest thread (the loop that owns the
Ingest: :mod:`gateway.submit_loop` in an operator-only log,
:mod:`gateway.mqtt_ingest` with ``--http-submit``) takes what is queued and
a :class:`SubmissionHandler` offers each body to :meth:`Ingest.offer`
exactly as an MQTT message is offered (with no topic: the signature alone
says who sent it), makes the accepted ones durable (one synced batch), and
only then answers: 202 once durably accepted, 200 for a replay of a
committed entry (with its receipt), 4xx with the reason when rejected
(counted in ``farmtrace_entries_rejected_total{reason}``, logged), 503 when
no ingest loop runs, the queue is full, or no answer came in time.

``GET /api/v1/receipts/<hash>`` finds an entry by the hash its submission
had: the gateway remembers ``hash -> (signer, seq)`` of the entries it took
over HTTP (the newest :data:`KNOWN_MAX`, in memory). After a restart it
answers ``unknown`` for entries taken before it; the submitter sends the
entry again, which is idempotent (a duplicate), and asks again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Blueprint, Response, request

from chain.errors import MalformedWireError, StorageError
from chain.store import Store
from chain.submission import (
    BODY_SLACK,
    CONTENT_TYPE,
    RECEIPTS_PATH,
    SUBMIT_PATH,
    SubmitReceipt,
    answer_json,
    check_entry_hash,
    rejection_status,
)
from chain.wire import entry_digest
from gateway.admission import Verdict
from gateway.dead_letter import DeadLetterFile
from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics
from gateway.reject_log import RejectLog

__all__ = [
    "KNOWN_MAX",
    "Answer",
    "Submission",
    "SubmissionHandler",
    "SubmissionQueue",
    "committed_receipt",
    "create_submit_api",
]

_logger = logging.getLogger(__name__)

KNOWN_MAX = 65_536
"""Entry hashes the gateway remembers for ``GET /api/v1/receipts/<hash>``."""

DEAD_LETTER_TOPIC = "http:" + SUBMIT_PATH
"""How a quarantined HTTP submission is named in the dead-letter file."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP status and its JSON document."""

    status: int
    body: dict[str, object]


def _problem(status: int, reason: str, error: str) -> Answer:
    return Answer(status, {"reason": reason, "error": error})


class Submission:
    """One queued body and, once the ingest thread settled it, its answer."""

    def __init__(self, raw: bytes, received_ms: int) -> None:
        self.raw = raw
        self.received_ms = received_ms
        self.answer: Answer | None = None
        self._done = threading.Event()

    def settle(self, answer: Answer) -> None:
        """Give the waiting request its answer (the first one given counts)."""
        if self.answer is None:
            self.answer = answer
            self._done.set()

    def wait(self, timeout: float) -> Answer | None:
        """The answer, or None if none came within ``timeout`` seconds."""
        self._done.wait(timeout)
        return self.answer


class SubmissionQueue:
    """Bodies waiting for the ingest thread, and the hashes of entries it took. Thread-safe.

    :meth:`fileno` is readable while something is queued (for the ingest
    thread's ``select``). ``accepting`` is set by the ingest loop while it
    runs; outside of that, submissions are answered 503 at once.
    """

    def __init__(
        self,
        *,
        max_waiting: int = 1024,
        answer_timeout_s: float = 10.0,
        known_max: int = KNOWN_MAX,
    ) -> None:
        if max_waiting < 1 or answer_timeout_s <= 0 or known_max < 1:
            raise ValueError("max_waiting, answer_timeout_s and known_max must be positive")
        self.max_waiting = max_waiting
        self.answer_timeout_s = answer_timeout_s
        self._known_max = known_max
        self._lock = threading.Lock()
        self._waiting: list[Submission] = []
        self._accepting = False
        self._known: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def fileno(self) -> int:
        """A descriptor readable while submissions wait."""
        return self._wake_r

    @property
    def accepting(self) -> bool:
        """Whether an ingest loop takes submissions now."""
        return self._accepting

    def open(self) -> None:
        """The ingest loop runs: take submissions."""
        with self._lock:
            self._accepting = True

    def wake(self) -> None:
        """Make :meth:`fileno` readable (new submissions, or the loop should stop)."""
        if self._closed:
            return
        with contextlib.suppress(BlockingIOError):  # a full pipe: the ingest thread is awake
            os.write(self._wake_w, b"!")

    def submit(self, raw: bytes, received_ms: int) -> Answer:
        """Queue ``raw`` and wait for the ingest thread's answer (HTTP threads)."""
        item = Submission(raw, received_ms)
        with self._lock:
            if not self._accepting:
                return _problem(503, "not_ready", "the gateway's ingest is not running; retry")
            if len(self._waiting) >= self.max_waiting:
                return _problem(
                    503, "overloaded", f"{len(self._waiting)} submissions wait already; retry"
                )
            self._waiting.append(item)
        self.wake()
        answer = item.wait(self.answer_timeout_s)
        if answer is None:
            item.settle(_problem(503, "busy", "no answer in time; submit it again (idempotent)"))
            return item.answer  # type: ignore[return-value]
        return answer

    def take(self, *, last: bool = False) -> list[Submission]:
        """What waits, oldest first (the ingest thread). ``last``: stop accepting first."""
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            if last:
                self._accepting = False
            taken, self._waiting = self._waiting, []
        return [item for item in taken if item.answer is None]  # not given up on meanwhile

    def remember(self, digest: str, signer: str, seq: int) -> None:
        """Entry ``digest`` is ``(signer, seq)``: for its receipt."""
        with self._lock:
            self._known[digest] = (signer, seq)
            self._known.move_to_end(digest)
            while len(self._known) > self._known_max:
                self._known.popitem(last=False)

    def known(self, digest: str) -> tuple[str, int] | None:
        """``(signer, seq)`` of entry ``digest`` if it was taken (and not forgotten)."""
        with self._lock:
            return self._known.get(digest)

    def close(self) -> None:
        """Answer whatever still waits with 503; release the descriptors (once)."""
        if self._closed:
            return
        for item in self.take(last=True):
            item.settle(_problem(503, "stopping", "the gateway is stopping; retry"))
        self._closed = True
        os.close(self._wake_r)
        os.close(self._wake_w)


def committed_receipt(
    store: Store, index: int, digest: str, released: int | None = None
) -> SubmitReceipt | None:
    """The receipt of entry ``index`` once a checkpoint covers its block, else None.

    ``released``: with mirrors, the tree size a mirror serves cosigned
    (receipts wait for it, as devices' receipts do).
    """
    latest = store.latest_checkpoint()
    if latest is None:
        return None
    size = latest[0] if released is None else min(latest[0], released)
    try:
        block = store.block_of_entry(index)
    except KeyError:
        return None
    return SubmitReceipt(digest, index, block, size) if block < size else None


class SubmissionHandler:
    """The ingest thread's side: offer taken submissions, make them durable, answer them.

    ``released`` as in :func:`committed_receipt` (None: no mirrors).
    """

    def __init__(
        self,
        queue: SubmissionQueue,
        metrics: GatewayMetrics,
        *,
        dead_letter: DeadLetterFile | None = None,
        released: Callable[[], int] | None = None,
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self.dead_letter = dead_letter
        self._released = released
        self._reject_log = RejectLog(_logger)

    def handle(self, ingest: Ingest, items: Sequence[Submission]) -> bool:
        """Offer ``items`` in order, flush, answer; return whether a key was (de)registered.

        Raises:
            StorageError, MemoryError: the store or memory failed; every item
                not answered yet is answered 503 first (nothing of it is durable).
        """
        answers: list[tuple[Submission, Answer]] = []
        keys_changed = False
        try:
            for item in items:
                answer, changed = self._offer(ingest, item)
                answers.append((item, answer))
                keys_changed |= changed
            ingest.flush()
        except BaseException as exc:
            for item in items:
                item.settle(_problem(503, "storage", f"not kept ({type(exc).__name__}); retry"))
            raise
        for item, answer in answers:
            item.settle(answer)
        return keys_changed

    def _offer(self, ingest: Ingest, item: Submission) -> tuple[Answer, bool]:
        try:
            decision = ingest.offer(item.raw, None, item.received_ms)
        except (StorageError, MemoryError):
            raise
        except Exception as exc:  # a bug must not stop ingest: quarantine, as for MQTT
            _logger.debug("internal error on a submission", exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            self._quarantine(item, error)
            return _problem(500, "internal_error", "the gateway failed on this entry"), False
        entry = decision.entry
        digest = entry_digest(item.raw)
        metrics = self.metrics
        if decision.verdict is Verdict.REJECTED or entry is None:
            reason = str(decision.reason)
            metrics.rejected.labels(reason).inc()
            metrics.http_submissions.labels("rejected").inc()
            source = f"http:{entry.kid}" if entry is not None else "http"
            self._reject_log.log(source, decision, time.monotonic())
            return _problem(rejection_status(reason), reason, decision.message), False
        self.queue.remember(digest, entry.kid, entry.seq)
        if decision.verdict is Verdict.DUPLICATE:
            metrics.duplicate.inc()
            metrics.http_submissions.labels("duplicate").inc()
            index = decision.existing_index
            released = None if self._released is None else self._released()
            receipt = (
                None if index is None else committed_receipt(ingest.store, index, digest, released)
            )
            if receipt is not None:
                return Answer(200, receipt.to_dict()), False
            return Answer(202, {"hash": digest}), False
        metrics.accepted.inc()
        metrics.http_submissions.labels("accepted").inc()
        if decision.late:
            metrics.late.inc()
        return Answer(202, {"hash": digest}), entry.type in ("device", "operator")

    def _quarantine(self, item: Submission, error: str) -> None:
        self.metrics.rejected.labels("internal_error").inc()
        self.metrics.http_submissions.labels("rejected").inc()
        self._reject_log.log_reason(
            "http", "internal_error", f"{error[:500]}; quarantined", time.monotonic(), logging.ERROR
        )
        added = self.dead_letter is not None and self.dead_letter.add(
            DEAD_LETTER_TOPIC, item.raw, error, item.received_ms
        )
        if not added:
            _logger.error("quarantined submission: %r", item.raw)


def _json(answer: Answer) -> Response:
    response = Response(answer_json(answer.body), answer.status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def create_submit_api(
    queue: SubmissionQueue,
    store: Store,
    metrics: GatewayMetrics,
    *,
    max_entry_bytes: int,
    released: Callable[[], int] | None = None,
    clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> Blueprint:
    """``POST /api/v1/submit``, ``GET /api/v1/submit`` (ready?) and ``GET /api/v1/receipts/<hash>``.

    See the module docstring and :mod:`chain.submission`.
    """
    api = Blueprint("submit", __name__)
    limit = max_entry_bytes + BODY_SLACK
    refusals = RejectLog(_logger)

    def refuse(status: int, reason: str, error: str) -> Response:
        metrics.rejected.labels(reason).inc()
        metrics.http_submissions.labels("rejected").inc()
        refusals.log_reason("http", reason, error, time.monotonic())
        return _json(_problem(status, reason, error))

    @api.post(SUBMIT_PATH)
    def submit() -> Response:
        if request.mimetype != CONTENT_TYPE:
            return refuse(
                415,
                "unsupported_media_type",
                f"expected Content-Type {CONTENT_TYPE}, found {request.mimetype or 'none'!r}",
            )
        declared = request.content_length
        raw = b"" if declared is not None and declared > limit else request.stream.read(limit + 1)
        if (declared is not None and declared > limit) or len(raw) > limit:
            return refuse(
                413, "oversized", f"expected at most {max_entry_bytes} bytes of JWS, found more"
            )
        answer = queue.submit(raw.strip(b" \t\r\n"), clock())
        if answer.status == 503:
            metrics.http_submissions.labels("unavailable").inc()
        return _json(answer)

    @api.get(SUBMIT_PATH)
    def ready() -> Response:
        if not queue.accepting:
            return _json(_problem(503, "not_ready", "the gateway's ingest is not running"))
        return _json(Answer(200, {"ready": True, "max_entry_bytes": max_entry_bytes}))

    @api.get(RECEIPTS_PATH + "<digest>")
    def receipt(digest: str) -> Response:
        try:
            check_entry_hash(digest)
        except MalformedWireError as exc:
            return _json(_problem(400, exc.reason, str(exc)))
        known = queue.known(digest)
        index = None if known is None else store.lookup(*known)
        if known is None or (index is not None and entry_digest(store.entry(index)) != digest):
            return _json(
                _problem(404, "unknown", "no such entry submitted here (since the last restart)")
            )
        found = None
        if index is not None:
            found = committed_receipt(
                store, index, digest, None if released is None else released()
            )
        if found is None:
            return _json(_problem(404, "pending", "accepted, not yet in a checkpointed block"))
        return _json(Answer(200, found.to_dict()))

    return api
