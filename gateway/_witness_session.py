"""One witness as the gateway sees it: what it has cosigned, and one push at a time.

A push sends the newest checkpoint as a C2SP tlog-witness ``add-checkpoint``
request, from the size the witness last cosigned (as far as the gateway
knows: 0 at first) with the consistency proof to it, and judges the answer::

    200  cosignature lines  → verified with this witness's key only → merged by the caller
    409  text/x.tlog.size   → the witness's real size: resend from it at once (3 times
                              in a row at most, then back off); bigger than this log,
                              or the same size: a refusal
    422  from old == size   → same size, another root (the current C2SP text): a fork
    409  from old == size   → the same, from a v1.0.0 witness (any content type): a fork
    422  from old < size    → the witness saw another history (a bad proof): a refusal
    400, 403, 404, 5xx      → misconfiguration or trouble: back off
    no answer               → unreachable or timed out: back off

A *refusal* is the witness saying that this log's history is not the one it
cosigned: the data directory was rolled back (restored from an older backup)
or forked (rebuilt, edited). Nothing here sleeps, logs or reads the clock:
the caller (:mod:`gateway.witnessing`) acts on the :class:`Attempt`.
"""

from __future__ import annotations

import enum
import http.client
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chain import note
from chain.errors import FarmtraceError, MalformedWitnessMessageError, SignatureError
from chain.tlog_witness import (
    ADD_CHECKPOINT_PATH,
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    merge_cosignatures,
    parse_cosignature_lines,
    parse_size,
)
from chain.witness_policy import Witness
from gateway._witness_http import Reply, WitnessTransport

__all__ = [
    "OUTCOMES",
    "REFUSALS",
    "Attempt",
    "ProofLog",
    "Retry",
    "WitnessSession",
    "backoff_delay",
]

OUTCOMES = (
    "cosigned",
    "size_conflict",
    "refused",
    "forbidden",
    "unknown_log",
    "bad_request",
    "server_error",
    "bad_response",
    "unreachable",
    "timeout",
)
"""Every outcome of a push (the ``outcome`` label of the requests metric)."""

REFUSALS = ("witness_ahead", "root_mismatch", "inconsistent")
"""Why a witness refused this log's history (the ``reason`` label of the refusals metric)."""

_MAX_RESYNCS = 3  # 409s in a row answered at once; then back off


class Retry(enum.Enum):
    """What to do after an attempt: look for work again at once, or back off first."""

    AGAIN = "again"
    BACKOFF = "backoff"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one push: ``size`` sent from ``old_size``.

    ``cosignatures`` holds the witness's verified lines (on ``cosigned``);
    ``refusal`` one of :data:`REFUSALS` (on ``refused``); ``witness_size`` the
    size a 409 named; ``level`` how loudly to log ``message``.
    """

    outcome: str
    size: int
    old_size: int
    retry: Retry
    message: str
    level: int = logging.INFO
    cosignatures: tuple[note.NoteSignature, ...] = ()
    refusal: str | None = None
    witness_size: int | None = None


class ProofLog(Protocol):
    """What a push reads from the log (:class:`chain.store.Store` has it)."""

    @property
    def size(self) -> int: ...

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]: ...


def backoff_delay(failures: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after ``failures`` (>= 1) failures in a row.

    Exponential from ``base``, capped at ``cap``, with jitter: a uniform
    ``rand()`` in [0, 1) scales it into [half, all] of that, so that many
    gateways do not retry in step.
    """
    delay: float = min(cap, base * 2.0 ** min(failures - 1, 32))
    return delay * (0.5 + rand() / 2)


class WitnessSession:
    """Pushes checkpoints of ``log`` to one ``witness`` through ``transport``. One thread only."""

    def __init__(self, witness: Witness, transport: WitnessTransport, log: ProofLog) -> None:
        self.witness = witness
        self.transport = transport
        self.log = log
        self._key = note.parse_verifier_key(witness.vkey)
        self.witness_size = 0
        """The size the witness last cosigned, as far as we know (0 when unknown)."""
        self.cosigned: int | None = None
        """The newest checkpoint size we got this witness's cosignature for."""
        self._resyncs = 0

    @property
    def name(self) -> str:
        """The witness's name."""
        return self.witness.name

    def wants(self, size: int) -> bool:
        """Whether the checkpoint of ``size`` should be pushed (not cosigned by it yet)."""
        return size > 0 and self.cosigned != size

    def push(self, size: int, signed_note: str) -> Attempt:
        """Send the checkpoint ``signed_note`` of tree ``size`` and judge the answer.

        Preconditions: ``signed_note`` is the log's signed checkpoint of
        ``size``, and ``size`` is at most :attr:`ProofLog.size`. Never raises
        for anything the witness does.
        """
        old = self.witness_size if self.witness_size <= size else 0
        proof: Sequence[bytes] = () if old in (0, size) else self.log.consistency_proof(old, size)
        body = AddCheckpointRequest(old, tuple(proof), signed_note).to_bytes()
        try:
            reply = self.transport.post(ADD_CHECKPOINT_PATH, body)
        except TimeoutError as exc:
            return self._failed("timeout", size, old, f"no answer in time ({exc})")
        except (OSError, http.client.HTTPException) as exc:
            return self._failed("unreachable", size, old, f"{type(exc).__name__}: {exc}")
        return self._judge(reply, size, old, signed_note)

    def _failed(
        self, outcome: str, size: int, old: int, message: str, level: int = logging.WARNING
    ) -> Attempt:
        self._resyncs = 0
        return Attempt(outcome, size, old, Retry.BACKOFF, message, level)

    def _judge(self, reply: Reply, size: int, old: int, signed_note: str) -> Attempt:
        status = reply.status
        if status == 200:
            return self._cosigned(reply.body, size, old, signed_note)
        if status == 409:
            return self._conflict(reply, size, old)
        if status == 422 and old == size:
            return self._refused(
                "root_mismatch",
                size,
                old,
                f"answered 422: it cosigned another tree of size {size}: this log's history "
                "at that size is not the one the witness saw (rewritten or edited): a fork",
                size,
            )
        if status == 422:
            return self._refused(
                "inconsistent",
                size,
                old,
                f"answered 422: it rejected the consistency proof from size {old} to {size}: "
                f"the tree it cosigned at size {old} is not this log's. This log's history was "
                "rewritten (a data directory rolled back and grown again, or edited): a fork",
            )
        if status == 403:
            return self._failed(
                "forbidden",
                size,
                old,
                "answered 403: it does not trust this log's key; add the log to the witness "
                "(farmtrace witness add-log --trust trust.json)",
                logging.ERROR,
            )
        if status == 404:
            return self._failed(
                "unknown_log",
                size,
                old,
                "answered 404: it does not know this log's origin (or the url is not its "
                "submission prefix); add the log to the witness, or fix the url",
                logging.ERROR,
            )
        if status == 400:
            text = reply.body[:200].decode("utf-8", "replace")
            return self._failed("bad_request", size, old, f"answered 400: {text}", logging.ERROR)
        if 500 <= status < 600:
            return self._failed("server_error", size, old, f"answered {status}")
        return self._failed("bad_response", size, old, f"answered {status}", logging.ERROR)

    def _cosigned(self, body: bytes, size: int, old: int, signed_note: str) -> Attempt:
        try:
            lines = parse_cosignature_lines(body)
            _, added = merge_cosignatures(signed_note, lines, [self._key])
        except SignatureError as exc:
            return self._failed(
                "bad_response",
                size,
                old,
                f"ALARM: its cosignature on size {size} does not verify under its key ({exc}): "
                "the witness is broken, or someone answers in its name",
                logging.ERROR,
            )
        except FarmtraceError as exc:
            return self._failed("bad_response", size, old, f"bad 200 answer: {exc}", logging.ERROR)
        if not added:
            return self._failed(
                "bad_response",
                size,
                old,
                f"answered 200 without a cosignature by its key {self._key.name}",
                logging.ERROR,
            )
        self.witness_size = self.cosigned = size
        self._resyncs = 0
        ours = tuple(s for s in lines if (s.name, s.key_id) == (self._key.name, self._key.key_id))[
            -1:
        ]
        return Attempt(
            "cosigned", size, old, Retry.AGAIN, f"cosigned size {size}", cosignatures=ours
        )

    def _conflict(self, reply: Reply, size: int, old: int) -> Attempt:
        if reply.content_type != SIZE_CONTENT_TYPE and old == size:
            # tlog-witness v1.0.0 answers a same size, another root with a 409 and no body
            # (the current text: 422). Either way, a fork.
            return self._refused(
                "root_mismatch",
                size,
                old,
                f"answered 409: it cosigned another tree of size {size}: this log's history "
                "at that size is not the one the witness saw (rewritten or edited): a fork",
                size,
            )
        try:
            if reply.content_type != SIZE_CONTENT_TYPE:
                raise MalformedWitnessMessageError(
                    f"409 with content type {reply.content_type!r}, not {SIZE_CONTENT_TYPE}"
                )
            theirs = parse_size(reply.body)
        except MalformedWitnessMessageError as exc:
            return self._failed("bad_response", size, old, str(exc), logging.ERROR)
        self.witness_size = theirs
        if theirs > self.log.size:
            return self._refused(
                "witness_ahead",
                size,
                old,
                f"has cosigned tree size {theirs}, but this log has only {self.log.size} "
                "blocks: this data directory was rolled back (restored from an older "
                "backup?) or another gateway signs with this log's key",
                theirs,
            )
        if theirs == old:
            if old == size:
                return self._refused(
                    "root_mismatch",
                    size,
                    old,
                    f"answered 409: it cosigned another tree of size {size}: this log's history "
                    "at that size is not the one the witness saw (rewritten or edited): a fork",
                    theirs,
                )
            return self._failed(
                "bad_response", size, old, f"409 naming the old size {old} we sent", logging.ERROR
            )
        if theirs > size:  # it cosigned a newer checkpoint: wait for ours to pass it
            return self._failed(
                "size_conflict",
                size,
                old,
                f"has cosigned size {theirs}, newer than checkpoint {size}",
                logging.INFO,
            )
        self._resyncs += 1
        retry = Retry.AGAIN if self._resyncs <= _MAX_RESYNCS else Retry.BACKOFF
        if retry is Retry.BACKOFF:
            self._resyncs = 0
        message = f"has cosigned size {theirs}: resending from there"
        return Attempt("size_conflict", size, old, retry, message, witness_size=theirs)

    def _refused(
        self, reason: str, size: int, old: int, message: str, theirs: int | None = None
    ) -> Attempt:
        self._resyncs = 0
        return Attempt(
            "refused",
            size,
            old,
            Retry.BACKOFF,
            message,
            logging.ERROR,
            refusal=reason,
            witness_size=theirs,
        )
