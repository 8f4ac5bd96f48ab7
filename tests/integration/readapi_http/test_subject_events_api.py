"""GET /api/v1/subjects/<subject>/events over a real LevelDB log, and through the client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from farm_logs import START_MS, LogFactory
from flask.testing import FlaskClient
from followed_logs import serve
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chain.entries import (
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.errors import MalformedEntryError
from chain.keyfile import SignerKey
from chain.store import entry_subjects
from readapi import LogInfo, create_app
from readapi.client import ReadApiClient

GTIN = "09506000134352"
PACK = f"pack:{GTIN}.S1"
OP_SEED = bytes([8]) * 32


class StoryLog:
    """Two birds, a tag's readings about one, its slaughter, its pack and the pack's recall."""

    def __init__(self, root: Path) -> None:
        self.factory = factory = LogFactory(root)
        op = SignerKey.generate("op", seed=OP_SEED)
        factory.admin_seq += 1
        roles = ["hatchery", "plant"]
        register = operator_payload(
            "register", "op", factory.admin_seq, START_MS - 500, pubkey=op.public_key, roles=roles
        )
        factory.commit([parse_entry(sign_entry(register, "admin", factory.admin.seed))])
        tag = factory.register("tag1")
        self.seq = 0

        def event(name: str, subjects: list[str], **fields: object) -> bytes:
            self.seq += 1
            payload = event_payload(name, self.seq, START_MS + self.seq, subjects, **fields)
            return sign_entry(payload, "op", op.seed)

        def weight(seq: int) -> bytes:
            payload = reading_payload("tag1", seq, START_MS + seq, "weight", "bird:1", 2.5, "kg")
            return sign_entry(payload, "tag1", tag.seed)

        raws = [
            event("hatched", ["bird:1", "bird:2"], breed="Ross 308"),
            weight(1),
            weight(2),
            event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]),
        ]
        factory.commit([parse_entry(raw) for raw in raws])
        raws = [
            event("packed", ["carcass:1"], gtin=GTIN, serial="S1"),
            event("recalled", [PACK], reason="cold chain break"),
        ]
        factory.commit([parse_entry(raw) for raw in raws])
        store = factory.store
        self.source = LogInfo(store.origin, factory.trust.log_key, (), store)

    def expected(self, subject: str) -> list[dict[str, object]]:
        """The events about ``subject``, found the slow way: every entry of the log."""
        store = self.factory.store
        found = []
        for index in range(store.entry_count):
            entry = parse_entry(store.entry(index))
            if entry.type == "event" and subject in entry_subjects(entry):
                found.append({"index": index, "entry": entry.raw.decode()})
        return found


@pytest.fixture
def story(tmp_path: Path) -> Iterator[StoryLog]:
    log = StoryLog(tmp_path / "story")
    yield log
    log.factory.close()


@pytest.fixture
def client(story: StoryLog) -> FlaskClient:
    return create_app(story.source).test_client()


def get(client: FlaskClient, subject: str) -> tuple[int, dict[str, object], str]:
    response = client.get(f"/api/v1/subjects/{quote(subject, safe=':')}/events")
    return response.status_code, json.loads(response.data), response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("subject", "count"), [("bird:1", 2), ("bird:2", 1), ("carcass:1", 2), (PACK, 2)]
)
def test_a_subjects_events_in_log_order_derived_ones_included(
    story: StoryLog, client: FlaskClient, subject: str, count: int
) -> None:
    status, body, cache = get(client, subject)
    assert (status, cache) == (200, "no-cache")
    assert body == {"subject": subject, "events": story.expected(subject)}
    assert len(story.expected(subject)) == count  # readings about bird:1 are left out


def test_an_unknown_subject_has_no_events(client: FlaskClient) -> None:
    assert get(client, "bird:404") == (200, {"subject": "bird:404", "events": []}, "no-cache")


@pytest.mark.parametrize(
    "subject", ["bird", "bird:", ":1", "Bird:1", "bird:1 2", "bird:-1", "b" * 33 + ":1", "bird:é"]
)
def test_a_malformed_subject_is_a_400_in_json(client: FlaskClient, subject: str) -> None:
    status, body, cache = get(client, subject)
    assert status == 400 and cache == "no-store"
    assert str(body["error"]).startswith("subject must be <kind>:<id> as in events")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="ab_1:.-Z é", min_size=1, max_size=12))
@example("a_1:Z.b-1")
@example("a:_b")
def test_the_api_accepts_exactly_the_subjects_events_may_name(
    client: FlaskClient, subject: str
) -> None:
    payload = event_payload("recalled", 1, START_MS, [subject], reason="x")
    try:
        sign_entry(payload, "op", OP_SEED)
        valid = True
    except MalformedEntryError:
        valid = False
    assert (get(client, subject)[0] == 200) == valid, subject


def test_the_client_reads_the_endpoint(story: StoryLog) -> None:
    served = serve(story.factory)
    try:
        client = ReadApiClient(served.url)
        expected = [(e["index"], str(e["entry"]).encode()) for e in story.expected("carcass:1")]
        assert client.subject_events("carcass:1") == expected
        assert client.subject_events("cut:9") == []
    finally:
        served.stop()
