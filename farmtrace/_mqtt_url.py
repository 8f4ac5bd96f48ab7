"""``mqtt://[user[:password]@]host[:port]`` URLs, as every subcommand takes them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["BrokerUrl", "parse_mqtt_url"]


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A parsed broker URL."""

    host: str
    port: int
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> BrokerUrl:
    """Parse ``url``. Raises ValueError naming what is wrong (scheme, host or port)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"broker URL must start with mqtt://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"broker URL has no host: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL must be mqtt://[user[:password]@]host[:port], got {url!r}")
    port = parts.port or 1883  # .port raises ValueError for a bad port
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
    )
