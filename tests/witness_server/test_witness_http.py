"""The witness's Flask app: status codes, content types and bodies of every route."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from witness_fake_log import FakeLog

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.tlog_witness import (
    MAX_REQUEST_BYTES,
    monitoring_checkpoint_path,
    parse_cosignature_lines,
    parse_size,
)
from witness import create_app, init_witness_dir

NOW = 1_760_000_000


@pytest.fixture
def log() -> FakeLog:
    return FakeLog("log.test/a")


@pytest.fixture
def app(tmp_path: Path, log: FakeLog) -> Iterator[Flask]:
    init_witness_dir(tmp_path, "w.test/witness", [(log.origin, log.vkey)])
    app = create_app(tmp_path, clock=lambda: NOW)
    yield app
    app.extensions["farmtrace_witness"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post(client: FlaskClient, body: bytes):  # type: ignore[no-untyped-def]
    return client.post("/add-checkpoint", data=body)


def test_cosignature_answer(client: FlaskClient, app: Flask, log: FakeLog) -> None:
    answer = post(client, log.body(0, 5))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    (sig,) = parse_cosignature_lines(answer.data)
    vkey = app.extensions["farmtrace_witness"].config.vkey
    assert sig.name == "w.test/witness"
    cosigned = log.signed(5) + answer.data.decode()
    assert verify_cosignatures(cosigned, [vkey]) == {"w.test/witness": NOW}


def test_stale_old_size_is_409_text_x_tlog_size(client: FlaskClient, log: FakeLog) -> None:
    assert post(client, log.body(0, 5)).status_code == 200
    answer = post(client, log.body(0, 7))
    assert answer.status_code == 409
    assert answer.headers["Content-Type"] == "text/x.tlog.size"
    assert answer.data == b"5\n" and parse_size(answer.data) == 5


def test_fork_is_422_with_a_text_reason(client: FlaskClient, log: FakeLog) -> None:
    """Same size, another root: 422 since C2SP PR #280 (v1.0.0 said 409)."""
    assert post(client, log.body(0, 5)).status_code == 200
    answer = post(client, log.sibling(b"!").body(5, 5))
    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert b"a fork" in answer.data
    metrics = client.get("/metrics").data.decode()
    assert 'farmtrace_witness_requests_total{outcome="fork"} 1.0' in metrics


def test_monitoring_checkpoint_by_origin_hash(
    client: FlaskClient, app: Flask, log: FakeLog
) -> None:
    """``GET <monitoring prefix>/<lowercase hex SHA-256 of the origin>/checkpoint``."""
    path = "/" + hashlib.sha256(log.origin.encode()).hexdigest() + "/checkpoint"
    assert path == monitoring_checkpoint_path(log.origin)
    assert client.get(path).status_code == 404  # nothing cosigned yet
    assert post(client, log.body(0, 6)).status_code == 200
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache"
    text = answer.data.decode()
    assert open_checkpoint(text, log.vkey) == log.checkpoint(6)
    vkey = app.extensions["farmtrace_witness"].config.vkey
    assert verify_cosignatures(text, [vkey]) == {"w.test/witness": NOW}
    assert client.get("/latest-checkpoint?origin=log.test%2Fa").data == answer.data
    # A refused fork leaves it as it was.
    assert post(client, log.sibling(b"!").body(6, 6)).status_code == 422
    assert client.get(path).data == answer.data
    upper = path.replace(path[1:65], path[1:65].upper())
    for other in (upper, "/" + "0" * 64 + "/checkpoint", "/log.test%2Fa/checkpoint"):
        assert client.get(other).status_code == 404, other


@pytest.mark.parametrize(
    ("make", "status", "text"),
    [
        (lambda log: b"old 1\n", 400, b"malformed request"),
        (lambda log: log.body(0, 3).replace(b"old 0", b"old 4", 1), 400, b"bigger than"),
        (lambda log: FakeLog(log.origin).body(0, 3), 403, b"trusted for the origin"),
        (lambda log: FakeLog("log.test/zz").body(0, 3), 404, b"unknown log origin"),
        (lambda log: log.sibling(b"?").body(2, 3), 422, b"does not verify"),
    ],
    ids=["malformed", "old-too-big", "untrusted-key", "unknown-origin", "bad-proof"],
)
def test_refusals(client: FlaskClient, log: FakeLog, make, status: int, text: bytes) -> None:  # type: ignore[no-untyped-def]
    if status == 422:
        assert post(client, log.body(0, 2)).status_code == 200
    answer = post(client, make(log))
    assert answer.status_code == status, answer.data
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text in answer.data


def test_oversized_body_is_413(client: FlaskClient, app: Flask, log: FakeLog) -> None:
    answer = post(client, log.body(0, 3) + b"x" * MAX_REQUEST_BYTES)
    assert answer.status_code == 413
    assert f"larger than {MAX_REQUEST_BYTES} bytes".encode() in answer.data
    metrics = client.get("/metrics").data.decode()
    assert 'farmtrace_witness_requests_total{outcome="too_large"} 1.0' in metrics


def test_get_on_add_checkpoint_is_405_json(client: FlaskClient) -> None:
    answer = client.get("/add-checkpoint")
    assert answer.status_code == 405 and "error" in answer.get_json()


def test_latest_checkpoint(client: FlaskClient, app: Flask, log: FakeLog) -> None:
    query = {"origin": log.origin}
    before = client.get("/latest-checkpoint", query_string=query)
    assert before.status_code == 404
    assert before.get_json() == {"error": "no checkpoint of 'log.test/a' cosigned yet"}
    assert post(client, log.body(0, 6)).status_code == 200
    answer = client.get("/latest-checkpoint?origin=log.test%2Fa")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = answer.data.decode()
    assert open_checkpoint(text, log.vkey) == log.checkpoint(6)
    vkey = app.extensions["farmtrace_witness"].config.vkey
    assert verify_cosignatures(text, [vkey]) == {"w.test/witness": NOW}
    unknown = client.get("/latest-checkpoint", query_string={"origin": "nope.test/log"})
    assert unknown.status_code == 404 and "unknown log origin" in unknown.get_json()["error"]
    assert client.get("/latest-checkpoint").status_code == 400


def test_status_and_metrics(client: FlaskClient, app: Flask, log: FakeLog) -> None:
    assert post(client, log.body(0, 4)).status_code == 200
    assert post(client, log.body(0, 4)).status_code == 409
    status = client.get("/").get_json()
    assert status == {
        "name": "w.test/witness",
        "vkey": app.extensions["farmtrace_witness"].config.vkey,
        "logs": [
            {
                "origin": log.origin,
                "size": 4,
                "root": base64.b64encode(log.root(4)).decode(),
                "cosigned_at": NOW,
            }
        ],
    }
    metrics = client.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = metrics.data.decode()
    assert 'farmtrace_witness_requests_total{outcome="cosigned"} 1.0' in text
    assert 'farmtrace_witness_requests_total{outcome="conflict"} 1.0' in text
    assert 'farmtrace_witness_requests_total{outcome="bad_proof"} 0.0' in text
    assert 'farmtrace_witness_cosigned_size{origin="log.test/a"} 4.0' in text


def test_create_app_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        create_app()
