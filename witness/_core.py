"""The witness's decision on an ``add-checkpoint`` request: cosign, or refuse and say why.

Pure: no I/O, no clock (the time comes in as ``now``). The checks follow
C2SP tlog-witness in its order (the current text: docs/witnesses.md lists
what changed since v1.0.0)::

    unknown origin                                   404
    no signature by a key trusted for the origin,
      or a trusted key's signature line that fails   403
    old size > checkpoint size                       400
    old size != latest cosigned size (0 if none)     409, body "<latest size>\\n"
    checkpoint of size 0 without the empty root     422 (evidence)
    old size == checkpoint size, another root        422 (a fork: evidence; v1.0.0 said 409)
    consistency proof does not verify                422 (a lying log: evidence)

A malformed body (400) never reaches this module: it fails in
:meth:`chain.tlog_witness.AddCheckpointRequest.from_bytes`. Every refusal is a
:class:`Refusal` carrying its HTTP status and a metrics ``outcome``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chain import note
from chain.checkpoint import cosign
from chain.errors import FarmtraceError, ProofError, SignatureError
from chain.merkle import EMPTY_ROOT, verify_consistency
from chain.tlog_witness import AddCheckpointRequest

__all__ = ["Cosigned", "LogState", "Refusal", "decide"]


class Refusal(FarmtraceError):
    """The witness will not cosign: ``status`` is the HTTP status, ``reason`` the metrics outcome.

    ``latest_size`` is set on a 409 for a stale old size (the answer's body);
    ``evidence`` is True when the request is a log-signed checkpoint that
    contradicts what the witness cosigned (a fork) or comes with a bad proof:
    worth keeping, as it may prove the log misbehaved.
    """

    reason = "refused"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str,
        latest_size: int | None = None,
        evidence: bool = False,
    ) -> None:
        super().__init__(message, reason=reason)
        self.status = status
        self.latest_size = latest_size
        self.evidence = evidence


@dataclass(frozen=True, slots=True)
class LogState:
    """What the witness last cosigned for one log.

    ``note`` is the checkpoint with the log's signature line(s) that verified,
    exactly as received, and this witness's cosignature line; ``received``
    is the whole note as the client sent it (other witnesses' lines included);
    ``cosigned_at`` is the cosignature's time in POSIX seconds.
    """

    origin: str
    size: int
    root: bytes
    note: str
    received: str
    cosigned_at: int

    def to_json(self) -> dict[str, object]:
        """The state as a JSON-ready mapping (the root in standard base64)."""
        return {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "note": self.note,
            "received": self.received,
            "cosigned_at": self.cosigned_at,
        }


@dataclass(frozen=True, slots=True)
class Cosigned:
    """An accepted request: the ``state`` to persist and the cosignature ``line`` to answer."""

    state: LogState
    line: str


def decide(
    request: AddCheckpointRequest,
    logs: Mapping[str, Sequence[note.VerifierKey]],
    latest: LogState | None,
    cosigner_key: note.SignerKey,
    now: int,
) -> Cosigned:
    """Check ``request`` against the trusted ``logs`` and the ``latest`` cosigned state.

    ``logs`` maps each origin to the log keys trusted for it; ``latest`` is
    the state for the request's origin (None if never cosigned). The
    cosignature is timestamped ``max(now, latest.cosigned_at)`` so that a
    clock stepping back never makes a bigger tree look older. The caller must
    hold the origin's lock from reading ``latest`` until the result is stored.

    Raises:
        Refusal: with status 404, 403, 400, 409 or 422 as the module explains.
    """
    checkpoint = request.checkpoint
    origin = checkpoint.origin
    keys = logs.get(origin)
    if keys is None:
        raise Refusal(f"unknown log origin {origin!r}", status=404, reason="unknown_log")
    log_lines, failed = _log_signatures(request.note, keys)
    if failed:
        raise Refusal(
            f"checkpoint of {origin!r}: the signature line of trusted key {failed!r} "
            "does not verify (a malformed note)",
            status=403,
            reason="bad_signature",
        )
    if not log_lines:
        raise Refusal(
            f"checkpoint of {origin!r}: expected a valid signature by a key trusted for "
            "the origin, found none",
            status=403,
            reason="bad_signature",
        )
    old = request.old_size
    if old > checkpoint.size:
        raise Refusal(
            f"old size {old} is bigger than the checkpoint's size {checkpoint.size}",
            status=400,
            reason="bad_old_size",
        )
    latest_size, latest_root = (0, EMPTY_ROOT) if latest is None else (latest.size, latest.root)
    if old != latest_size:
        raise Refusal(
            f"old size {old} is not the latest size this witness cosigned for {origin!r} "
            f"({latest_size})",
            status=409,
            reason="conflict",
            latest_size=latest_size,
            evidence=checkpoint.size == latest_size and checkpoint.root_hash != latest_root,
        )
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise Refusal(
            f"checkpoint of {origin!r} at size 0 has root {_b64(checkpoint.root_hash)}, "
            f"not the empty tree's {_b64(EMPTY_ROOT)}",
            status=422,
            reason="bad_empty_root",
            evidence=True,
        )
    if old == checkpoint.size and checkpoint.root_hash != latest_root:
        raise Refusal(
            f"checkpoint of {origin!r} at size {old} has root {_b64(checkpoint.root_hash)}, "
            f"but this witness cosigned root {_b64(latest_root)} for that size (a fork)",
            status=422,
            reason="fork",
            evidence=True,
        )
    try:
        verify_consistency(old, checkpoint.size, request.proof, latest_root, checkpoint.root_hash)
    except ProofError as exc:
        raise Refusal(
            f"consistency proof of {origin!r} from size {old} (root {_b64(latest_root)}) to "
            f"size {checkpoint.size} (root {_b64(checkpoint.root_hash)}) does not verify: {exc}",
            status=422,
            reason="bad_proof",
            evidence=True,
        ) from exc
    # Never 0 (the spec forbids a zero timestamp), never before the last one.
    timestamp = max(now, 1) if latest is None else max(now, 1, latest.cosigned_at)
    line = cosign(checkpoint.to_text(), cosigner_key, timestamp)
    served = note.Note(
        note.parse(request.note).text, (*log_lines, note.parse_signature_line(line))
    ).to_text()
    state = LogState(origin, checkpoint.size, checkpoint.root_hash, served, request.note, timestamp)
    return Cosigned(state, line)


def _log_signatures(
    signed_note: str, keys: Sequence[note.VerifierKey]
) -> tuple[tuple[note.NoteSignature, ...], str | None]:
    """The note's signature lines by ``keys`` that verify (one per key; unknown keys ignored).

    Second: the name of a trusted key whose line (same name and key ID) does
    not verify, or None: such a note is malformed (c2sp.org/signed-note).
    """
    parsed = note.parse(signed_note)
    wanted = {(k.name, k.key_id): k for k in keys}
    found: dict[tuple[str, int], note.NoteSignature] = {}
    for sig in parsed.signatures:
        ident = (sig.name, sig.key_id)
        key = wanted.get(ident)
        if key is None:
            continue
        try:
            key.verify(parsed.text, sig.signature)
        except SignatureError:
            return tuple(found.values()), sig.name
        found.setdefault(ident, sig)
    return tuple(found.values()), None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
