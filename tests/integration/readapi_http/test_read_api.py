"""The read API of design.md section 5 over a real LevelDB log: shapes, values, proofs, errors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from served_log import ServedLog
from werkzeug.test import TestResponse

from chain import merkle
from chain.block import BlockHeader, verify_block_entries
from chain.checkpoint import Checkpoint, open_checkpoint, verify_cosignatures
from chain.proof_bundle import EntryProof, verify_entry_proof
from chain.store import Store
from readapi import LogInfo, create_app, create_read_api, install_json_errors

IMMUTABLE = "public, max-age=31536000, immutable"


def _json(response: TestResponse, status: int = 200) -> object:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data())


def _hashes(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v, validate=True) for v in values]


def _root(served: ServedLog, size: int) -> bytes:
    """The root at ``size``, from the log's signed checkpoint where there is one."""
    store = served.factory.store
    if size in store.checkpoint_sizes():
        return open_checkpoint(store.checkpoint(size), served.source.verifier_key).root_hash
    return store.root(size)


def test_checkpoint_is_the_latest_signed_note_with_cosignatures(
    client: FlaskClient, served: ServedLog
) -> None:
    response = client.get("/checkpoint")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    assert open_checkpoint(text, served.source.verifier_key).size == served.checkpointed == 5
    assert served.factory.store.size == 6
    cosigned = verify_cosignatures(text, served.source.witnesses)
    assert cosigned == {"witness0.example": 1_767_225_000}


def test_log_describes_the_log(client: FlaskClient, served: ServedLog) -> None:
    body = _json(client.get("/api/v1/log"))
    assert body == {
        "origin": "test.example/log",
        "vkey": served.source.verifier_key,
        "witnesses": list(served.source.witnesses),
    }


def test_every_block_is_served_as_stored(client: FlaskClient, served: ServedLog) -> None:
    store = served.factory.store
    for height in range(store.size):  # including block 5, not yet checkpointed
        response = client.get(f"/api/v1/blocks/{height}")
        body = _json(response)
        assert isinstance(body, dict)
        assert set(body) == {"hash", "header", "header_b64", "entries"}
        raw = base64.b64decode(body["header_b64"], validate=True)
        assert raw == store.block_raw(height)
        assert body["hash"] == hashlib.sha256(raw).hexdigest() == store.block(height).hash
        assert body["header"] == json.loads(raw)
        assert body["header"]["height"] == height
        entries = [e.encode() for e in body["entries"]]
        assert entries == store.block_entries(height)
        verify_block_entries(BlockHeader.from_bytes(raw), entries)
        assert response.headers["Cache-Control"] == IMMUTABLE


def test_inclusion_proofs_verify_for_every_block_and_size(
    client: FlaskClient, served: ServedLog
) -> None:
    store = served.factory.store
    checked = 0
    for size in range(1, served.checkpointed + 1):
        for height in range(size):
            response = client.get(f"/api/v1/blocks/{height}/inclusion?tree_size={size}")
            body = _json(response)
            assert isinstance(body, dict)
            assert (body["leaf_index"], body["tree_size"]) == (height, size)
            leaf = merkle.leaf_hash(store.block_raw(height))
            merkle.verify_inclusion(
                height, size, leaf, _hashes(body["hashes"]), _root(served, size)
            )
            assert response.headers["Cache-Control"] == IMMUTABLE
            checked += 1
    assert checked == 15


def test_inclusion_defaults_to_the_latest_checkpoint(client: FlaskClient) -> None:
    response = client.get("/api/v1/blocks/2/inclusion")
    body = _json(response)
    assert isinstance(body, dict)
    assert (body["leaf_index"], body["tree_size"]) == (2, 5)
    assert response.headers["Cache-Control"] == "no-cache"


def test_consistency_proofs_verify_for_every_pair(client: FlaskClient, served: ServedLog) -> None:
    top = served.checkpointed
    for second in range(0, top + 1):
        for first in range(0, second + 1):
            response = client.get(f"/api/v1/consistency?first={first}&second={second}")
            body = _json(response)
            assert isinstance(body, dict) and set(body) == {"hashes"}
            root1 = merkle.EMPTY_ROOT if first == 0 else _root(served, first)
            root2 = merkle.EMPTY_ROOT if second == 0 else _root(served, second)
            merkle.verify_consistency(first, second, _hashes(body["hashes"]), root1, root2)
            assert response.headers["Cache-Control"] == IMMUTABLE


def test_entry_proofs_verify_for_every_checkpointed_entry(
    client: FlaskClient, served: ServedLog
) -> None:
    store = served.factory.store
    covered = store.block(served.checkpointed - 1).next_index
    for index in range(covered):
        response = client.get(f"/api/v1/entries/{index}/proof")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.headers["Cache-Control"] == "no-cache"
        proof = EntryProof.from_json(response.get_data())
        checkpoint = verify_entry_proof(
            proof, served.source.verifier_key, origin="test.example/log"
        )
        assert checkpoint.size == 5
        assert proof.entry == store.entry(index)
        assert verify_cosignatures(proof.checkpoint, served.source.witnesses)


def test_entry_proof_at_a_chosen_checkpoint(client: FlaskClient, served: ServedLog) -> None:
    response = client.get("/api/v1/entries/1/proof?tree_size=3")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    proof = EntryProof.from_json(response.get_data())
    assert verify_entry_proof(proof, served.source.verifier_key).size == 3


def test_head_requests_work(client: FlaskClient) -> None:
    response = client.head("/api/v1/blocks/0")
    assert response.status_code == 200 and response.get_data() == b""


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/v1/blocks/6", 404, "no block 6 (the log has 6 blocks)"),
        ("/api/v1/blocks/99999999999999", 404, "no block"),
        ("/api/v1/blocks/abc", 400, "height must be a non-negative decimal integer"),
        ("/api/v1/blocks/-1", 400, "height must be"),
        ("/api/v1/blocks/01", 400, "height must be"),
        ("/api/v1/blocks/1.0", 400, "height must be"),
        ("/api/v1/blocks/99999999999999999999999", 400, "height must be"),
        ("/api/v1/blocks/0/inclusion?tree_size=6", 400, "tree_size 6 is beyond the latest"),
        ("/api/v1/blocks/0/inclusion?tree_size=999", 400, "beyond the latest checkpoint (size 5)"),
        ("/api/v1/blocks/0/inclusion?tree_size=x", 400, "tree_size must be"),
        ("/api/v1/blocks/0/inclusion?tree_size=", 400, "tree_size must be"),
        ("/api/v1/blocks/0/inclusion?tree_size=0", 400, "block 0 is not in the tree of size 0"),
        ("/api/v1/blocks/3/inclusion?tree_size=2", 400, "block 3 is not in the tree of size 2"),
        ("/api/v1/blocks/5/inclusion", 400, "block 5 is not in the tree of size 5"),
        ("/api/v1/blocks/6/inclusion", 404, "no block 6"),
        ("/api/v1/blocks/x/inclusion", 400, "height must be"),
        ("/api/v1/consistency", 400, "missing parameter first"),
        ("/api/v1/consistency?first=1", 400, "missing parameter second"),
        ("/api/v1/consistency?first=a&second=2", 400, "first must be"),
        ("/api/v1/consistency?first=3&second=2", 400, "first (3) must not exceed second (2)"),
        ("/api/v1/consistency?first=1&second=6", 400, "second 6 is beyond the latest"),
        ("/api/v1/entries/12/proof", 404, "entry 12 is in block 5, not yet covered"),
        ("/api/v1/entries/13/proof", 404, "no entry 13"),
        ("/api/v1/entries/x/proof", 400, "index must be"),
        ("/api/v1/entries/0/proof?tree_size=4", 404, "no checkpoint for size 4"),
        ("/api/v1/entries/0/proof?tree_size=6", 400, "tree_size 6 is beyond the latest"),
        ("/api/v1/entries/0/proof?tree_size=-1", 400, "tree_size must be"),
        ("/api/v1/entries/9/proof?tree_size=3", 404, "entry 9 is in block 4, not yet covered"),
        ("/api/v1/nothing", 404, "not found"),
        ("/api/v2/log", 404, "not found"),
        ("/api/v1/blocks/0/inclusion/extra", 404, "not found"),
    ],
)
def test_errors_are_json_with_a_fitting_status(
    client: FlaskClient, url: str, status: int, message: str
) -> None:
    response = client.get(url)
    body = _json(response, status)
    assert isinstance(body, dict) and set(body) == {"error"}
    assert message in body["error"], body["error"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/checkpoint", "/api/v1/log", "/api/v1/blocks/0"])
def test_wrong_methods_are_json_405_with_allow(client: FlaskClient, url: str) -> None:
    for method in ("post", "put", "delete"):
        response = getattr(client, method)(url, data="x")
        body = _json(response, 405)
        assert isinstance(body, dict) and "not allowed" in body["error"]
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
            "GET",
            "HEAD",
            "OPTIONS",
        }


def test_a_log_without_checkpoint(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty", origin="test.example/empty") as store:
        client = create_app(LogInfo("test.example/empty", "vkey", (), store)).test_client()
        for url in (
            "/checkpoint",
            "/api/v1/blocks/0/inclusion",
            "/api/v1/consistency?first=0&second=0",
            "/api/v1/entries/0/proof",
        ):
            body = _json(client.get(url), 404)
            assert body == {"error": "the log has no checkpoint yet"}
        _json(client.get("/api/v1/blocks/0"), 404)


def test_a_failing_store_is_a_json_500_without_a_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path / "closed", origin="test.example/closed")
    store.close()
    client = create_app(LogInfo("test.example/closed", "vkey", (), store)).test_client()
    response = client.get("/checkpoint")
    body = _json(response, 500)
    assert isinstance(body, dict) and set(body) == {"error"}
    assert "Traceback" not in response.get_data(as_text=True)
    assert "closed" not in body["error"]  # the cause is logged, not shown
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_json_errors_leave_a_sites_own_pages_alone(served: ServedLog) -> None:
    """In a bigger app (consumer_web), only the API's URL space answers errors in JSON."""
    site = Flask("site")
    site.register_blueprint(create_read_api(served.source))
    install_json_errors(site)

    @site.get("/")
    def home() -> str:
        return "<h1>farm</h1>"

    client = site.test_client()
    assert client.get("/").status_code == 200
    page = client.get("/01/09506000134352/21/1")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert client.post("/").mimetype == "text/html"
    _json(client.get("/api/v1/unknown"), 404)
    _json(client.post("/checkpoint"), 405)
    assert client.get("/checkpoint").status_code == 200
    assert client.get("/checkpoints").mimetype == "text/html"


def test_a_served_checkpoint_agrees_with_the_blocks_it_covers(
    client: FlaskClient, served: ServedLog
) -> None:
    """A client using only the API can rebuild the checkpoint's root from the blocks."""
    checkpoint = open_checkpoint(client.get("/checkpoint").get_data(), served.source.verifier_key)
    headers = []
    for height in range(checkpoint.size):
        body = _json(client.get(f"/api/v1/blocks/{height}"))
        assert isinstance(body, dict)
        headers.append(base64.b64decode(body["header_b64"]))
    assert merkle.root_hash(headers) == checkpoint.root_hash
    assert isinstance(checkpoint, Checkpoint)
