"""The desk's staff accounts (``users.json``) and its session secret (``secret.key``).

``users.json`` holds ``{"users": {"<name>": {"hash": "<werkzeug password hash>"}}}``:
salted scrypt hashes from :func:`werkzeug.security.generate_password_hash`,
never a password. A user may also have ``"operator": "<id>"``: a person
registered as an operator of their own (``farmtrace operator add``), who
signs with the key in ``operators/<id>/`` rather than the desk's. Both files
are written atomically with mode 0600; changes to ``users.json`` are made
under an flock on ``users.lock``, so that two programs adding users at once
lose neither.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from chain.errors import MalformedError, StorageError

__all__ = [
    "MIN_PASSWORD",
    "USERNAME_PATTERN",
    "add_user",
    "check_password",
    "load_operators",
    "load_users",
    "read_secret",
    "remove_users",
    "write_private",
    "write_secret",
]

USERNAME_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,31}"
"""Staff user names: lower case letters, digits, ``_``, ``.``, ``-``; at most 32."""

MIN_PASSWORD = 10
"""The shortest password :func:`add_user` accepts."""

_USERNAME = re.compile(USERNAME_PATTERN)
_HASH_METHOD = "scrypt"
# Checked when the user name is unknown, so that a miss takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16), method=_HASH_METHOD)


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` durably with ``data``, readable by its owner only (0600).

    Raises OSError if the directory cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc}") from exc
    try:
        users = json.loads(text)["users"]
        found = {
            name: {"hash": str(entry["hash"])}
            | ({"operator": str(entry["operator"])} if "operator" in entry else {})
            for name, entry in users.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedError(f"{path}: expected {{'users': {{name: {{'hash': ...}}}}}}") from exc
    if not all(_USERNAME.fullmatch(name) for name in found):
        raise MalformedError(f"{path}: a user name does not match {USERNAME_PATTERN}")
    return found


def load_users(path: Path) -> dict[str, str]:
    """User name -> password hash, from ``path`` (an absent file: no users).

    Raises:
        MalformedError: the file is not a users file.
        StorageError: the file cannot be read.
    """
    return {name: entry["hash"] for name, entry in _read(path).items()}


def load_operators(path: Path) -> dict[str, str]:
    """User name -> operator id, for the users who sign as an operator of their own.

    Raises:
        MalformedError, StorageError: as for :func:`load_users`.
    """
    return {name: e["operator"] for name, e in _read(path).items() if "operator" in e}


@contextmanager
def _changing(path: Path) -> Iterator[dict[str, dict[str, str]]]:
    """The users of ``path`` to change, written back (atomically, under ``users.lock``)."""
    fd = os.open(path.with_name("users.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        users = _read(path)
        yield users
        body: dict[str, Any] = {"users": dict(sorted(users.items()))}
        try:
            write_private(path, (json.dumps(body, indent=2) + "\n").encode())
        except OSError as exc:
            raise StorageError(f"{path}: cannot write: {exc}") from exc
    finally:
        os.close(fd)


def remove_users(path: Path, *, operator: str) -> list[str]:
    """Remove every user who signs as ``operator``; return their names (sorted).

    A running desk refuses their log-ins and ends their sessions from its
    next request on (it re-reads ``users.json`` when the file changes).

    Raises:
        MalformedError, StorageError: as for :func:`load_users`, or the file
            cannot be written.
    """
    with _changing(path) as users:
        gone = sorted(n for n, e in users.items() if e.get("operator") == operator)
        for name in gone:
            del users[name]
    return gone


def add_user(path: Path, name: str, password: str, *, operator: str | None = None) -> bool:
    """Add ``name`` with ``password`` (or change its password); True if the user is new.

    With ``operator``, the user signs as that operator (see the module
    docstring); without, as the desk's operator.

    Raises:
        ValueError: a bad user name, or a password shorter than :data:`MIN_PASSWORD`.
        MalformedError, StorageError: as for :func:`load_users`, or the file
            cannot be written.
    """
    if not _USERNAME.fullmatch(name):
        raise ValueError(f"user name: expected {USERNAME_PATTERN}, found {name[:40]!r}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: expected at least {MIN_PASSWORD} characters")
    entry = {"hash": generate_password_hash(password, method=_HASH_METHOD)}
    if operator is not None:
        entry["operator"] = operator
    with _changing(path) as users:
        new = name not in users
        users[name] = entry
    return new


def check_password(users: dict[str, str], name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; as slow for an unknown name as for a wrong password."""
    stored = users.get(name)
    if stored is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(stored, password)


def write_secret(path: Path) -> None:
    """Write a new random 32-byte session secret to ``path`` (mode 0600).

    Raises:
        FileExistsError: ``path`` exists (a new secret would log every user out).
        StorageError: it cannot be written.
    """
    if path.exists():
        raise FileExistsError(0, "session secret exists", str(path))
    try:
        write_private(path, secrets.token_hex(32).encode() + b"\n")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write: {exc}") from exc


def read_secret(path: Path) -> bytes:
    """The session secret in ``path``.

    Raises:
        StorageError: missing or unreadable, or shorter than 32 bytes of hex.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path}: expected the desk's session secret: {exc}") from exc
    if len(secret) < 32:
        raise StorageError(f"{path}: expected at least 32 bytes of hex, found {len(secret)}")
    return secret
