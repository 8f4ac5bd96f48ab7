"""The gateway's fleet state: silence, cadence, backlogs, rejections, bounds (time passed in)."""

from __future__ import annotations

import pytest

from chain.entries import parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.wire import DeviceStatus
from gateway.admission import Decision, Verdict
from gateway.fleet_state import DeviceActivity, FleetSettings, FleetState

DEV = SignerKey.generate("b1-temp", seed=b"d" * 32)
T0 = 1_767_225_600_000
GRACE = 60_000


def _accepted(seq: int, ts: int) -> Decision:
    raw = sign_entry(
        reading_payload(DEV.id, seq, ts, "temperature", "barn:b1", 21.5, "Cel"), DEV.id, DEV.seed
    )
    return Decision(Verdict.ACCEPTED, entry=parse_entry(raw))


def _state(**settings: int) -> FleetState:
    return FleetState(T0, FleetSettings(**settings))


def _row(state: FleetState, dev: str, now: int) -> DeviceActivity:
    return next(r for r in state.rows(now) if r.dev == dev)


def test_a_device_reading_every_10s_is_silent_only_after_interval_plus_grace() -> None:
    state = _state(grace_ms=GRACE)
    for i in range(5):
        state.note_entry(DEV.id, _accepted(i + 1, T0 + i * 10_000), T0 + i * 10_000)
    last = T0 + 40_000
    row = state.rows(last)[0]
    assert row.tracked and row.interval_observed and row.interval_ms == 10_000
    assert row.readings_per_hour == 5 and row.last_reading_ts == last
    assert not state.rows(last + 10_000 + GRACE)[0].silent
    assert state.rows(last + 10_000 + GRACE + 1)[0].silent


def test_a_burst_of_backlog_keeps_the_signed_cadence() -> None:
    state = _state()
    for i in range(8):  # eight readings taken 30 s apart, delivered within one second
        state.note_entry(DEV.id, _accepted(i + 1, T0 + i * 30_000), T0 + 300_000 + i)
    assert state.rows(T0 + 300_008)[0].interval_ms == 30_000


def test_readings_per_hour_forget_older_minutes() -> None:
    state = _state()
    state.note_entry(DEV.id, _accepted(1, T0), T0)
    state.note_entry(DEV.id, _accepted(2, T0 + 1), T0 + 30 * 60_000)
    assert state.rows(T0 + 30 * 60_000)[0].readings_per_hour == 2
    assert state.rows(T0 + 61 * 60_000)[0].readings_per_hour == 1
    assert state.rows(T0 + 91 * 60_000)[0].readings_per_hour == 0


def test_a_device_never_heard_counts_its_silence_from_the_gateways_start() -> None:
    state = _state(grace_ms=GRACE, default_interval_ms=5_000)
    quiet = state.quiet("b2-temp", T0 + 5_000 + GRACE)
    assert not quiet.silent and not quiet.interval_observed and quiet.interval_ms == 5_000
    assert state.quiet("b2-temp", T0 + 5_001 + GRACE).silent


def test_a_retained_status_does_not_count_as_heard_but_a_fresh_one_does() -> None:
    state = _state(grace_ms=0, default_interval_ms=1_000)
    online = DeviceStatus("online", outbox=0, oldest_ts=None, fw="1.0")
    state.note_status(DEV.id, online, T0 + 100, retained=True)
    row = _row(state, DEV.id, T0 + 2_000)
    assert row.last_seen_ms is None and row.silent and row.status == online
    state.note_status(DEV.id, online, T0 + 1_500, retained=False)
    assert not _row(state, DEV.id, T0 + 2_000).silent


def test_a_growing_outbox_across_three_statuses_is_flagged_and_a_drop_clears_it() -> None:
    state = _state(backlog_statuses=3)
    for outbox in (5, 9):
        state.note_status(DEV.id, DeviceStatus("online", outbox, T0, "1.0"), T0, retained=False)
    assert not _row(state, DEV.id, T0).backlog_growing
    state.note_status(DEV.id, DeviceStatus("online", 12, T0, "1.0"), T0, retained=False)
    assert _row(state, DEV.id, T0).backlog_growing
    state.note_status(DEV.id, DeviceStatus("offline"), T0, retained=False)  # a will: no outbox
    assert _row(state, DEV.id, T0).backlog_growing
    state.note_status(DEV.id, DeviceStatus("online", 3, T0, "1.0"), T0, retained=False)
    assert not _row(state, DEV.id, T0).backlog_growing


def test_rejections_are_counted_by_reason_and_malformed_statuses_too() -> None:
    state = _state()
    bad = Decision(Verdict.REJECTED, "bad_signature", "no")
    state.note_entry(DEV.id, bad, T0)
    state.note_entry(DEV.id, bad, T0)
    state.note_entry(DEV.id, Decision(Verdict.REJECTED, "clock_skew", "ahead"), T0)
    state.note_status(DEV.id, None, T0, retained=False, malformed=True)
    row = _row(state, DEV.id, T0)
    assert row.rejections == {"bad_signature": 2, "clock_skew": 1, "malformed_status": 1}
    assert row.status is None and row.last_seen_ms == T0


def test_unknown_ids_are_bounded_and_an_accepted_entry_makes_a_device_tracked() -> None:
    state = _state(max_unknown=3)
    junk = Decision(Verdict.REJECTED, "unknown_signer", "who")
    for i in range(10):
        state.note_entry(f"stranger{i}", junk, T0 + i)
    assert [r.dev for r in state.rows(T0)] == ["stranger7", "stranger8", "stranger9"]
    state.note_entry(DEV.id, junk, T0)
    state.note_entry(DEV.id, _accepted(1, T0), T0)
    rows = state.rows(T0)
    assert rows[0].dev == DEV.id and rows[0].tracked and rows[0].rejections == {"unknown_signer": 1}
    for i in range(10, 20):
        state.note_entry(f"stranger{i}", junk, T0 + i)
    assert DEV.id in [r.dev for r in state.rows(T0)]


@pytest.mark.parametrize(
    "settings",
    [{"grace_ms": -1}, {"default_interval_ms": 0}, {"backlog_statuses": 1}, {"max_unknown": 0}],
)
def test_settings_out_of_range_are_refused(settings: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        FleetSettings(**settings)
