"""The replica's state file and logs: damaged files, the conflict cap, one log line per failure."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import HttpLog

from chain import note
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.errors import StorageError
from consumer_web._replica import Replica
from consumer_web._replica_state import MAX_CONFLICTS
from readapi.client import urllib_transport


def test_a_damaged_state_file_is_refused_and_names_itself(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    site = tmp_path / "site"
    with Replica(site, [http.url], trust=source.trust) as replica:
        replica.sync_once()
    state = site / "replica-state.json"
    state.write_text(state.read_text()[:-20])
    with pytest.raises(StorageError, match=r"replica-state\.json is not a replica state file"):
        Replica(site, [http.url], trust=source.trust)
    state.unlink()  # moved away: a fresh state, the same verified store
    with Replica(site, [http.url], trust=source.trust) as replica:
        assert replica.status().tree_size == source.store.size
        assert replica.status().as_of_ms is None
        assert replica.sync_once().as_of_ms is not None


def test_conflicts_are_capped_oldest_first(tmp_path: Path, source: LogFactory) -> None:
    """A source signing a new foreign checkpoint every round cannot grow the file without end."""
    _, signed = source.store.latest_checkpoint() or (0, "")
    root = Checkpoint.from_text(note.parse(signed).text).root_hash
    signer, _ = note.generate_key(source.store.origin)  # same origin, another key
    round_no = [0]

    def foreign(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        return (
            200,
            {},
            sign_checkpoint(Checkpoint(source.store.origin, round_no[0], root), signer).encode(),
        )

    with Replica(tmp_path / "site", ["http://foreign"], trust=source.trust, transport=foreign) as r:
        for number in range(1, MAX_CONFLICTS + 6):
            round_no[0] = number
            r.sync_once()
        conflicts = r.status().conflicts
        assert len(conflicts) == MAX_CONFLICTS
        assert [c.reason for c in conflicts] == ["wrong_log"] * MAX_CONFLICTS
        assert f"\n{6}\n" in conflicts[0].theirs  # rounds 1-5 were dropped
        total = r.metrics_registry.get_sample_value(
            "replica_conflicts_total", {"source": "http://foreign"}
        )
        assert total == MAX_CONFLICTS + 5


def test_each_failure_is_logged_once_until_the_source_recovers(
    tmp_path: Path, source: LogFactory, http: HttpLog, caplog: pytest.LogCaptureFixture
) -> None:
    down = True

    def flaky(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        if down:
            raise ConnectionRefusedError("refused")
        return urllib_transport(method, url, timeout)

    caplog.set_level(logging.INFO, logger="consumer_web.replica")
    with Replica(tmp_path / "site", [http.url], trust=source.trust, transport=flaky) as replica:

        def lines() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "consumer_web.replica"]

        for _ in range(3):
            replica.sync_once()
        assert len(lines()) == 1 and "unreachable" in lines()[0]
        down = False
        replica.sync_once()
        assert len(lines()) == 2 and "is back" in lines()[1]
        down = True
        replica.sync_once()
        assert len(lines()) == 3
        assert (
            replica.metrics_registry.get_sample_value(
                "replica_sync_total", {"source": http.url, "result": "unreachable"}
            )
            == 4
        )
