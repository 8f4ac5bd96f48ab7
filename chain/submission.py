"""Entries submitted over HTTP: the gateway's answers and receipts (an operator-only log's wire).

A party without devices (a hatchery, a plant, a shop) runs a log fed by its
staff's signed events alone, with no broker between them and the gateway::

    POST /api/v1/submit            body: one compact JWS (the exact entry bytes),
                                   Content-Type: application/jose
      202 {"hash": "<hex SHA-256 of the body>"}         durably accepted (pending)
      200 {"hash", "index", "block", "size"}            already committed (a replay)
      4xx {"reason": "<tag>", "error": "<text>"}         rejected (counted by reason)
      503 {"reason": "not_ready"|"overloaded"|..., "error"}  try again later
    GET /api/v1/receipts/<entry hash>
      200 {"hash", "index", "block", "size"}            committed, covered by a checkpoint
      404 {"reason": "pending"|"unknown", "error"}

``index`` is the entry's log index, ``block`` the height of the block
holding it and ``size`` the tree size (blocks) of the checkpoint that
covers it. Pure: this module builds and parses those documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from chain.errors import MalformedWireError
from chain.json_input import load_json_object

__all__ = [
    "BODY_SLACK",
    "CONTENT_TYPE",
    "RECEIPTS_PATH",
    "SUBMIT_PATH",
    "SubmitReceipt",
    "answer_json",
    "check_entry_hash",
    "parse_submit_answer",
    "rejection_status",
]

SUBMIT_PATH = "/api/v1/submit"
RECEIPTS_PATH = "/api/v1/receipts/"
CONTENT_TYPE = "application/jose"
BODY_SLACK = 1024
"""Bytes beyond the entry limit a body may have before it is refused unread (413)."""

_HASH = re.compile(r"[0-9a-f]{64}")
_MAX_ANSWER_BYTES = 8192

_STATUS_BY_REASON = {
    "oversized": 413,
    "unsupported_media_type": 415,
    "unknown_signer": 403,
    "bad_signature": 403,
    "unauthorized": 403,
    "kind_not_registered": 403,
    "subject_not_registered": 403,
    "equivocation": 409,
    "lifecycle_conflict": 409,
    "ref_unavailable": 503,
}


def rejection_status(reason: str) -> int:
    """The HTTP status a submission rejected for ``reason`` is answered with.

    413 too large, 415 not a JWS body, 400 malformed, 403 a signer or
    signature the log does not accept, 409 a conflict with what the log
    holds, 503 a referenced log that could not be asked (retry), else 422.
    """
    if reason in _STATUS_BY_REASON:
        return _STATUS_BY_REASON[reason]
    if reason.startswith("malformed") or reason == "value_out_of_range":
        return 400
    return 422


def check_entry_hash(text: str) -> str:
    """``text`` if it is an entry hash (64 lowercase hex digits).

    Raises:
        MalformedWireError: anything else.
    """
    if not _HASH.fullmatch(text):
        raise MalformedWireError(f"entry hash: expected 64 lowercase hex digits, found {text!r}")
    return text


@dataclass(frozen=True, slots=True)
class SubmitReceipt:
    """The log holds entry ``hash`` at ``index``, in block ``block``, under checkpoint ``size``.

    Invariants (MalformedWireError otherwise): ``hash`` 64 lowercase hex
    digits; integers with ``0 <= index``, ``0 <= block < size``.
    """

    hash: str
    index: int
    block: int
    size: int

    def __post_init__(self) -> None:
        check_entry_hash(self.hash)
        numbers = (self.index, self.block, self.size)
        if not all(type(n) is int for n in numbers) or not (
            self.index >= 0 and 0 <= self.block < self.size
        ):
            raise MalformedWireError(
                f"receipt: expected integers 0 <= index, 0 <= block < size, found "
                f"index {self.index!r} block {self.block!r} size {self.size!r}"
            )

    def to_dict(self) -> dict[str, object]:
        """The receipt as the gateway answers it."""
        return {"hash": self.hash, "index": self.index, "block": self.block, "size": self.size}


def answer_json(document: dict[str, object]) -> bytes:
    """One answer document as compact JSON bytes."""
    return json.dumps(document, separators=(",", ":")).encode()


def parse_submit_answer(raw: bytes, expected_hash: str) -> SubmitReceipt | None:
    """A 200/202 answer about entry ``expected_hash``: its receipt, or None while pending.

    Raises:
        MalformedWireError: not such an answer, or one about another entry.
    """
    doc = load_json_object(
        raw, "submit answer", error=MalformedWireError, max_bytes=_MAX_ANSWER_BYTES
    )
    if doc.get("hash") != expected_hash:
        raise MalformedWireError(
            f"submit answer: expected entry {expected_hash}, found {doc.get('hash')!r}"
        )
    members = set(doc)
    if members == {"hash"}:
        return None
    if members != {"hash", "index", "block", "size"}:
        raise MalformedWireError(
            f"submit answer: expected hash, index, block and size, found {sorted(members)}"
        )
    return SubmitReceipt(doc["hash"], doc["index"], doc["block"], doc["size"])
