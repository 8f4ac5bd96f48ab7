"""The broker address a device or bridge is given: ``mqtt[s]://[user[:password]@]host[:port]``.

``mqtts://`` is MQTT over TLS: the broker's certificate is checked against a
CA file (:func:`with_tls_files`, e.g. ``--mqtt-ca-file`` or ``ca_file`` in
device.toml) or, without one, the system's trust store, and must name the
URL's host (:mod:`signer.mqtt_tls`). User and password are percent-decoded
(``%40`` for ``@``, ``%3A`` for ``:``); an IPv6 host goes in brackets
(``mqtt://[::1]:1883``). The port defaults to 1883 (``mqtt``) or 8883
(``mqtts``). Nothing else (path, query, fragment, another scheme) is
accepted, so that a typo fails loudly instead of connecting somewhere unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_PORT", "DEFAULT_TLS_PORT", "MqttUrl", "parse_mqtt_url", "with_tls_files"]

DEFAULT_PORT = 1883
"""The IANA port of MQTT without TLS."""

DEFAULT_TLS_PORT = 8883
"""The IANA port of MQTT over TLS."""

_SCHEMES = {"mqtt": False, "mqtts": True}


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """Where a broker is and whom to log in as (``username``/``password`` None when absent).

    With ``tls``, ``ca_file`` is the PEM file of the CA(s) to trust (None:
    the system's trust store) and ``cert_file``/``key_file`` a client
    certificate and its key (None: none; the key may be in ``cert_file``).

    Raises (constructor):
        ValueError: a TLS file without ``tls``, or a key file without a certificate file.
    """

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        files = (self.ca_file, self.cert_file, self.key_file)
        if not self.tls and any(f is not None for f in files):
            raise ValueError(
                f"MQTT URL {self}: expected mqtts:// with a CA or certificate file, "
                "found mqtt:// (plain, no TLS)"
            )
        if self.key_file is not None and self.cert_file is None:
            raise ValueError(f"MQTT URL {self}: a client key file needs a certificate file")

    @property
    def scheme(self) -> str:
        """``mqtts`` with TLS, else ``mqtt``."""
        return "mqtts" if self.tls else "mqtt"

    def __str__(self) -> str:
        """The URL with the password hidden, fit for logs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = "" if self.username is None else self.username
        if self.password is not None:
            user += ":***"
        return f"{self.scheme}://{user + '@' if user else ''}{host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse ``mqtt[s]://[user[:password]@]host[:port]``.

    Raises:
        ValueError: anything else, with a message naming what is wrong.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"MQTT URL {url!r}: expected the scheme mqtt:// or mqtts://, found {parts.scheme!r}"
        )
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
    tls = _SCHEMES[parts.scheme]
    if port is None:
        port = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    return MqttUrl(parts.hostname, port, username, password, tls=tls)


def with_tls_files(
    url: MqttUrl,
    ca_file: Path | str | None = None,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
) -> MqttUrl:
    """``url`` with each TLS file that is not None (a command line's or a config's).

    Raises:
        ValueError: a file is given for a plain ``mqtt://`` URL, or a key file
            without a certificate file.
    """
    files = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    given = [name for name, value in files.items() if value is not None]
    if given and not url.tls:
        raise ValueError(
            f"MQTT URL {url}: {', '.join(given)} given, but the URL is mqtt:// (no TLS): "
            "use mqtts://"
        )

    def path(name: str, old: Path | None) -> Path | None:
        value = files[name]
        return old if value is None else Path(value)

    return replace(
        url,
        ca_file=path("ca_file", url.ca_file),
        cert_file=path("cert_file", url.cert_file),
        key_file=path("key_file", url.key_file),
    )
