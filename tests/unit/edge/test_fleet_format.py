"""The fleet view's wire format and its terminal table (readapi.fleet)."""

from __future__ import annotations

import pytest

from chain.errors import SourceError
from readapi.fleet import FleetRow, FleetView, age_text, fetch_fleet, fleet_table, parse_fleet

NOW = 1_767_225_600_000
VIEW = FleetView(
    NOW,
    60.0,
    (
        FleetRow("b2-dead", True, flags=("silent",)),
        FleetRow(
            "b1-temp",
            True,
            state="online",
            last_seen_ms=NOW - 4_000,
            last_reading_ts=NOW - 65_000,
            readings_per_hour=60,
            interval_s=60.0,
            interval_from="observed",
            outbox=3,
            oldest_ts=NOW - 7_200_000,
            fw="1.4.2",
            seq_committed=10,
            seq_high=12,
            gaps_declared=1,
            gaps_missing=1,
            rejections={"clock_skew": 2},
            flags=("seq_missing", "rejected"),
        ),
    ),
)


def test_the_json_round_trips() -> None:
    assert parse_fleet(VIEW.to_json()) == VIEW
    assert VIEW.flagged("silent") == ["b2-dead"]


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"devices": 3}', b'{"generated_ms": 1, "grace_s": 1, "devices": [{}]}', b"\xff"],
)
def test_a_body_that_is_not_a_fleet_view_is_a_source_error(body: bytes) -> None:
    with pytest.raises(SourceError) as caught:
        parse_fleet(body, "http://gw")
    assert caught.value.reason == "malformed_response"


def test_an_http_error_carries_the_servers_message() -> None:
    def replica(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        assert url == "http://site/api/v1/fleet"
        return 404, {}, b'{"error": "not found"}'

    with pytest.raises(SourceError) as caught:
        fetch_fleet("http://site/", transport=replica)
    assert caught.value.reason == "http_error" and "not found" in str(caught.value)


def test_the_table_shows_ages_gaps_rejections_and_flags() -> None:
    lines = fleet_table(VIEW).splitlines()
    assert lines[0].split()[:2] == ["DEVICE", "STATE"]
    assert "silent" in lines[1] and "-" in lines[1]
    for text in ("4s ago", "1m ago", "2h ago", "1.4.2", "1/1", "clock_skew=2", "seq_missing"):
        assert text in lines[2]
    assert lines[-1].startswith("2 devices, 2 flagged")


@pytest.mark.parametrize(
    ("then", "text"),
    [(None, "-"), (NOW, "0s ago"), (NOW + 5_000, "0s ago"), (NOW - 86_400_000 * 3, "3d ago")],
)
def test_ages(then: int | None, text: str) -> None:
    assert age_text(NOW, then) == text
