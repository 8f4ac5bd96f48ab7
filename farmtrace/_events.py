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
from farmtrace._mqtt_tls_args import add_tls_options, mqtt_url_of
from signer.http_submit import SubmitUrl, parse_submit_url
from signer.mqtt_url import MqttUrl

__all__ = [
    "DEFAULT_CHECK_URL",
    "add_signer_options",
    "error_text",
    "now_ms",
    "parse_ts",
    "sending_route",
]

DEFAULT_CHECK_URL = "http://127.0.0.1:8080"
"""Where ``farmtrace event`` reads the log by default: the gateway's read API on this machine."""


def add_signer_options(parser: argparse.ArgumentParser, who: str, *, submit: bool = False) -> None:
    """Add ``--key --state-dir --mqtt (and its TLS files) --farm --ts --timeout``.

    Who signs, and how it is sent. ``submit``: ``--submit-url`` too, instead
    of ``--mqtt`` and ``--farm`` (a gateway taking entries over HTTP; read
    them with :func:`sending_route`).
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
    way = group.add_mutually_exclusive_group(required=True) if submit else group
    way.add_argument(
        "--mqtt",
        required=not submit,
        help="the farm's broker: mqtt[s]://USER:PASSWORD@HOST[:PORT] (mqtts: TLS)",
    )
    if submit:
        way.add_argument(
            "--submit-url",
            metavar="URL",
            help="instead of --mqtt and --farm: the gateway of a log fed over HTTP (an "
            "operator-only log, or a farm's gateway run with --http-submit), e.g. "
            "http://plant.local:8083",
        )
    add_tls_options(group)
    group.add_argument(
        "--farm",
        required=not submit,
        help="the farm id (the MQTT topic level)" + ("; with --mqtt" if submit else ""),
    )
    group.add_argument(
        "--ts",
        type=parse_ts,
        help="when it happened: 2026-11-24T08:00:00Z, or ms since the epoch (default: now)",
    )
    group.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the receipt (30)"
    )


def sending_route(args: argparse.Namespace) -> tuple[MqttUrl | SubmitUrl, str]:
    """Where the entry goes: ``(--mqtt URL with its TLS files, --farm)`` or ``(--submit-url, "")``.

    Raises:
        ValueError: a malformed URL, --mqtt without --farm, TLS files or
            --farm with --submit-url.
    """
    submit = getattr(args, "submit_url", None)
    if submit is None:
        if not args.farm:
            raise ValueError("--farm is required with --mqtt")
        return mqtt_url_of(args), args.farm
    if args.farm or args.mqtt_ca_file or args.mqtt_cert_file or args.mqtt_key_file:
        raise ValueError("--farm and the --mqtt-* TLS options go with --mqtt, not --submit-url")
    return parse_submit_url(submit), ""


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
