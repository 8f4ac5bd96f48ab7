"""The ``--mqtt-ca-file``/``--mqtt-cert-file``/``--mqtt-key-file`` options of every MQTT command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from signer.mqtt_tls import tls_context
from signer.mqtt_url import MqttUrl, parse_mqtt_url, with_tls_files

__all__ = ["add_tls_options", "mqtt_url_of", "with_tls_options"]


def add_tls_options(parser: Any, *, dests: tuple[str, str, str] | None = None) -> None:
    """Add the TLS options for an ``mqtts://`` URL (``dests``: their attribute names)."""
    ca, cert, key = dests or ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
    parser.add_argument(
        "--mqtt-ca-file",
        dest=ca,
        type=Path,
        metavar="PEM",
        help="with mqtts://: the CA that signed the broker's certificate "
        "(default: the system's trust store)",
    )
    parser.add_argument(
        "--mqtt-cert-file",
        dest=cert,
        type=Path,
        metavar="PEM",
        help="with mqtts://: a client certificate, for a broker that requires one",
    )
    parser.add_argument(
        "--mqtt-key-file",
        dest=key,
        type=Path,
        metavar="PEM",
        help="with mqtts://: the client certificate's key (default: in --mqtt-cert-file)",
    )


def with_tls_options(url: MqttUrl, args: argparse.Namespace) -> MqttUrl:
    """``url`` with the TLS files given as options (see :func:`add_tls_options`), checked.

    Raises:
        ValueError: a TLS file for an ``mqtt://`` URL (see :func:`signer.mqtt_url.with_tls_files`),
            or one that cannot be used (:func:`signer.mqtt_tls.tls_context`).
    """
    url = with_tls_files(url, args.mqtt_ca_file, args.mqtt_cert_file, args.mqtt_key_file)
    if url.tls:
        tls_context(url)  # fail now, before anything is signed
    return url


def mqtt_url_of(args: argparse.Namespace) -> MqttUrl:
    """``--mqtt`` parsed, with the TLS options.

    Raises:
        ValueError: a malformed URL, or as :func:`with_tls_options`.
    """
    return with_tls_options(parse_mqtt_url(args.mqtt), args)
