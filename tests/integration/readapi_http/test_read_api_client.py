"""readapi.client against a real read API over HTTP, and its parsing of bad answers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from followed_logs import HttpLog
from served_log import ServedLog

from chain.errors import SourceError
from chain.proof_bundle import verify_entry_proof
from readapi import FetchedBlock, ReadApiClient


@pytest.fixture
def http(served: ServedLog) -> Iterator[HttpLog]:
    server = HttpLog(served.source).start()
    yield server
    server.stop()


def test_every_endpoint_against_a_real_server(served: ServedLog, http: HttpLog) -> None:
    store = served.factory.store
    client = ReadApiClient(http.url + "/")  # a trailing slash is fine
    size, signed = store.latest_checkpoint() or (0, "")
    assert client.checkpoint() == signed
    info = client.log_info()
    assert (info["origin"], info["vkey"]) == (store.origin, served.source.verifier_key)
    for height in range(store.size):
        block = client.block(height)
        assert block == FetchedBlock(height, store.block_raw(height), store.block_entries(height))
    for height in range(size):
        assert client.inclusion(height, size) == store.inclusion_proof(height, size)
    assert client.consistency(2, size) == store.consistency_proof(2, size)
    assert client.consistency(0, size) == client.consistency(size, size) == []
    proof = client.entry_proof(3)
    assert proof.entry == store.entry(3)
    assert verify_entry_proof(proof, served.source.verifier_key).size == size
    assert client.entry_proof(3, tree_size=3).block_path.tree_size == 3
    by_hash = client.block_by_hash(store.block(2).hash)
    assert by_hash == FetchedBlock(2, store.block_raw(2), store.block_entries(2))
    grants = client.signer("d1")["grants"]
    assert [(g["kind"], g["action"], g["signer"]) for g in grants] == [
        ("device", "register", "admin")
    ]
    with pytest.raises(SourceError, match="never registered") as caught:
        client.signer("nobody")
    assert caught.value.status == 404


def test_http_errors_carry_the_servers_message(served: ServedLog, http: HttpLog) -> None:
    client = ReadApiClient(http.url)
    with pytest.raises(SourceError) as caught:
        client.block(99)
    assert caught.value.reason == "http_error" and caught.value.status == 404
    assert "no block 99 (the log has 6 blocks)" in str(caught.value)
    assert caught.value.url == http.url + "/api/v1/blocks/99"
    with pytest.raises(SourceError, match="beyond the latest checkpoint") as caught:
        client.inclusion(0, 6)
    assert caught.value.status == 400
    with pytest.raises(ValueError, match="non-negative"):
        client.block(-1)


def test_unreachable_and_silent_sources(http: HttpLog) -> None:
    http.stop()  # nothing listens on the port any more
    with pytest.raises(SourceError, match="unreachable") as caught:
        ReadApiClient(http.url).checkpoint()
    assert caught.value.reason == "unreachable" and caught.value.status is None
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        client = ReadApiClient(f"http://127.0.0.1:{port}", timeout=0.2)
        with pytest.raises(SourceError, match="timed out") as caught:
            client.checkpoint()
        assert caught.value.reason == "unreachable"


class Canned:
    """A fake transport (pure parsing tests): one canned answer per path."""

    def __init__(self, answers: dict[str, tuple[int, object]]) -> None:
        self.answers = answers

    def __call__(self, method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        status, body = self.answers[url.removeprefix("http://src")]
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return status, {"content-type": "application/json"}, data


H = "ab" * 32
GOOD_BLOCK = {"hash": H, "height": 7, "header_b64": "e30=", "entries": ["a.b.c"]}
MALFORMED = [
    ("/api/v1/blocks/1", b"<html>", "expected JSON"),
    ("/api/v1/blocks/1", b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested at most"),
    ("/api/v1/blocks/1", b'{"height":1e999999}', "finite number"),
    ("/api/v1/blocks/1", b'{"height":' + b"7" * 5000 + b"}", "at most 40 digits"),
    ("/api/v1/blocks/1", b'{"entries":["\xff"]}', "expected UTF-8"),
    ("/api/v1/entries/1/proof", b"[" * 5000, "nested at most"),
    ("/api/v1/entries/1/proof", b'{"index":1e999999}', "finite number"),
    ("/api/v1/blocks/1", [], "expected a JSON object"),
    ("/api/v1/blocks/1", {"entries": []}, "header_b64: expected a base64 string"),
    ("/api/v1/blocks/1", {"header_b64": "e30", "entries": []}, "header_b64: not base64"),
    ("/api/v1/blocks/1", {"header_b64": "e30=", "entries": [1]}, "list of strings"),
    ("/api/v1/blocks/1", {"header_b64": "e30=", "entries": ["é"]}, "ASCII"),
    ("/api/v1/blocks/1/inclusion?tree_size=4", {"leaf_index": 2, "tree_size": 4}, "differ"),
    ("/api/v1/blocks/1/inclusion?tree_size=4", {"leaf_index": 1, "tree_size": 4}, "hashes"),
    ("/api/v1/consistency?first=1&second=4", {"hashes": ["AAAA"]}, "32-byte"),
    ("/api/v1/log", {"origin": "o", "vkey": 5}, "vkey: expected str"),
    ("/api/v1/entries/1/proof", {"index": 1}, "entry proof"),
    (f"/api/v1/batches/{H}", dict(GOOD_BLOCK, hash="cd" * 32), "served block"),
    (f"/api/v1/batches/{H}", dict(GOOD_BLOCK, height="7"), "height: expected int"),
    ("/api/v1/signers/d1", {"id": "d2", "grants": []}, "describes 'd2'"),
    ("/api/v1/signers/d1", {"id": "d1", "grants": [1]}, "list of objects"),
    ("/checkpoint", b"\xff", "not UTF-8"),
]


@pytest.mark.parametrize(("path", "body", "message"), MALFORMED)
def test_malformed_answers_are_source_errors(path: str, body: object, message: str) -> None:
    client = ReadApiClient("http://src", transport=Canned({path: (200, body)}))
    calls = {
        "/api/v1/blocks/1": lambda: client.block(1),
        "/api/v1/blocks/1/inclusion?tree_size=4": lambda: client.inclusion(1, 4),
        "/api/v1/consistency?first=1&second=4": lambda: client.consistency(1, 4),
        "/api/v1/log": client.log_info,
        "/api/v1/entries/1/proof": lambda: client.entry_proof(1),
        f"/api/v1/batches/{H}": lambda: client.block_by_hash(H),
        "/api/v1/signers/d1": lambda: client.signer("d1"),
        "/checkpoint": client.checkpoint,
    }
    with pytest.raises(SourceError, match=message) as caught:
        calls[path]()
    assert caught.value.reason == "malformed_response"
    assert caught.value.url == "http://src" + path


def test_new_endpoints_parse() -> None:
    grants = [{"index": 1, "kind": "device", "action": "register", "pubkey": "x", "ts": 5}]
    client = ReadApiClient(
        "http://src",
        transport=Canned(
            {
                f"/api/v1/batches/{H}": (200, GOOD_BLOCK),
                "/api/v1/signers/d%2F1": (200, {"id": "d/1", "grants": grants}),
                "/api/v1/signers/d1": (404, {"error": "signer 'd1' was never registered"}),
                "/api/v1/blocks/2": (500, b"<html>oops</html>"),
            }
        ),
    )
    assert client.block_by_hash(H) == FetchedBlock(7, b"{}", [b"a.b.c"])
    assert client.signer("d/1")["grants"] == grants  # the id is quoted in the path
    with pytest.raises(SourceError, match="HTTP 404: signer 'd1' was never registered"):
        client.signer("d1")
    with pytest.raises(SourceError, match=r"HTTP 500: b'<html>oops</html>'"):
        client.block(2)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        client.block_by_hash("AB" * 32)
