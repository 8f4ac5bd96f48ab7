"""CORS: any origin may read the read API (GET), so that a verifier the farm does not serve can."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_reads_are_readable_from_any_origin(client: FlaskClient) -> None:
    headers = {"Origin": "https://coop.example"}
    for path in ("/api/v1/log", "/checkpoint", "/api/v1/entries/0/proof", "/api/v1/blocks/0"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
        assert "Access-Control-Allow-Credentials" not in response.headers
    assert client.head("/api/v1/log").headers["Access-Control-Allow-Origin"] == "*"


def test_errors_are_readable_too_so_that_the_page_can_say_what_failed(client: FlaskClient) -> None:
    response = client.get("/api/v1/blocks/999999", headers={"Origin": "https://coop.example"})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_writes_get_no_cors_header(client: FlaskClient) -> None:
    response = client.post("/api/v1/log", headers={"Origin": "https://coop.example"})
    assert response.status_code == 405
    assert "Access-Control-Allow-Origin" not in response.headers
