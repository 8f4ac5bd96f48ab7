"""Devices on a live farm: a registration and a broker login, added, replaced and retired at once.

The registration is signed by an operator (admin or farm role) and
confirmed by the gateway's receipt naming it by hash
(:mod:`signer.device_lifecycle`); the login is created or deleted on the
running broker through Mosquitto's dynamic security plugin
(:mod:`gateway.broker_accounts`), which touches no other login.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chain.errors import FarmtraceError
from chain.keyfile import load_key
from gateway.broker_accounts import AccountError, BrokerAccounts
from gateway.broker_config import new_password
from provisioning.broker_logins import broker_admin, operator_login, read_passwords, with_password
from signer.device_lifecycle import (
    DevicePlan,
    device_settings,
    device_toml,
    register_device,
)
from signer.device_lifecycle import retire_device as sign_revocation
from signer.identity import KEY_FILE, DeviceIdentity
from signer.mqtt_url import MqttUrl
from signer.registration import Sent, parse_public_key, receipt_text

__all__ = [
    "CONFIG_FILE",
    "DeviceAdded",
    "DeviceRetired",
    "NewDevice",
    "OperatorAccess",
    "add_device",
    "retire_device",
]

CONFIG_FILE = "device.toml"
"""The device's settings file, written into its state directory by :func:`add_device`."""


@dataclass(frozen=True)
class OperatorAccess:
    """Who signs (an admin or farm operator), and the broker's accounts user.

    ``mqtt`` is the login that sends the operator's entries; ``None`` means a
    one-off login with the operator's topics, made and deleted around each.
    Passwords missing from the URLs are taken from ``credentials``.
    """

    farm: str
    key_file: Path
    state_dir: Path
    broker_admin: MqttUrl
    mqtt: MqttUrl | None = None
    credentials: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class NewDevice:
    """A device to add: its key (made in ``state_dir``, or given as ``pubkey`` text) and plan."""

    device_id: str
    kinds: tuple[str, ...]
    subjects: tuple[str, ...]
    state_dir: Path | None = None
    pubkey: str | None = None
    location: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class DeviceAdded:
    """A committed registration, and what the device needs to run.

    ``config`` is the device.toml written into the device's state directory
    (mode 0600: it holds the login), or ``None`` when the device made its own
    key; then ``settings`` is what to give it (the password is shown once).
    """

    sent: Sent
    login: MqttUrl
    config: Path | None
    settings: Mapping[str, object]


@dataclass(frozen=True)
class DeviceRetired:
    """A committed revocation."""

    sent: Sent


def add_device(
    access: OperatorAccess, device: NewDevice, *, ts: int, say: Callable[[str], None]
) -> DeviceAdded:
    """Create the device's login, sign its registration from ``ts``, wait until committed.

    ``say`` gets each step as a line for people. A registration that surely
    was not committed takes the login back; one that timed out keeps it
    (it may still be committed).

    Raises:
        AccountError: the broker refused a login change.
        TimeoutError: no receipt in time (the gateway may have refused it).
        PermissionError: the broker refused the connection or the entry.
        ValueError, OSError, FarmtraceError: bad input (a key, a URL, the
            credentials, a kind or subject, the state directories).
    """
    key = load_key(access.key_file)
    passwords = read_passwords(access.credentials)
    admin = broker_admin(access.broker_admin, passwords)
    dev = device.device_id
    if device.pubkey is not None:
        pubkey = parse_public_key(device.pubkey, "--pubkey")
    elif device.state_dir is not None:
        pubkey = _device_key(device.state_dir, dev)
    else:
        raise ValueError("expected the device's state directory or its public key")
    plan = DevicePlan(
        dev,
        pubkey,
        access.farm,
        device.kinds,
        device.subjects,
        device.location or device.subjects[0],
        device.label,
    )
    given = None if access.mqtt is None else with_password(access.mqtt, passwords, "--mqtt")
    password = new_password()
    with BrokerAccounts(admin, access.farm) as accounts:
        accounts.create(dev, password)
        say(f"created broker login {dev!r}")
        try:
            with operator_login(accounts, admin, key.id, given) as url:
                sent = register_device(
                    key,
                    access.state_dir,
                    url,
                    plan,
                    ts=ts,
                    timeout=access.timeout,
                    on_signed=lambda seq: say(
                        f"signed registration of {dev} as {key.id}, seq {seq}"
                    ),
                )
        except TimeoutError:  # it may still be committed: keep the login
            raise
        except (ValueError, OSError, FarmtraceError):  # not committed: take the login back
            accounts.delete(dev)
            say(f"deleted broker login {dev!r} again")
            raise
    say(receipt_text(sent, key.id))
    login = MqttUrl(admin.host, admin.port, dev, password)
    config = None
    if device.state_dir is not None:
        config = device.state_dir / CONFIG_FILE
        _write_private(config, device_toml(device.state_dir, dev, access.farm, login, None))
    return DeviceAdded(sent, login, config, device_settings(login, access.farm))


def retire_device(
    access: OperatorAccess, device_id: str, *, ts: int, say: Callable[[str], None]
) -> DeviceRetired:
    """Delete the device's login (its connection is cut), sign its revocation from ``ts``.

    Waits until the revocation is committed. Readings it signed before
    ``ts`` still count; later ones are refused. ``say`` gets each step.

    Raises:
        As :func:`add_device`.
    """
    key = load_key(access.key_file)
    passwords = read_passwords(access.credentials)
    admin = broker_admin(access.broker_admin, passwords)
    given = None if access.mqtt is None else with_password(access.mqtt, passwords, "--mqtt")
    with BrokerAccounts(admin, access.farm) as accounts:
        try:
            accounts.delete(device_id)
            say(f"deleted broker login {device_id!r} (its connection is cut)")
        except AccountError as exc:
            if exc.reason != "not_found":
                raise
            say(f"no broker login {device_id!r} (already deleted)")
        with operator_login(accounts, admin, key.id, given) as url:
            sent = sign_revocation(
                key,
                access.state_dir,
                url,
                access.farm,
                device_id,
                ts=ts,
                timeout=access.timeout,
                on_signed=lambda seq: say(
                    f"signed revocation of {device_id} as {key.id}, seq {seq}"
                ),
            )
    say(receipt_text(sent, key.id))
    return DeviceRetired(sent)


def _device_key(state_dir: Path, dev: str) -> bytes:
    """The public key in ``state_dir``, created (with seq state at 0) if there is none."""
    if (state_dir / KEY_FILE).exists():
        with DeviceIdentity.open(state_dir) as identity:
            if identity.id != dev:
                raise ValueError(f"{state_dir} holds device {identity.id!r}, not {dev!r}")
            return identity.key.public_key
    with DeviceIdentity.open_or_create(state_dir, dev) as identity:
        return identity.key.public_key


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
