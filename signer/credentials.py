"""Broker passwords from files, never from process arguments.

Anyone on a machine can read every process's arguments (``ps``,
``/proc/<pid>/cmdline``), so a long-running service takes its MQTT password
from a file: ``--mqtt-password-file FILE``, or the credential
``mqtt-password`` that systemd hands it (``LoadCredential=mqtt-password:FILE``
puts a copy, readable by the service alone, in ``$CREDENTIALS_DIRECTORY``).
A password inside the ``mqtt://`` URL still works, for development only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from signer.mqtt_url import MqttUrl, parse_mqtt_url

__all__ = ["CREDENTIAL_NAME", "broker_url_text", "mqtt_url_with_secret", "read_secret"]

CREDENTIAL_NAME = "mqtt-password"
"""The systemd credential (``LoadCredential=``) that holds the MQTT password."""

_MAX_SECRET = 4096


def read_secret(path: Path) -> str:
    """The secret in ``path``: its first line, without the line break.

    Raises:
        ValueError: the file is empty, too large, not UTF-8, or holds more than one line.
        OSError: the file cannot be read.
    """
    data = path.read_bytes()[: _MAX_SECRET + 1]
    if len(data) > _MAX_SECRET:
        raise ValueError(f"{path}: expected a password of at most {_MAX_SECRET} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: expected UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    secret = lines[0].rstrip("\r") if lines else ""
    if len(lines) != 1 or not secret:
        raise ValueError(f"{path}: expected one line holding the password, found {len(lines)}")
    return secret


def mqtt_url_with_secret(
    url: str, password_file: Path | None, environ: Mapping[str, str] | None = None
) -> MqttUrl:
    """Parse ``url`` and add the password from ``password_file``, else from systemd's credential.

    The credential is ``$CREDENTIALS_DIRECTORY/mqtt-password``, used only when it
    exists and no ``password_file`` is given. ``environ`` defaults to ``os.environ``.

    Raises:
        ValueError: a malformed URL, a URL that holds a password as well as a password
            file, a password without a user name, or an unreadable secret (see
            :func:`read_secret`; an :class:`OSError` is reported as ``ValueError``).
    """
    parsed = parse_mqtt_url(url)
    env = os.environ if environ is None else environ
    source = password_file
    if source is None and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
        source = candidate if candidate.exists() else None
    if source is None:
        return parsed
    if parsed.password is not None:
        raise ValueError(f"MQTT URL {parsed}: holds a password, and {source} gives another")
    if parsed.username is None:
        raise ValueError(f"MQTT URL {parsed}: a password from {source} needs a user name")
    try:
        secret = read_secret(source)
    except OSError as exc:
        raise ValueError(f"MQTT password: {exc}") from exc
    return replace(parsed, password=secret)


def broker_url_text(url: MqttUrl) -> str:
    """``url`` as ``mqtt[s]://user:password@host:port`` text, percent-encoded (in memory only).

    Its TLS files are not in the text: give them apart (:func:`signer.mqtt_url.with_tls_files`).
    """
    host = f"[{url.host}]" if ":" in url.host else url.host
    login = ""
    if url.username is not None:
        login = quote(url.username, safe="")
        if url.password is not None:
            login += ":" + quote(url.password, safe="")
        login += "@"
    return f"{url.scheme}://{login}{host}:{url.port}"
