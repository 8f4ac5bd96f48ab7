"""A farm's broker files, kept up to date as users come and go (``farmtrace broker config``).

:func:`configure_broker` writes mosquitto.conf, passwd and acl
(:func:`gateway.broker_config.write_broker_files`) and credentials.json, the
users' passwords and broker URLs (mode 0600). Run again on the same
directory, it keeps every existing password and adds or removes users::

    setup = configure_broker(
        BrokerRequest(farm="farm1", out=Path("broker"), add=("barn1-temp",)),
        registered=registered_signers(Path("gw")),
    )
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from chain.entries import parse_entry
from chain.store import Store
from gateway.broker_config import (
    BrokerFiles,
    BrokerSettings,
    TlsFiles,
    new_password,
    write_broker_files,
)
from gateway.datadir import DataDir

__all__ = [
    "CREDENTIALS",
    "BrokerRequest",
    "BrokerSetup",
    "configure_broker",
    "registered_signers",
]

CREDENTIALS = "credentials.json"
"""The file, beside mosquitto.conf, holding each user's password and broker URL (mode 0600)."""


def registered_signers(data_dir: Path) -> list[str]:
    """Ids of every device and operator registered and not revoked in a gateway's log.

    Raises:
        StorageError: the log cannot be opened (missing, or in use by a running gateway).
        MalformedEntryError: a registration entry does not parse (a corrupt log).
    """
    current: dict[str, bool] = {}
    with Store.open(DataDir(data_dir).log) as store:
        for index in store.registration_indexes():
            entry = parse_entry(store.entry(index))
            subject = entry.payload["dev" if entry.type == "device" else "op"]
            current[str(subject)] = entry.payload["action"] != "revoke"
    return sorted(signer for signer, active in current.items() if active)


@dataclass(frozen=True)
class BrokerRequest:
    """What the farm's operator asks for: the farm, where to write, who to add or remove."""

    farm: str
    out: Path
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    gateway_user: str = "gateway"
    port: int = 1883
    bind: str = "127.0.0.1"
    state_dir: Path | None = None
    """Where Mosquitto saves its state (default: ``out/state``)."""
    run_as: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_port: int = 8883


@dataclass(frozen=True)
class BrokerSetup:
    """What :func:`configure_broker` wrote, and which users it added or removed."""

    settings: BrokerSettings
    files: BrokerFiles
    credentials: Path
    new_users: tuple[str, ...]
    removed_users: tuple[str, ...]


def configure_broker(request: BrokerRequest, *, registered: Iterable[str] = ()) -> BrokerSetup:
    """Write the broker files for ``request``; ``registered`` ids get a login too.

    Raises:
        ValueError: a bad setting, removing the gateway user, part of the TLS
            files only, or a credentials.json of another farm or not ours.
        OSError: a file cannot be read or written.
    """
    out = request.out.absolute()
    credentials = out / CREDENTIALS
    passwords = _load_credentials(credentials, request.farm)
    wanted = set(passwords) | set(request.add) | {request.gateway_user} | set(registered)
    if request.gateway_user in request.remove:
        raise ValueError(f"cannot remove the gateway user {request.gateway_user!r}")
    wanted -= set(request.remove)
    tls_given = [request.tls_ca, request.tls_cert, request.tls_key]
    if any(tls_given) and not all(tls_given):
        raise ValueError("TLS needs all three of --tls-ca, --tls-cert and --tls-key")
    tls = None
    if request.tls_ca and request.tls_cert and request.tls_key:
        tls = TlsFiles(
            request.tls_ca.absolute(), request.tls_cert.absolute(), request.tls_key.absolute()
        )
    users = {user: passwords.get(user) or new_password() for user in sorted(wanted)}
    settings = BrokerSettings(
        farm=request.farm,
        state_dir=(request.state_dir or out / "state").absolute(),
        port=request.port,
        bind=request.bind,
        users=users,
        gateway_user=request.gateway_user,
        tls=tls,
        tls_port=request.tls_port,
        run_as=request.run_as,
    )
    files = write_broker_files(settings, out)
    _write_credentials(credentials, settings)
    return BrokerSetup(
        settings,
        files,
        credentials,
        new_users=tuple(sorted(set(users) - set(passwords))),
        removed_users=tuple(sorted(set(passwords) - set(users))),
    )


def _load_credentials(path: Path, farm: str) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        stored_farm, passwords = doc["farm"], doc["passwords"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a credentials file of this command: {exc}") from exc
    if stored_farm != farm:
        raise ValueError(f"{path} holds farm {stored_farm!r}, not {farm!r}; use another --out")
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        raise ValueError(f"{path}: passwords must map user ids to strings")
    return dict(passwords)


def _write_credentials(path: Path, settings: BrokerSettings) -> None:
    host = "127.0.0.1" if settings.bind in ("0.0.0.0", "::") else settings.bind
    doc = {
        "farm": settings.farm,
        "gateway_user": settings.gateway_user,
        "passwords": dict(settings.users),
        "urls": {
            user: f"mqtt://{user}:{quote(password, safe='')}@{host}:{settings.port}"
            for user, password in settings.users.items()
        },
    }
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
