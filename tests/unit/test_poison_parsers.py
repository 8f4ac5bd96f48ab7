"""Issue 11: every parser of outside bytes turns any input into a value or a typed error.

Inputs are built from fragments that broke parsers before (deep nesting,
overflowing and 5000-digit numbers, invalid UTF-8, stray quotes), spliced
into otherwise valid messages, so that they reach past the first check.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain import note
from chain.block import BlockHeader
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import parse_entry, reading_payload, sign_entry
from chain.errors import MalformedError
from chain.jws import sign_compact
from chain.proof_bundle import EntryProof
from chain.tlog_witness import AddCheckpointRequest
from chain.wire import DeviceStatus, Receipt, parse_device_status, parse_receipt, parse_status
from signer.bridge import signer_of

FRAGMENTS = [
    b"[" * 3000,
    b"{" * 200,
    b'{"a":' * 300,
    b"1e999999",
    b"-1e999999",
    b"9" * 5000,
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b'"',
    b"\\",
    b"NaN",
    b"\x00",
    b",",
    b"]",
]
ENTRY = sign_entry(
    reading_payload("b1-t", 3, 1_767_225_600_000, "temperature", "barn:b1", 20.5, "Cel"),
    "b1-t",
    bytes(32),
)
_HEADER, _PAYLOAD, _SIG = ENTRY.split(b".")


def sign_entry_raw(payload: bytes) -> bytes:
    """``payload`` signed as an entry (a too-long one is refused at signing: the sample then)."""
    try:
        return sign_compact(payload, "b1-t", bytes(32))
    except MalformedError:
        return ENTRY


_LOG_KEY, _ = note.generate_key("log.test/a")
PAYLOAD_JSON = base64.urlsafe_b64decode(_PAYLOAD + b"=" * (-len(_PAYLOAD) % 4))
SAMPLES: dict[str, tuple[bytes, Callable[[bytes], object]]] = {
    "status": (b'{"status":"online"}', parse_status),
    "device status": (
        DeviceStatus("online", outbox=3, oldest_ts=5, fw="1.0", low=2).to_json(),
        parse_device_status,
    ),
    "receipt": (Receipt("b1-t", 4, 2, ((6, 9),)).to_json(), parse_receipt),
    "entry payload": (PAYLOAD_JSON, lambda data: parse_entry(sign_entry_raw(data))),
    "bridge header": (
        base64.urlsafe_b64decode(_HEADER + b"=" * (-len(_HEADER) % 4)),
        lambda data: signer_of(base64.urlsafe_b64encode(data).rstrip(b"=") + b".e30.AA"),
    ),
    "block header": (
        b'{"closed_at":1,"count":1,"entries_root":"' + b"0" * 64 + b'","first_index":0,'
        b'"height":0,"log":"l","prev":"' + b"0" * 64 + b'","v":1}',
        BlockHeader.from_bytes,
    ),
    "entry proof": (
        b'{"index":1,"entry":"a.b.c","block":{"height":1,"hash":"x","header_b64":"e30="},'
        b'"entry_path":{"leaf_index":0,"count":1,"hashes":[]},'
        b'"block_path":{"leaf_index":0,"tree_size":1,"hashes":[]},"checkpoint":"c"}',
        EntryProof.from_json,
    ),
    "witness request": (
        AddCheckpointRequest(
            0, (), sign_checkpoint(Checkpoint("log.test/a", 1, bytes(32)), _LOG_KEY)
        ).to_bytes(),
        AddCheckpointRequest.from_bytes,
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_is_valid_before_poison_is_spliced_in(name: str) -> None:
    sample, parse = SAMPLES[name]
    parse(sample)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@settings(max_examples=150, deadline=None)
@given(where=st.floats(0, 1), cut=st.integers(0, 12), fragment=st.sampled_from(FRAGMENTS))
def test_poison_spliced_into_any_message_gives_a_typed_error(
    name: str, where: float, cut: int, fragment: bytes
) -> None:
    sample, parse = SAMPLES[name]
    at = int(where * len(sample))
    with contextlib.suppress(MalformedError):
        parse(sample[:at] + fragment + sample[at + cut :])
