"""People who sign at a desk: a key, a registration, a broker login and a desk log-in, and back.

The admin signs the person's registration (or revocation) and waits until
the gateway committed that very entry (:mod:`signer.registration`). With a
broker accounts user, the person's own broker login is created (or deleted)
on the running broker too (:mod:`gateway.broker_accounts`), its password
kept beside the person's key for the desk (:mod:`desk.people`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chain.entries import operator_payload
from chain.errors import FarmtraceError
from chain.keyfile import SignerKey, load_key
from desk.people import (
    add_person_login,
    new_person_key,
    person_key,
    remove_person_logins,
    save_person_mqtt_password,
)
from gateway.broker_accounts import AccountError, BrokerAccounts, BrokerAdmin
from gateway.broker_config import new_password
from provisioning.broker_logins import broker_admin, fill_password, read_passwords
from signer.mqtt_url import MqttUrl
from signer.registration import receipt_text, sign_and_send

__all__ = [
    "AdminAccess",
    "IncompleteError",
    "NewPerson",
    "PersonAdded",
    "PersonRetired",
    "add_person",
    "retire_person",
]


class IncompleteError(FarmtraceError):
    """The registration is committed, but a later step failed; ``__cause__`` says why.

    ``missing`` names what the person did not get ("broker login" or
    "desk log-in"); running the add again finishes it.
    """

    def __init__(self, missing: str, cause: Exception) -> None:
        super().__init__(f"registered, but no {missing}: {cause}", reason="incomplete")
        self.missing = missing


@dataclass(frozen=True)
class AdminAccess:
    """The admin who signs, how its entries reach the broker, and the broker's accounts user.

    Passwords missing from the URLs are taken from ``credentials``; without
    ``broker_admin`` no broker login is created or deleted.
    """

    farm: str
    key_file: Path
    state_dir: Path
    mqtt: MqttUrl
    broker_admin: MqttUrl | None = None
    credentials: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class NewPerson:
    """A person to add: operator id, roles, name, and the desk (``user`` defaults to the id)."""

    operator: str
    roles: tuple[str, ...]
    desk_dir: Path
    name: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class PersonAdded:
    """The person's desk log-in and its password (to be shown once)."""

    user: str
    password: str


@dataclass(frozen=True)
class PersonRetired:
    """The desk log-ins removed."""

    desk_logins: tuple[str, ...]


def add_person(
    access: AdminAccess, person: NewPerson, *, ts: int, say: Callable[[str], None]
) -> PersonAdded:
    """Key (an earlier unconfirmed add's, or new), registration from ``ts``, then the logins.

    ``say`` gets each step as a line for people.

    Raises:
        NotConnectedError, TimeoutError, PermissionError: the registration
            was not confirmed (see :func:`signer.registration.sign_and_send`).
        IncompleteError: registered, but the broker login or the desk log-in
            failed (its cause is an AccountError, ValueError, OSError or
            FarmtraceError).
        ValueError, OSError, FarmtraceError: bad input; nothing registered.
    """
    key = _key_at_desk(person.desk_dir, person.operator)
    passwords = read_passwords(access.credentials)
    admin_login = _admin_login(access, passwords)
    roles = list(dict.fromkeys(person.roles))
    _send(
        access,
        passwords,
        lambda seq: operator_payload(
            "register",
            person.operator,
            seq,
            ts,
            pubkey=key.public_key,
            roles=roles,
            name=person.name,
        ),
        say,
    )
    try:
        if admin_login is not None:
            mqtt_password = new_password()
            with BrokerAccounts(admin_login, access.farm) as accounts:
                accounts.create(person.operator, mqtt_password)
            save_person_mqtt_password(person.desk_dir, person.operator, mqtt_password)
            say(f"created broker login {person.operator!r}")
    except (AccountError, ValueError, OSError) as exc:
        raise IncompleteError("broker login", exc) from exc
    try:
        password = add_person_login(person.desk_dir, person.operator, person.user)
    except (ValueError, OSError, FarmtraceError) as exc:
        raise IncompleteError("desk log-in", exc) from exc
    return PersonAdded(person.user or person.operator, password)


def retire_person(
    access: AdminAccess, operator: str, desk_dir: Path, *, ts: int, say: Callable[[str], None]
) -> PersonRetired:
    """Desk log-ins and broker login removed first, then the revocation from ``ts``, confirmed.

    The key stays, to verify what the person signed.

    Raises:
        AccountError: the broker refused to delete the login.
        As :func:`add_person` for the revocation (no IncompleteError).
    """
    passwords = read_passwords(access.credentials)
    admin_login = _admin_login(access, passwords)
    gone = remove_person_logins(desk_dir, operator)
    say(f"desk log-ins removed: {', '.join(gone) or 'none'}")
    if admin_login is not None:
        with BrokerAccounts(admin_login, access.farm) as accounts:
            if accounts.exists(operator):
                accounts.delete(operator)
        say(f"broker login {operator!r} deleted (its connection is cut)")
    _send(access, passwords, lambda seq: operator_payload("revoke", operator, seq, ts), say)
    return PersonRetired(tuple(gone))


def _admin_login(access: AdminAccess, passwords: dict[str, str]) -> BrokerAdmin | None:
    return None if access.broker_admin is None else broker_admin(access.broker_admin, passwords)


def _key_at_desk(desk_dir: Path, operator: str) -> SignerKey:
    """The person's key at the desk: the one left by an earlier, unconfirmed add, or a new one."""
    try:
        return person_key(desk_dir, operator)
    except FileNotFoundError:
        return new_person_key(desk_dir, operator)


def _send(
    access: AdminAccess,
    passwords: dict[str, str],
    build: Callable[[int], dict[str, object]],
    say: Callable[[str], None],
) -> None:
    """Sign ``build(seq)`` as the admin and wait for its receipt."""
    admin = load_key(access.key_file)
    sent = sign_and_send(
        admin,
        access.state_dir,
        fill_password(access.mqtt, passwords),
        access.farm,
        build,
        timeout=access.timeout,
        on_signed=lambda seq: say(f"signed as {admin.id}, seq {seq}"),
    )
    say(receipt_text(sent, admin.id))
