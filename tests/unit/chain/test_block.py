"""Block headers: canonical bytes, strict parsing, links."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from chain import merkle
from chain.block import GENESIS_PREV, BlockHeader, build_header, verify_block_entries, verify_link
from chain.errors import ChainLinkError, MalformedBlockError, ProofError

ENTRIES = [b"entry-0", b"entry-1", b"entry-2"]


def _chain(n: int) -> list[BlockHeader]:
    headers: list[BlockHeader] = []
    for height in range(n):
        prev = headers[-1] if headers else None
        headers.append(
            build_header(
                log="farm.example/log", prev=prev, entries=ENTRIES, closed_at=1000 + height
            )
        )
    return headers


def test_header_is_canonical_json_with_sorted_keys() -> None:
    header = _chain(1)[0]
    expected = (
        '{"closed_at":1000,"count":3,"entries_root":"'
        + merkle.root_hash(ENTRIES).hex()
        + '","first_index":0,"height":0,"log":"farm.example/log","prev":"'
        + GENESIS_PREV
        + '","v":1}'
    )
    assert header.raw == expected.encode()
    assert header.hash == hashlib.sha256(expected.encode()).hexdigest()
    assert BlockHeader.from_bytes(header.raw) == header


def test_chain_links_heights_indexes_and_hashes() -> None:
    headers = _chain(4)
    for prev, header in itertools.pairwise(headers):
        verify_link(prev, header)
        assert header.prev == prev.hash
        assert header.first_index == prev.first_index + prev.count
    verify_link(None, headers[0])


@pytest.mark.parametrize(
    "change",
    [
        {"height": 3},
        {"prev": "ab" * 32},
        {"first_index": 4},
        {"log": "other.example/log"},
        {"closed_at": 0},
    ],
)
def test_a_header_that_does_not_follow_is_rejected(change: dict[str, object]) -> None:
    prev, header = _chain(2)
    fields = json.loads(header.raw) | change
    with pytest.raises(ChainLinkError):
        verify_link(prev, BlockHeader(**fields))  # type: ignore[arg-type]


def test_genesis_must_start_the_chain() -> None:
    _, second = _chain(2)
    with pytest.raises(ChainLinkError):
        verify_link(None, second)


def test_closed_at_never_goes_back() -> None:
    first = _chain(1)[0]
    second = build_header(log=first.log, prev=first, entries=ENTRIES, closed_at=5)
    assert second.closed_at == first.closed_at


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"v":1}',
        b" " + _chain(1)[0].raw,
        _chain(1)[0].raw.replace(b'"v":1', b'"v":2'),
        _chain(1)[0].raw.replace(b'"count":3', b'"count":3.0'),
        _chain(1)[0].raw.replace(b'"count":3', b'"count":0'),
        _chain(1)[0].raw.replace(b'"count":3', b'"count":true'),
        _chain(1)[0].raw.replace(b'"v":1}', b'"v":1,"x":1}'),
        _chain(1)[0].raw.replace(b'"v":1}', b'"v":1,"v":1}'),
        _chain(1)[0].raw.replace(b'"closed_at":1000,"count":3', b'"count":3,"closed_at":1000'),
        _chain(1)[0].raw.replace(b'"prev":"0', b'"prev":"1'),
        _chain(2)[1].raw.replace(_chain(2)[1].prev.encode(), GENESIS_PREV.encode()),
        _chain(1)[0]
        .raw.replace(b'"entries_root":"', b'"entries_root":"A')
        .replace(b'","first', b'","first', 1)[:-1],
    ],
)
def test_malformed_headers_are_rejected(raw: bytes) -> None:
    with pytest.raises(MalformedBlockError):
        BlockHeader.from_bytes(raw)


def test_entries_must_match_the_root_and_count() -> None:
    header = _chain(1)[0]
    verify_block_entries(header, ENTRIES)
    with pytest.raises(ProofError, match="expected 3 entries, found 2"):
        verify_block_entries(header, ENTRIES[:2])
    with pytest.raises(ProofError) as err:
        verify_block_entries(header, [ENTRIES[0], ENTRIES[2], ENTRIES[1]])
    assert err.value.expected == bytes.fromhex(header.entries_root)
    with pytest.raises(MalformedBlockError):
        build_header(log="farm.example/log", prev=None, entries=[], closed_at=0)
