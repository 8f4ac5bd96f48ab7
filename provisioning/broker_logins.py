"""The broker logins that provisioning works with: passwords, the accounts user, one-off logins."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.broker_accounts import BrokerAccounts, BrokerAdmin
from gateway.broker_config import new_password
from signer.mqtt_url import MqttUrl

__all__ = ["broker_admin", "fill_password", "operator_login", "read_passwords", "with_password"]


def read_passwords(path: Path | None) -> dict[str, str]:
    """User names to passwords from a credentials file (``{"passwords": {...}}`` or flat).

    ``None`` means no file: no passwords.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a JSON object of user names to passwords.
    """
    if path is None:
        return {}
    doc = json.loads(path.read_text())
    passwords = doc.get("passwords", doc) if isinstance(doc, dict) else None
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        raise ValueError(f"{path}: expected a JSON object of user names to passwords")
    return passwords


def fill_password(url: MqttUrl, passwords: dict[str, str]) -> MqttUrl:
    """``url`` with its user's password from ``passwords`` if it has none (else unchanged)."""
    if url.password is None and url.username in passwords:
        return dataclasses.replace(url, password=passwords[str(url.username)])
    return url


def with_password(url: MqttUrl, passwords: dict[str, str], option: str) -> MqttUrl:
    """``url`` with a user and a password, the password perhaps from ``passwords``.

    Raises:
        ValueError: no user, or no password in either (the message names ``option``).
    """
    url = fill_password(url, passwords)
    if url.username is None or url.password is None:
        raise ValueError(
            f"{option}: expected mqtt://USER:PASSWORD@host[:port], or USER's password "
            "in --credentials"
        )
    return url


def broker_admin(url: MqttUrl, passwords: dict[str, str]) -> BrokerAdmin:
    """The broker's accounts user at ``url`` (given as ``--broker-admin``).

    Raises:
        ValueError: as :func:`with_password`.
    """
    url = with_password(url, passwords, "--broker-admin")
    return BrokerAdmin(url.host, url.port, str(url.username), str(url.password))


@contextmanager
def operator_login(
    accounts: BrokerAccounts, admin: BrokerAdmin, operator: str, given: MqttUrl | None
) -> Iterator[MqttUrl]:
    """The login that sends ``operator``'s entry: ``given``, or a one-off one deleted after.

    The one-off login has the operator's topics, not its user name: a second
    session as the operator would knock its own (the demo's, a desk's) off.

    Raises:
        AccountError: the broker refused to create the one-off login.
    """
    if given is not None:
        yield given
        return
    user, password = f"{operator[:50]}.cli-{secrets.token_hex(4)}", new_password()
    accounts.create(user, password, topics_of=operator)
    try:
        yield MqttUrl(admin.host, admin.port, user, password)
    finally:
        accounts.delete(user, delete_role=False)
