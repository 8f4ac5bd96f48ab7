"""People who sign at a desk as operators of their own (a vet, an inspector), not as the desk.

``farmtrace operator add --desk-dir D`` gives a person a key of their own
in ``D/operators/<id>/`` (a shared seq state: the desk and the CLI may sign
from it at once, :class:`signer.identity.DeviceIdentity`) and a log-in tied
to it; ``retire`` removes that log-in. The person's roles are never kept
here: the desk reads them from the operator's registration in the log::

    key = new_person_key(Path("desk"), "vet2")        # before the registration
    password = add_person_login(Path("desk"), "vet2")  # after its receipt
    remove_person_logins(Path("desk"), "vet2")       # retire
"""

from __future__ import annotations

import secrets
from pathlib import Path

from chain.keyfile import SignerKey, load_key
from desk._app import KEY_FILE as DESK_KEY_FILE
from desk._app import MQTT_PASSWORD_FILE, OPERATORS_DIR, USERS_FILE
from desk._users import add_user, load_users, remove_users, write_private
from signer.identity import KEY_FILE, DeviceIdentity

__all__ = [
    "add_person_login",
    "new_person_key",
    "person_key",
    "remove_person_logins",
    "save_person_mqtt_password",
]


def new_person_key(root: Path, operator: str) -> SignerKey:
    """A new key for ``operator`` in ``root/operators/<operator>/``, with its seq state.

    Raises:
        ValueError: ``root`` is not a desk directory.
        FileExistsError: the desk holds a key for ``operator`` already.
        MalformedError: ``operator`` is not an id.
        StorageError: the state cannot be written.
    """
    if not (root / DESK_KEY_FILE).exists():
        raise ValueError(f"{root}: not a desk directory (farmtrace desk init)")
    key = SignerKey.generate(operator)
    state = root / OPERATORS_DIR / operator
    (root / OPERATORS_DIR).mkdir(mode=0o700, exist_ok=True)
    DeviceIdentity.create(state, key, shared=True).close()
    return key


def person_key(root: Path, operator: str) -> SignerKey:
    """The key the desk keeps for ``operator``.

    Raises:
        FileNotFoundError: it keeps none. MalformedError: the key file is bad.
    """
    return load_key(root / OPERATORS_DIR / operator / KEY_FILE)


def add_person_login(root: Path, operator: str, user: str | None = None) -> str:
    """Let ``user`` (default: the operator id) log in and sign as ``operator``; return a password.

    The password is new and random (print it once; the person changes it
    with ``farmtrace desk adduser``). A running desk lets the user in at once.

    Raises:
        ValueError: ``user`` is not a user name, or is taken by a user of another operator.
        MalformedError, StorageError: ``users.json`` cannot be read or written.
    """
    name = user or operator
    if name in load_users(root / USERS_FILE):
        raise ValueError(f"user {name!r} exists at this desk: choose another with --user")
    password = secrets.token_urlsafe(12)
    add_user(root / USERS_FILE, name, password, operator=operator)
    return password


def remove_person_logins(root: Path, operator: str) -> list[str]:
    """Remove the log-ins that sign as ``operator``; a running desk refuses them at once.

    Its key and seq state stay (what it signed is still verified by its key).

    Raises:
        MalformedError, StorageError: ``users.json`` cannot be read or written.
    """
    return remove_users(root / USERS_FILE, operator=operator)


def save_person_mqtt_password(root: Path, operator: str, password: str) -> Path:
    """Keep ``operator``'s broker password (mode 0600): the desk logs in to the broker with it.

    Raises:
        FileNotFoundError: the desk keeps no key for ``operator``.
        OSError: it cannot be written.
    """
    path = root / OPERATORS_DIR / operator / MQTT_PASSWORD_FILE
    if not path.parent.is_dir():
        raise FileNotFoundError(0, "no such person at this desk", str(path.parent))
    write_private(path, password.encode() + b"\n")
    return path
