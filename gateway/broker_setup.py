"""A farm's broker files, kept up to date as users come and go (``farmtrace broker config``).

:func:`configure_broker` writes mosquitto.conf, passwd and acl
(:func:`gateway.broker_config.write_broker_files`) and credentials.json, the
users' passwords and broker URLs (mode 0600). Run again on the same
directory, it keeps every existing password and adds or removes users; it
refuses a directory holding a broker's logins that credentials.json does not
list (e.g. the demo's), which it would otherwise drop. With ``dynsec`` the
logins live in Mosquitto's dynamic security plugin
(:mod:`gateway.broker_accounts`) and are added on the running broker by
``farmtrace device add``; a rerun then only adds logins, never removes one::

    setup = configure_broker(
        BrokerRequest(farm="farm1", out=Path("broker"), add=("barn1-temp",)),
        registered=registered_signers(Path("gw")),
    )
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from chain.entries import parse_entry
from chain.store import Store
from gateway.broker_accounts import find_dynsec_plugin
from gateway.broker_config import (
    BrokerFiles,
    BrokerSettings,
    TlsFiles,
    new_password,
    write_broker_files,
)
from gateway.datadir import DataDir
from gateway.dynsec_file import DYNSEC_FILE

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
    dynsec: bool = False
    """Keep the logins in Mosquitto's dynamic security plugin (changed on the running broker)."""
    accounts_user: str = "broker-admin"
    """With ``dynsec``: the login that may add and delete logins."""


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
        ValueError: a bad setting, removing the gateway user (with ``dynsec``:
            removing anyone), part of the TLS files only, a credentials.json
            of another farm or not ours, ``out`` holding logins but no
            credentials.json, or holding the plugin's logins without ``dynsec``.
        AccountError: ``dynsec`` and the plugin is not installed.
        OSError: a file cannot be read or written.
    """
    out = request.out.absolute()
    credentials = out / CREDENTIALS
    _check_not_foreign(out, request)
    passwords = _load_credentials(credentials, request.farm)
    wanted = set(passwords) | set(request.add) | {request.gateway_user} | set(registered)
    if request.dynsec:
        wanted.add(request.accounts_user)
    if request.gateway_user in request.remove:
        raise ValueError(f"cannot remove the gateway user {request.gateway_user!r}")
    if request.dynsec and request.remove:
        raise ValueError(
            "with --dynsec, remove a login on the running broker: farmtrace device retire"
        )
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
        run_as=request.run_as or _existing_run_as(out),
        dynsec_plugin=find_dynsec_plugin() if request.dynsec else None,
        accounts_user=request.accounts_user,
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


def _check_not_foreign(out: Path, request: BrokerRequest) -> None:
    """Refuse to replace logins this command did not write, or to switch a plugin broker back."""
    holds = [name for name in ("passwd", DYNSEC_FILE) if (out / name).exists()]
    if holds and not (out / CREDENTIALS).exists():
        raise ValueError(
            f"{out} holds a broker's logins ({', '.join(holds)}) but no {CREDENTIALS}: it was "
            "not written by this command (e.g. it is the demo's), and rewriting it would drop "
            "every login not named here; use another --out"
        )
    if DYNSEC_FILE in holds and not request.dynsec:
        raise ValueError(
            f"{out} keeps its logins in the dynamic security plugin ({DYNSEC_FILE}): "
            "add --dynsec (a password file would replace them)"
        )


def _existing_run_as(out: Path) -> str | None:
    """The ``user`` line of an existing mosquitto.conf in ``out``: a rerun keeps it."""
    try:
        text = (out / "mosquitto.conf").read_text()
    except FileNotFoundError:
        return None
    found = re.search(r"^user (\S+)$", text, re.M)
    return None if found is None else found[1]


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
