"""The broker address a device or bridge is given: ``mqtt://[user[:password]@]host[:port]``.

User and password are percent-decoded (``%40`` for ``@``, ``%3A`` for ``:``);
an IPv6 host goes in brackets (``mqtt://[::1]:1883``). The port defaults to
1883. Nothing else (path, query, fragment, another scheme) is accepted, so
that a typo fails loudly instead of connecting somewhere unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_PORT", "MqttUrl", "parse_mqtt_url"]

DEFAULT_PORT = 1883
"""The IANA port of MQTT without TLS."""


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """Where a broker is and whom to log in as (``username``/``password`` None when absent)."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """The URL with the password hidden, fit for logs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = "" if self.username is None else self.username
        if self.password is not None:
            user += ":***"
        return f"mqtt://{user + '@' if user else ''}{host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse ``mqtt://[user[:password]@]host[:port]``.

    Raises:
        ValueError: anything else, with a message naming what is wrong.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    if parts.scheme != "mqtt":
        raise ValueError(f"MQTT URL {url!r}: expected the scheme mqtt://, found {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r}: expected a host, found none")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"MQTT URL {url!r}: expected no path, query or fragment")
    if port == 0:
        raise ValueError(f"MQTT URL {url!r}: expected a port in 1..65535, found 0")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if username == "":
        raise ValueError(f"MQTT URL {url!r}: expected a user name before '@', found none")
    return MqttUrl(parts.hostname, DEFAULT_PORT if port is None else port, username, password)
