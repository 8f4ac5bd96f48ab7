"""What ``farmtrace operator`` and ``farmtrace event`` share: signer options, times, the log's view.

Both commands sign one entry as an operator (the admin registering an
operator, an operator recording an event) with the signer's key and seq
state directory (:func:`signer.transport.operator_identity`), publish
it over MQTT and wait for the gateway's receipt
(:func:`signer.transport.publish_and_wait`). An event goes the way the
operators' web form sends it too: :mod:`signer.operator_events`.

Before signing, ``farmtrace event`` asks the log (a gateway's or a
replica's read API) whether the operator may sign the event
(:func:`operator_grant`) and whether the event fits the lifecycle the log
records; when no receipt comes, :func:`rejections` tells whether the
gateway counted a rejection meanwhile.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from chain.errors import FarmtraceError, SourceError, UnknownSignerError
from chain.registry import Grant
from chain.wire import Receipt
from readapi.client import ReadApiClient
from signer.operator_events import operator_grant as replay_grants

__all__ = [
    "DEFAULT_CHECK_URL",
    "add_signer_options",
    "error_text",
    "fail",
    "now_ms",
    "operator_grant",
    "parse_ts",
    "print_receipt",
    "rejections",
    "rejections_text",
]

DEFAULT_CHECK_URL = "http://127.0.0.1:8080"
"""Where ``farmtrace event`` reads the log by default: the gateway's read API on this machine."""

_REJECTED = re.compile(r'^farmtrace_entries_rejected_total\{reason="([^"]+)"\} (\S+)$', re.M)


def add_signer_options(parser: argparse.ArgumentParser, who: str) -> None:
    """Add ``--key --state-dir --mqtt --farm --ts --timeout``: who signs, and how it is sent."""
    group = parser.add_argument_group(f"signing as {who}, and sending")
    group.add_argument(
        "--key", type=Path, required=True, help=f"{who}'s key file (farmtrace keygen --id ...)"
    )
    group.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help=f"{who}'s seq state directory (created on first use; always sign from the same one)",
    )
    group.add_argument(
        "--mqtt", required=True, help="the farm's broker: mqtt://USER:PASSWORD@HOST[:PORT]"
    )
    group.add_argument("--farm", required=True, help="the farm id (the MQTT topic level)")
    group.add_argument(
        "--ts",
        type=parse_ts,
        help="when it happened: 2026-11-24T08:00:00Z, or ms since the epoch (default: now)",
    )
    group.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the receipt (30)"
    )


def parse_ts(text: str) -> int:
    """Milliseconds since the epoch from ISO 8601 with a time zone, or from an integer.

    Raises:
        argparse.ArgumentTypeError: anything else (argparse reports it and exits 2).
    """
    if re.fullmatch(r"[0-9]{1,16}", text):
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"expected a time with its zone, e.g. 2026-11-24T08:00:00Z, or ms since the "
            f"epoch; found {text!r}"
        )
    return int(when.timestamp() * 1000)


def now_ms() -> int:
    """The current time in ms since the epoch."""
    return time.time_ns() // 1_000_000


def operator_grant(client: ReadApiClient, operator: str, ts: int, public_key: bytes) -> Grant:
    """The grant under which ``operator`` may sign at ``ts``, as the log at ``client`` stands.

    Its registrations and revocations are read through the read API and
    replayed by :func:`signer.operator_events.operator_grant`.

    Raises:
        UnknownSignerError: the log never registered ``operator``.
        AuthorizationError: not registered yet at ``ts``, revoked by then, a
            device rather than an operator, or registered with another key
            than ``public_key``.
        SourceError: the read API could not answer.
        MalformedEntryError: it served an entry that does not parse.
    """
    try:
        grants = client.signer(operator)["grants"]
    except SourceError as exc:
        if exc.status == 404:
            raise UnknownSignerError(
                f"{operator!r} is not registered in the log at {client.base_url}: the farm's "
                "admin registers it with farmtrace operator register"
            ) from exc
        raise
    return replay_grants(
        operator, grants, lambda index: client.entry_proof(index).entry, ts, public_key
    )


def rejections(base_url: str | None, timeout: float = 5.0) -> dict[str, float] | None:
    """The gateway's rejection counters by reason (``/metrics``), or None if it has none."""
    if base_url is None:
        return None
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=timeout) as r:
            text = r.read(1024 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    if "# TYPE farmtrace_entries_rejected" not in text:
        return None  # not a farmtrace gateway (a site, or something else)
    return {reason: float(value) for reason, value in _REJECTED.findall(text)}


def rejections_text(before: dict[str, float] | None, after: dict[str, float] | None) -> str:
    """What the gateway rejected between two :func:`rejections` snapshots, as a sentence."""
    if before is None or after is None:
        return (
            "The gateway counts what it rejects by reason in its /metrics "
            "(farmtrace_entries_rejected_total)."
        )
    grown = {r: n - before.get(r, 0.0) for r, n in after.items() if n > before.get(r, 0.0)}
    if not grown:
        return "The gateway's /metrics counted no rejection meanwhile: it may be down or busy."
    counted = ", ".join(f"{reason} (+{n:.0f})" for reason, n in sorted(grown.items()))
    return (
        f"The gateway's /metrics counted rejections meanwhile (maybe not only this one): {counted}."
    )


def print_receipt(receipt: Receipt, seq: int, signer: str) -> None:
    """Report a receipt covering ``seq`` on stdout."""
    if receipt.seq >= seq:
        print(f"committed: receipt up to seq {receipt.seq}, block height {receipt.block}")
    else:
        print(f"committed (past a gap in {signer}'s seqs; receipt up to seq {receipt.seq})")


def fail(command: str, message: str, code: int) -> int:
    """Print ``farmtrace COMMAND: message`` on stderr; return ``code``."""
    print(f"farmtrace {command}: {message}", file=sys.stderr)
    return code


def error_text(exc: BaseException) -> str:
    """An exception as one line for people (OSError's file name included)."""
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(exc, TimeoutError):
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, FarmtraceError | urllib.error.URLError):
        return str(exc)
    return str(exc) or type(exc).__name__
