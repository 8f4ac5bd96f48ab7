"""A device's life on a farm, signed by an operator: add, replace, retire.

Each step is one ``device`` entry (design.md §2) signed with an operator's
key and seq state and confirmed by the gateway's receipt naming it by hash
(:func:`signer.registration.sign_and_send`)::

    plan = DevicePlan("b1-temp3", pubkey, kinds=("temperature",), subjects=("barn:b1",),
                      location="barn:b1", farm="farm1")
    sent = register_device(key, state_dir, url, plan, ts=now, timeout=30)
    sent = retire_device(key, state_dir, url, "farm1", "b1-temp2", ts=now, timeout=30)

A replacement is a new device id with a new key (a new device starts at seq
1, so it cannot reuse the old id's seqs) registered for the same location
and subjects, then the old id revoked: readers of a subject's history see
both devices' readings, and the swap as those two entries at one time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from chain import wire
from chain.entries import device_payload
from chain.keyfile import SignerKey
from signer.mqtt_url import MqttUrl
from signer.registration import Sent, sign_and_send

__all__ = ["DevicePlan", "device_settings", "device_toml", "register_device", "retire_device"]


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """What a device registration says: who, its key, what it may report and where it is."""

    dev: str
    pubkey: bytes
    farm: str
    kinds: tuple[str, ...]
    subjects: tuple[str, ...]
    location: str | None = None
    label: str | None = None


def register_device(
    key: SignerKey,
    state_dir: Path,
    url: MqttUrl,
    plan: DevicePlan,
    *,
    ts: int,
    timeout: float,
    on_signed: Callable[[int], None] = lambda seq: None,
) -> Sent:
    """Sign ``plan``'s registration (valid from ``ts``) as ``key``; wait until it is committed.

    Raises:
        As :func:`signer.registration.sign_and_send`: StorageError (the
        operator's state is locked or of another signer; nothing signed),
        ValueError or MalformedEntryError (a bad kind, subject or location;
        nothing signed), TimeoutError, PermissionError.
    """
    return sign_and_send(
        key,
        state_dir,
        url,
        plan.farm,
        lambda seq: device_payload(
            "register",
            plan.dev,
            seq,
            ts,
            pubkey=plan.pubkey,
            farm=plan.farm,
            kinds=plan.kinds,
            subjects=plan.subjects,
            location=plan.location,
            label=plan.label,
        ),
        timeout=timeout,
        on_signed=on_signed,
    )


def retire_device(
    key: SignerKey,
    state_dir: Path,
    url: MqttUrl,
    farm: str,
    dev: str,
    *,
    ts: int,
    timeout: float,
    on_signed: Callable[[int], None] = lambda seq: None,
) -> Sent:
    """Sign the revocation of ``dev`` from ``ts`` on as ``key``; wait until it is committed.

    Readings ``dev`` signed before ``ts`` still count (e.g. sent late from its
    outbox); later ones are refused by the gateway and by every audit.

    Raises:
        As :func:`register_device`; the gateway refuses revoking an id it never
        registered (the receipt then never comes: TimeoutError).
    """
    return sign_and_send(
        key,
        state_dir,
        url,
        farm,
        lambda seq: device_payload("revoke", dev, seq, ts, farm=farm),
        timeout=timeout,
        on_signed=on_signed,
    )


def device_settings(url: MqttUrl, farm: str) -> dict[str, object]:
    """What a device made elsewhere needs, as JSON: its farm, broker login and topics.

    ``url`` holds the device's own login (its user name is the device id).
    """
    dev = str(url.username)
    return {
        "dev": dev,
        "farm": farm,
        "mqtt": {"host": url.host, "port": url.port, "username": dev, "password": url.password},
        "topics": {
            "entry": wire.entry_topic(farm, dev),
            "status": wire.status_topic(farm, dev),
            "receipt": wire.receipt_topic(farm, dev),
        },
    }


def device_toml(state_dir: Path, dev: str, farm: str, url: MqttUrl, subject: str | None) -> str:
    """A ``device.toml`` for ``farmtrace device run --config``: where and how ``dev`` sends.

    ``url`` holds the device's own login (user ``dev`` and its password), and
    for ``mqtts://`` its TLS files.
    """
    login = f"{quote(dev, safe='')}:{quote(url.password or '', safe='')}@"
    host = f"[{url.host}]" if ":" in url.host else url.host
    lines = [
        f"# farmtrace device {dev}: its key and seq state are in state_dir.",
        f"# It publishes {wire.entry_topic(farm, dev)} and reads {wire.receipt_topic(farm, dev)}.",
        f"state_dir = {_toml_string(str(state_dir))}",
        f"device_id = {_toml_string(dev)}",
        f"mqtt = {_toml_string(f'{url.scheme}://{login}{host}:{url.port}')}",
        f"farm = {_toml_string(farm)}",
    ]
    tls_files = {"ca_file": url.ca_file, "cert_file": url.cert_file, "key_file": url.key_file}
    lines += [f"{k} = {_toml_string(str(v))}" for k, v in tls_files.items() if v is not None]
    if subject is not None:
        lines.append(f"subject = {_toml_string(subject)}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
