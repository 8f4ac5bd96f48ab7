"""signer.http_submit.parse_submit_url: where an entry is submitted over HTTP."""

from __future__ import annotations

import pytest

from signer.http_submit import SubmitUrl, parse_submit_url


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("http://127.0.0.1:8083", "http://127.0.0.1:8083"),
        ("https://plant.example/", "https://plant.example"),
        ("https://plant.example/log/", "https://plant.example/log"),
    ],
)
def test_a_gateway_base_url(text: str, base: str) -> None:
    assert parse_submit_url(text) == SubmitUrl(base)


@pytest.mark.parametrize(
    "text",
    [
        "mqtt://127.0.0.1",
        "plant.example:8083",
        "http://",
        "http://u:p@plant.example",
        "http://plant.example/?x=1",
        "http://plant.example/#f",
        "http://plant.example:99999",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="submit URL"):
        parse_submit_url(text)
