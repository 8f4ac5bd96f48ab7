"""What ``farmtrace operator``, ``event`` and ``device register`` share: signer options, messages.

The signing itself is :mod:`signer.registration` (registrations) and
:mod:`signer.operator_events` with :mod:`signer.log_checks` (events).
"""

from __future__ import annotations

import argparse
import re
import time
import urllib.error
from datetime import datetime
from pathlib import Path

from chain.errors import FarmtraceError
from farmtrace._mqtt_tls_args import add_tls_options

__all__ = ["DEFAULT_CHECK_URL", "add_signer_options", "error_text", "now_ms", "parse_ts"]

DEFAULT_CHECK_URL = "http://127.0.0.1:8080"
"""Where ``farmtrace event`` reads the log by default: the gateway's read API on this machine."""


def add_signer_options(parser: argparse.ArgumentParser, who: str) -> None:
    """Add ``--key --state-dir --mqtt (and its TLS files) --farm --ts --timeout``.

    Who signs, and how it is sent.
    """
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
        "--mqtt",
        required=True,
        help="the farm's broker: mqtt[s]://USER:PASSWORD@HOST[:PORT] (mqtts: TLS)",
    )
    add_tls_options(group)
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


def error_text(exc: BaseException) -> str:
    """An exception as one line for people (OSError's file name included)."""
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(exc, TimeoutError):
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, FarmtraceError | urllib.error.URLError):
        return str(exc)
    return str(exc) or type(exc).__name__
