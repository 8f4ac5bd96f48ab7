"""Cross-checking a log against what its witnesses remember cosigning.

Each witness that cosigns a log keeps the latest checkpoint it cosigned and
serves it (C2SP tlog-witness's ``GET <url>/<origin hash>/checkpoint``, or
farmtrace's older ``GET <url>/latest-checkpoint?origin=<origin>``, asked when
the first answers 404: the log's signed note plus the witness's cosignature
line; 404 when it knows nothing of the log). A log that was rolled back
(restored from a backup) or forked (history rewritten and re-signed with its
own key) cannot make that checkpoint disappear: the witness's size is then
beyond what the log holds, or the log's history at that size has another root.

Fetching runs in parallel (one thread per witness, each bounded by the
timeout); comparing is :class:`~verify._history.HistoryProbe`'s job.
"""

from __future__ import annotations

import datetime
import http.client
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chain.checkpoint import Checkpoint, open_checkpoint, verify_cosignatures
from chain.errors import FarmtraceError, ForkError, MalformedError, RollbackError, SourceError
from chain.json_input import load_json_object
from chain.tlog_witness import LATEST_CHECKPOINT_PATH, latest_checkpoint_urls
from chain.witness_policy import Witness, WitnessPolicy
from readapi.client import Transport
from verify._history import HistoryProbe

__all__ = ["LATEST_CHECKPOINT_PATH", "WitnessCheck", "cross_check", "utc"]


_MAX_NOTE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class WitnessCheck:
    """One witness's cross-check.

    ``outcome`` is ``"consistent"`` (the log holds the history the witness
    cosigned), ``"rollback"`` or ``"fork"`` (it does not: a failure),
    ``"unchecked"`` (the witness could not be asked or its answer not
    verified: a warning) or ``"no_url"`` (nothing to ask).
    ``size``, ``root`` (hex) and ``cosigned_at`` (POSIX seconds) describe the
    checkpoint the witness served, when it was verified.
    """

    name: str
    url: str | None
    outcome: str
    message: str
    size: int | None = None
    root: str | None = None
    cosigned_at: int | None = None

    @property
    def checked(self) -> bool:
        """True when the witness's checkpoint was verified and compared."""
        return self.outcome in ("consistent", "rollback", "fork")

    @property
    def failed(self) -> bool:
        """True when the comparison shows the log does not hold what the witness cosigned."""
        return self.outcome in ("rollback", "fork")


@dataclass(frozen=True, slots=True)
class _Latest:
    checkpoint: Checkpoint
    cosigned_at: int


class _Unchecked(Exception):
    """Why a witness's latest checkpoint could not be obtained or verified."""


def utc(seconds: int) -> str:
    """POSIX seconds as ISO 8601 UTC, e.g. ``2026-01-01T00:00:00Z``."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fetch_latest(
    witness: Witness, origin: str, log_key: str, transport: Transport, timeout: float
) -> tuple[Checkpoint, int] | None:
    """The witness's latest cosigned checkpoint of ``origin`` and its cosigning time.

    Returns None when the witness answers 404 at both paths (it never cosigned this log).

    Raises:
        _Unchecked: no answer, an error status, or an answer that is not a
            checkpoint signed by ``log_key`` and cosigned by ``witness``.
    """
    assert witness.url is not None
    for url in latest_checkpoint_urls(witness.url, origin):
        try:
            status, _headers, body = transport("GET", url, timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise _Unchecked(f"{url}: unreachable: {str(exc) or type(exc).__name__}") from exc
        if status != 404:
            break
    else:
        return None
    if status != 200:
        raise _Unchecked(f"{url}: HTTP {status}: {_error_text(body)}")
    if len(body) > _MAX_NOTE_BYTES:
        raise _Unchecked(f"{url}: answer longer than {_MAX_NOTE_BYTES} bytes")
    try:
        note = body.decode("utf-8")
        checkpoint = open_checkpoint(note, log_key)
        cosigners = verify_cosignatures(note, [witness.vkey])
    except (UnicodeDecodeError, FarmtraceError) as exc:
        raise _Unchecked(f"{url}: not a checkpoint of this log it cosigned: {exc}") from exc
    if witness.name not in cosigners:
        raise _Unchecked(f"{url}: the checkpoint served carries no cosignature by this witness")
    return checkpoint, cosigners[witness.name]


def cross_check(
    policy: WitnessPolicy,
    origin: str,
    log_key: str,
    probe: HistoryProbe,
    transport: Transport,
    timeout: float,
) -> list[WitnessCheck]:
    """Cross-check every witness of ``policy`` against the log, in policy order."""
    asked = [w for w in policy.witnesses if w.url is not None]
    with ThreadPoolExecutor(max(1, len(asked)), thread_name_prefix="witness") as pool:
        answers = {
            w.name: pool.submit(_fetch_latest, w, origin, log_key, transport, timeout)
            for w in asked
        }
    checks = []
    for witness in policy.witnesses:
        future = answers.get(witness.name)
        if future is None:
            checks.append(
                WitnessCheck(witness.name, None, "no_url", "no url in the policy: not asked")
            )
            continue
        try:
            latest = future.result()
        except _Unchecked as exc:
            checks.append(WitnessCheck(witness.name, witness.url, "unchecked", str(exc)))
            continue
        if latest is None:
            checks.append(
                WitnessCheck(
                    witness.name,
                    witness.url,
                    "unchecked",
                    "it knows no checkpoint of this log (404)",
                )
            )
            continue
        checks.append(_compare(witness, *latest, probe))
    return checks


def _compare(witness: Witness, theirs: Checkpoint, at: int, probe: HistoryProbe) -> WitnessCheck:
    served = probe.served
    said = f"cosigned size {theirs.size:,} at {utc(at)}"

    def result(outcome: str, message: str) -> WitnessCheck:
        return WitnessCheck(
            witness.name, witness.url, outcome, message, theirs.size, theirs.root_hash.hex(), at
        )

    try:
        how = probe.check(theirs.size, theirs.root_hash)
    except RollbackError as exc:
        return result(
            "rollback",
            f"witness {witness.name} {said}; the log now serves only {served.size:,} "
            f"({exc}): the log was rolled back or forked",
        )
    except ForkError as exc:
        return result(
            "fork",
            f"witness {witness.name} {said}; {exc}: the log's history was forked (rewritten)",
        )
    except SourceError as exc:
        return result("unchecked", f"{said}, but the log could not be asked: {exc}")
    return result("consistent", f"{said}: {how}")


def _error_text(body: bytes) -> str:
    try:
        error = load_json_object(body, "error body", max_bytes=65536)["error"]
    except (MalformedError, KeyError):
        return repr(body[:200])
    return str(error)[:200]
