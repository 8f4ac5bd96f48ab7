"""The genesis trust root: what an auditor must know before reading a log.

A log proves nothing on its own: whoever holds the data directory could have
made it up. An auditor pins, out of band, three things: the log's origin, its
checkpoint verifier key (C2SP signed-note verifier key string), and the
genesis administrators' Ed25519 public keys, from which every other signer's
authority descends through registration entries in the log itself.

Serialised as a small JSON document (``trust.json``)::

    {"origin": "farm.example/log", "log_key": "farm.example/log+1a2b3c4d+AX...",
     "admins": {"admin": "<base64url raw public key>"}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from chain._encoding import b64url_decode, b64url_encode
from chain.errors import MalformedError

__all__ = ["TrustRoot"]


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """The pinned facts an auditor starts from.

    ``admins`` maps a genesis operator id to its raw 32-byte Ed25519 key;
    those operators hold the ``admin`` role from the start of time.
    """

    origin: str
    log_key: str
    admins: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.origin or any(c.isspace() for c in self.origin):
            raise MalformedError("trust root origin must be non-empty without white space")
        if self.log_key.split("+", 1)[0] != self.origin:
            raise MalformedError(
                f"trust root log key is named {self.log_key.split('+', 1)[0]!r}, "
                f"expected the origin {self.origin!r}"
            )
        if not self.admins:
            raise MalformedError("trust root names no genesis administrator")
        for admin_id, key in self.admins:
            if len(key) != 32:
                raise MalformedError(f"admin {admin_id!r}: key must be 32 bytes, found {len(key)}")

    @property
    def admin_keys(self) -> Mapping[str, bytes]:
        """Genesis administrators by operator id."""
        return dict(self.admins)

    def to_json(self) -> str:
        """Serialise as indented JSON (a file meant to be read by people too)."""
        return (
            json.dumps(
                {
                    "origin": self.origin,
                    "log_key": self.log_key,
                    "admins": {k: b64url_encode(v) for k, v in self.admins},
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> TrustRoot:
        """Parse a trust root document.

        Raises:
            MalformedError: not JSON, missing members, or bad keys.
        """
        try:
            obj = json.loads(text)
            admins = tuple(sorted((str(k), b64url_decode(v)) for k, v in obj["admins"].items()))
            return cls(origin=obj["origin"], log_key=obj["log_key"], admins=admins)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedError(f"not a farmtrace trust root document: {exc}") from exc
