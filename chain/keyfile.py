"""Ed25519 signer key files for devices and operators.

A key file is a small JSON document, readable only by its owner (mode 0600)::

    {"id": "barn1-temp", "alg": "Ed25519",
     "seed": "<base64url 32-byte private seed>", "pubkey": "<base64url 32-byte public key>"}

The public key is stored too so that it can be handed to a registrar without
the private part; on load it is checked against the seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.signing

from chain import jws
from chain._encoding import b64url_decode, b64url_encode
from chain.errors import MalformedError

__all__ = ["SignerKey", "load_key", "save_key", "save_log_key"]


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A signer's id with its Ed25519 private seed and public key (both 32 bytes)."""

    id: str
    seed: bytes
    public_key: bytes

    @classmethod
    def generate(cls, signer_id: str, *, seed: bytes | None = None) -> SignerKey:
        """A new key for ``signer_id`` (random unless ``seed`` is given).

        Raises:
            MalformedError: the id is not a valid signer id, or the seed is not 32 bytes.
        """
        try:
            jws.check_id(signer_id, "signer id")
        except MalformedError as exc:
            raise MalformedError(f"{exc} (it is an MQTT topic level)") from exc
        signing = nacl.signing.SigningKey.generate() if seed is None else _signing_key(seed)
        return cls(signer_id, bytes(signing), bytes(signing.verify_key))

    @property
    def public_key_b64(self) -> str:
        """The public key as base64url, as registration entries carry it."""
        return b64url_encode(self.public_key)


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    if len(seed) != 32:
        raise MalformedError(f"Ed25519 seed must be 32 bytes, found {len(seed)}")
    return nacl.signing.SigningKey(seed)


def save_key(key: SignerKey, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``key`` to ``path`` with mode 0600, refusing to replace a file unless ``overwrite``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    data = (
        json.dumps(
            {
                "id": key.id,
                "alg": "Ed25519",
                "seed": b64url_encode(key.seed),
                "pubkey": key.public_key_b64,
            },
            indent=2,
        )
        + "\n"
    )
    _write_secret(path, data, overwrite)


def save_log_key(signer_key: str, path: str | Path, *, overwrite: bool = False) -> None:
    """Write a log's checkpoint signer key (:func:`chain.note.generate_key`), mode 0600.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    _write_secret(path, signer_key + "\n", overwrite)


def _write_secret(path: str | Path, data: str, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o600)


def load_key(path: str | Path) -> SignerKey:
    """Read a key file written by :func:`save_key`.

    Raises:
        OSError: the file cannot be read.
        MalformedError: not a key file, or its public key does not match its seed.
    """
    text = Path(path).read_text()
    try:
        obj = json.loads(text)
        if obj.get("alg") != "Ed25519":
            raise ValueError(f"alg {obj.get('alg')!r}, expected 'Ed25519'")
        key = SignerKey.generate(obj["id"], seed=b64url_decode(obj["seed"]))
        if key.public_key != b64url_decode(obj["pubkey"]):
            raise ValueError("its public key does not belong to its seed")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedError(f"{path} is not a farmtrace key file: {exc}") from exc
    return key
