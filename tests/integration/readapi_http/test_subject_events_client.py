"""``ReadApiClient.subject_events``: the shape it promises, and every malformed answer refused."""

from __future__ import annotations

import pytest
from test_read_api_client import Canned

from chain.errors import SourceError
from readapi import ReadApiClient

PATH = "/api/v1/subjects/pack:09506000134352.S1/events"
SUBJECT = "pack:09506000134352.S1"


def client(status: int, body: object) -> ReadApiClient:
    return ReadApiClient("http://src", transport=Canned({PATH: (status, body)}))


def test_events_come_back_as_index_and_entry_bytes_in_log_order() -> None:
    events = [{"index": 3, "entry": "a.b.c"}, {"index": 9, "entry": "d.e.f"}]
    got = client(200, {"subject": SUBJECT, "events": events}).subject_events(SUBJECT)
    assert got == [(3, b"a.b.c"), (9, b"d.e.f")]
    assert client(200, {"subject": SUBJECT, "events": []}).subject_events(SUBJECT) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"subject": "pack:x", "events": []}, "describes 'pack:x'"),
        ({"subject": SUBJECT}, "events: expected a list"),
        ({"subject": SUBJECT, "events": [{"index": "1", "entry": "a"}]}, "an index and an entry"),
        ({"subject": SUBJECT, "events": [{"index": -1, "entry": "a"}]}, "an index and an entry"),
        ({"subject": SUBJECT, "events": [{"index": 1}]}, "an index and an entry"),
        ({"subject": SUBJECT, "events": [1]}, "an index and an entry"),
        (
            {
                "subject": SUBJECT,
                "events": [{"index": 2, "entry": "a"}, {"index": 2, "entry": "b"}],
            },
            "ascending",
        ),
        ({"subject": SUBJECT, "events": [{"index": 1, "entry": "é"}]}, "ASCII"),
    ],
)
def test_malformed_answers_are_source_errors(body: object, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        client(200, body).subject_events(SUBJECT)
    assert caught.value.reason == "malformed_response"


def test_an_error_status_is_an_error_not_an_empty_history() -> None:
    # A server without this endpoint answers 404: no history must not pass for an empty one.
    with pytest.raises(SourceError, match="HTTP 404: no such route") as caught:
        client(404, {"error": "no such route"}).subject_events(SUBJECT)
    assert caught.value.reason == "http_error" and caught.value.status == 404
