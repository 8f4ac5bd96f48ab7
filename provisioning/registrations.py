"""Single registrations and revocations, signed by an operator and confirmed by the gateway.

``farmtrace operator register|revoke`` and ``farmtrace device register``:
the entry is built here (:mod:`chain.entries`), signed with the operator's
next seq and sent by :func:`signer.registration.sign_and_send`, which waits
for the receipt naming it by hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chain.entries import device_payload, operator_payload
from chain.keyfile import SignerKey
from signer.http_submit import SubmitUrl
from signer.mqtt_url import MqttUrl
from signer.registration import Sent, sign_and_send

__all__ = ["EntrySigner", "register_device_key", "register_operator", "revoke_operator"]


@dataclass(frozen=True)
class EntrySigner:
    """Who signs (``key``, its seq state in ``state_dir``), and the broker login that sends."""

    key: SignerKey
    state_dir: Path
    mqtt: MqttUrl | SubmitUrl
    """The broker login, or a gateway taking entries over HTTP (``farm`` unused)."""
    farm: str
    timeout: float = 30.0


def register_operator(
    signer: EntrySigner,
    operator: str,
    pubkey: bytes,
    roles: Sequence[str],
    name: str | None,
    *,
    ts: int,
    say: Callable[[str], None],
) -> Sent:
    """Register ``operator``'s ``pubkey`` with ``roles`` (duplicates dropped), from ``ts``.

    ``say`` gets a line once the entry is signed.

    Raises:
        As :func:`signer.registration.sign_and_send`: StorageError, ValueError,
        MalformedEntryError (nothing signed), NotConnectedError, TimeoutError,
        PermissionError.
    """
    unique = list(dict.fromkeys(roles))
    return _send(
        signer,
        f"registration of operator {operator} ({', '.join(unique)})",
        lambda seq: operator_payload(
            "register", operator, seq, ts, pubkey=pubkey, roles=unique, name=name
        ),
        say,
    )


def revoke_operator(
    signer: EntrySigner, operator: str, *, ts: int, say: Callable[[str], None]
) -> Sent:
    """Revoke ``operator`` from ``ts`` on: the gateway refuses what it signs later.

    Raises:
        As :func:`register_operator`.
    """
    return _send(
        signer,
        f"revocation of operator {operator}",
        lambda seq: operator_payload("revoke", operator, seq, ts),
        say,
    )


def register_device_key(
    signer: EntrySigner,
    device: str,
    pubkey: bytes,
    kinds: Sequence[str] | None,
    label: str | None,
    *,
    ts: int,
    say: Callable[[str], None],
) -> Sent:
    """Register ``device``'s ``pubkey`` on ``signer.farm`` with reading ``kinds``, from ``ts``.

    Raises:
        As :func:`register_operator`.
    """
    return _send(
        signer,
        f"device registration of {device}",
        lambda seq: device_payload(
            "register", device, seq, ts, pubkey=pubkey, farm=signer.farm, kinds=kinds, label=label
        ),
        say,
    )


def _send(
    signer: EntrySigner,
    what: str,
    build: Callable[[int], dict[str, object]],
    say: Callable[[str], None],
) -> Sent:
    key = signer.key
    return sign_and_send(
        key,
        signer.state_dir,
        signer.mqtt,
        signer.farm,
        build,
        timeout=signer.timeout,
        on_signed=lambda seq: say(f"signed {what} as {key.id}, seq {seq}"),
    )
