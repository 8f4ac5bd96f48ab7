"""Registrations signed by an operator: a public key given as text, signed, published, receipted.

The admin registers (or revokes) operators, and the admin or a farm operator
registers devices, by signing one entry with its own key and seq state::

    pubkey = parse_public_key(text, "--pubkey")
    sent = sign_and_send(key, state_dir, url, farm, build_payload, timeout=30)

``build_payload(seq)`` returns the entry's payload (e.g.
:func:`chain.entries.operator_payload`); it is validated before a seq is used.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chain.entries import sign_entry
from chain.keyfile import SignerKey
from chain.submission import SubmitReceipt
from chain.wire import Receipt
from signer.http_submit import SubmitUrl
from signer.mqtt_url import MqttUrl
from signer.transport import operator_identity, sign_and_publish

__all__ = ["Sent", "parse_public_key", "read_public_key_file", "receipt_text", "sign_and_send"]


def parse_public_key(text: str, source: str) -> bytes:
    """The raw 32-byte Ed25519 key from its base64url text (padding optional).

    Raises:
        ValueError: not base64url, or not 32 bytes; the message names ``source``.
    """
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(f"{source}: expected a base64url 32-byte Ed25519 key, found {text!r}")
    return key


def read_public_key_file(path: Path, signer: str) -> bytes:
    """The public key in ``path``: a key file (with ``id`` and ``pubkey``), or the base64url text.

    Raises:
        OSError: the file cannot be read.
        ValueError: no key in it, or the key file of a signer other than ``signer``.
    """
    content = path.read_text().strip()
    text = content.split()[-1] if content else ""
    if content.startswith("{"):
        try:
            obj = json.loads(content)
            text = obj["pubkey"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: expected a key file with a pubkey member") from exc
        if obj.get("id", signer) != signer:
            raise ValueError(f"{path}: holds the key of {obj['id']!r}, not of {signer!r}")
    return parse_public_key(str(text), str(path))


@dataclass(frozen=True)
class Sent:
    """A signed entry and the gateway's receipt covering it."""

    seq: int
    receipt: Receipt | SubmitReceipt
    """A device receipt (MQTT), or the receipt of this very entry (HTTP submission)."""


def sign_and_send(
    key: SignerKey,
    state_dir: Path,
    url: MqttUrl | SubmitUrl,
    farm: str,
    build: Callable[[int], dict[str, object]],
    *,
    timeout: float,
    on_signed: Callable[[int], None] = lambda seq: None,
) -> Sent:
    """Sign ``build(seq)`` with ``key``'s next seq, publish it, wait for its receipt.

    The seq is taken only once the broker accepted the connection
    (:func:`~signer.transport.sign_and_publish`), atomically even when other
    processes sign from ``state_dir`` too. ``on_signed(seq)`` is called once
    the entry is signed (its seq durable), before it is sent.

    Raises:
        StorageError: ``state_dir`` holds another signer's state, is held by
            a device, or cannot be written (nothing signed).
        ValueError, MalformedEntryError: the payload is invalid (no seq used).
        NotConnectedError: the broker was not reachable in time (no seq used).
        TimeoutError: no receipt within ``timeout`` seconds (the seq is used).
        PermissionError: the broker refused the connection (no seq used) or the entry.
    """
    sign_entry(build(1), key.id, bytes(32))  # validation only: a bad payload fails offline
    with operator_identity(state_dir, key) as identity:

        def sign() -> tuple[bytes, int]:
            raw = identity.sign_payload(build)
            on_signed(identity.last_seq)
            return raw, identity.last_seq

        _, seq, receipt = sign_and_publish(sign, key.id, url, farm, timeout)
        return Sent(seq, receipt)


def receipt_text(sent: Sent, signer: str) -> str:
    """One line for people: the receipt covering ``sent``, or past a gap in ``signer``'s seqs."""
    receipt = sent.receipt
    if isinstance(receipt, SubmitReceipt):
        return (
            f"committed: entry {receipt.index} in block height {receipt.block} "
            f"(checkpoint size {receipt.size})"
        )
    if receipt.seq >= sent.seq:
        return f"committed: receipt up to seq {receipt.seq}, block height {receipt.block}"
    return f"committed (past a gap in {signer}'s seqs; receipt up to seq {receipt.seq})"
