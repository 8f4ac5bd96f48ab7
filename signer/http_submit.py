"""Sending one signed entry to a gateway over HTTP, and waiting until the log holds it.

An operator-only log (a hatchery's, a plant's, a shop's) has no broker: its
staff's signed events go to the gateway by ``POST /api/v1/submit``
(:mod:`chain.submission`), as does anything sent to a farm's gateway run
with ``--http-submit``::

    url = parse_submit_url("http://plant.local:8083")
    raw, seq, receipt = sign_and_submit(sign, url, timeout=30)

``sign()`` is called only once the gateway said it takes submissions, so
that an unreachable gateway uses no seq (a seq signed but never sent is a
hole auditors report). Submitting is idempotent: the client sends the
entry again whenever the gateway may have lost it (no answer, 503, or a
receipt query that says ``unknown`` after a restart); the gateway answers a
resend of an entry it holds as a duplicate, never a second copy. A 429 (the
rate limit nginx puts in front of the endpoint: docs/deploy-supply-chain.md)
is waited out and the entry sent again, as for a 503.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from chain.errors import MalformedWireError
from chain.json_input import load_json_object
from chain.submission import (
    CONTENT_TYPE,
    RECEIPTS_PATH,
    SUBMIT_PATH,
    SubmitReceipt,
    parse_submit_answer,
)
from chain.wire import entry_digest

__all__ = [
    "GatewayNotReadyError",
    "SubmitRejectedError",
    "SubmitUrl",
    "parse_submit_url",
    "probe",
    "sign_and_submit",
    "submit_and_wait",
]

_MAX_ANSWER_BYTES = 8192
_REFUSALS = frozenset({*range(400, 429), *range(430, 500), 500})
"""Answers that refuse the entry. Not 429 (nginx's rate limit), 502-504 (the gateway
behind nginx is down or restarting) or 503 (not ready): the entry is sent again."""
_POLL_MIN_S = 0.05
_POLL_MAX_S = 0.5


@dataclass(frozen=True, slots=True)
class SubmitUrl:
    """A gateway's base URL (its read API's), to which entries are submitted."""

    base: str

    def __str__(self) -> str:
        return self.base


def parse_submit_url(text: str) -> SubmitUrl:
    """``http[s]://HOST[:PORT][/PREFIX]``, without a trailing slash.

    Raises:
        ValueError: another scheme, no host, a query, a fragment or credentials.
    """
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"submit URL: expected http[s]://HOST[:PORT], found {text!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"submit URL: expected no query, fragment or credentials, found {text!r}")
    try:
        parts.port  # noqa: B018 (validates it)
    except ValueError as exc:
        raise ValueError(f"submit URL: bad port in {text!r}") from exc
    return SubmitUrl(text.rstrip("/"))


class GatewayNotReadyError(TimeoutError):
    """The gateway did not say it takes submissions in time: nothing was signed."""


class SubmitRejectedError(PermissionError):
    """The gateway refused the entry: ``reason`` is its tag (e.g. ``lifecycle_conflict``)."""

    def __init__(self, reason: str, error: str, status: int) -> None:
        super().__init__(f"the gateway refused the entry ({status} {reason}): {error}")
        self.reason = reason
        self.error = error
        self.status = status


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes


def _request(url: str, timeout: float, data: bytes | None = None) -> _Reply | None:
    """One HTTP exchange; None when no HTTP answer came (refused, reset, timed out)."""
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = CONTENT_TYPE
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=max(timeout, 0.1)) as response:
            return _Reply(response.status, response.read(_MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            return _Reply(exc.code, exc.read(_MAX_ANSWER_BYTES))
    except (OSError, ValueError):  # URLError, a reset, a timeout; http.client's errors
        return None


def _problem(reply: _Reply) -> tuple[str, str]:
    """``(reason, error)`` of a 4xx/5xx answer (or what can be said of an odd one)."""
    try:
        doc = load_json_object(reply.body, "gateway answer", error=MalformedWireError)
    except MalformedWireError:
        return f"http_{reply.status}", reply.body[:200].decode("utf-8", "replace")
    return str(doc.get("reason", f"http_{reply.status}")), str(doc.get("error", ""))


def probe(url: SubmitUrl, timeout: float) -> None:
    """Wait until the gateway at ``url`` takes submissions (``GET /api/v1/submit`` says so).

    Raises:
        GatewayNotReadyError: not within ``timeout`` seconds (the last
            problem is in the message).
    """
    deadline = time.monotonic() + timeout
    delay = _POLL_MIN_S
    while True:
        reply = _request(url.base + SUBMIT_PATH, deadline - time.monotonic())
        if reply is not None and reply.status == 200:
            return
        if reply is None:
            why = "no answer"
        elif reply.status in (404, 405):
            why = "it does not take submissions (a farm's gateway needs --http-submit)"
        else:
            why = "{}: {}".format(*_problem(reply))
        if time.monotonic() + delay > deadline:
            raise GatewayNotReadyError(f"gateway {url}: {why}; nothing signed")
        time.sleep(delay)  # the gateway may be starting or restarting
        delay = min(delay * 2, _POLL_MAX_S)


def submit_and_wait(url: SubmitUrl, raw: bytes, timeout: float) -> SubmitReceipt:
    """Submit ``raw`` and poll its receipt until a checkpointed block holds it.

    The entry is sent again while the gateway may not hold it (no answer,
    503, or ``unknown`` when asked for the receipt).

    Raises:
        SubmitRejectedError: the gateway refused it (4xx, or 500: it failed on
            this entry; with its reason). A 503 (e.g. ``ref_unavailable``) or
            429 (rate-limited) is retried.
        TimeoutError: no receipt within ``timeout`` seconds.
        MalformedWireError: the gateway's answer is not the protocol's.
    """
    digest = entry_digest(raw)
    deadline = time.monotonic() + timeout
    delay = _POLL_MIN_S
    held = False  # the gateway said it durably holds the entry (and still knows it)
    last = "no answer"
    while True:
        left = deadline - time.monotonic()
        if not held:
            reply = _request(url.base + SUBMIT_PATH, left, raw)
            if reply is not None and reply.status in (200, 202):
                receipt = parse_submit_answer(reply.body, digest)
                if receipt is not None:
                    return receipt
                held = True
                delay = _POLL_MIN_S
            elif reply is not None and reply.status in _REFUSALS:
                raise SubmitRejectedError(*_problem(reply), reply.status)
            elif reply is not None:
                last = "{}: {}".format(*_problem(reply))
        else:
            reply = _request(url.base + RECEIPTS_PATH + digest, left)
            if reply is not None and reply.status == 200:
                receipt = parse_submit_answer(reply.body, digest)
                if receipt is None:
                    raise MalformedWireError(f"receipt of {digest}: expected index, block, size")
                return receipt
            if reply is not None and reply.status == 404:
                reason, _ = _problem(reply)
                held = reason == "pending"  # "unknown": restarted meanwhile, send it again
                last = f"the gateway holds it, {reason}" if held else "unknown to the gateway"
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"no receipt for entry {digest} from {url} ({last})")
        time.sleep(delay)
        delay = min(delay * 2, _POLL_MAX_S)


def sign_and_submit(
    sign: Callable[[], tuple[bytes, int]], url: SubmitUrl, timeout: float
) -> tuple[bytes, int, SubmitReceipt]:
    """Once the gateway takes submissions, ``sign()`` (``(raw, seq)``), submit, wait.

    Raises:
        GatewayNotReadyError: the gateway did not take submissions in time
            (nothing signed, ``sign`` not called).
        SubmitRejectedError, TimeoutError, MalformedWireError: as for
            :func:`submit_and_wait` (the seq is used).
        Whatever ``sign()`` raises.
    """
    deadline = time.monotonic() + timeout
    probe(url, timeout)
    raw, seq = sign()
    return raw, seq, submit_and_wait(url, raw, max(0.0, deadline - time.monotonic()))
