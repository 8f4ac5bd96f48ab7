"""Signed entries into an operator-only log over HTTP, as the demo's staff send them.

The wire is :mod:`chain.submission`: ``POST /api/v1/submit`` answers 202
once the gateway durably accepted the entry (200 with its receipt for one
committed already), 4xx with the reason it refused it, 503 to try again;
``GET /api/v1/receipts/<hash>`` answers the receipt once a checkpoint covers it.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request

from chain.errors import MalformedError
from chain.json_input import load_json_object
from chain.submission import CONTENT_TYPE, RECEIPTS_PATH, SUBMIT_PATH, SubmitReceipt
from chain.submission import parse_submit_answer as _parse

__all__ = ["SubmitRefusedError", "await_receipt", "submit"]


class SubmitRefusedError(RuntimeError):
    """The gateway refused an entry: ``reason`` is its tag (e.g. ``ref_rolled_back``)."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(f"refused ({reason}): {error}")
        self.reason = reason


def submit(api: str, raw: bytes, *, timeout: float = 30.0) -> str:
    """Send entry ``raw`` to the log at ``api`` until it is accepted; return its entry hash.

    Raises:
        SubmitRefusedError: the gateway refused the entry (a 4xx answer).
        RuntimeError: no acceptance within ``timeout`` seconds (down, or 503 throughout).
    """
    digest = hashlib.sha256(raw).hexdigest()
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            api + SUBMIT_PATH, data=raw, headers={"Content-Type": CONTENT_TYPE}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                _parse(response.read(), digest)
                return digest
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            if exc.code != 503:
                doc = _document(body)
                raise SubmitRefusedError(
                    str(doc.get("reason", exc.code)), str(doc.get("error", ""))
                ) from None
            problem = f"503 {body[:200]!r}"
        except OSError as exc:
            problem = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{api} did not accept an entry within {timeout:.0f} s: {problem}")


def await_receipt(api: str, digest: str, *, timeout: float = 60.0) -> SubmitReceipt:
    """Wait until the log at ``api`` commits entry ``digest``; return its receipt.

    Raises:
        RuntimeError: no receipt within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(api + RECEIPTS_PATH + digest, timeout=10) as response:
                receipt = _parse(response.read(), digest)
                if receipt is not None:
                    return receipt
        except urllib.error.HTTPError as exc:
            problem = f"{exc.code} {exc.read()[:200]!r}"
            exc.close()
        except OSError as exc:
            problem = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{api} did not commit entry {digest} within {timeout:.0f} s: {problem}")


def _document(body: bytes) -> dict[str, object]:
    try:
        return load_json_object(body, "refusal")
    except MalformedError:
        return {"error": body[:200].decode(errors="replace")}
