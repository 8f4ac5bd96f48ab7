"""A source that shrinks what it served before is a rollback conflict; a lagging mirror is not."""

from __future__ import annotations

from pathlib import Path

from farm_logs import LogFactory
from followed_logs import FactorySource, HttpLog, fork, grow, serve

from consumer_web._replica import Replica


def test_a_source_that_goes_back_in_time_is_a_rollback_conflict_that_survives_a_restart(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    backup = fork(source, tmp_path / "backup")  # the operator's old backup
    mirror = fork(source, tmp_path / "mirror")  # a mirror that never caught up
    lagging = serve(mirror)
    try:
        grow(source, 2)
        sources = [http.url, lagging.url]
        with Replica(tmp_path / "site", sources, trust=source.trust) as replica:
            status = replica.sync_once()
            assert [s.last_result for s in status.sources] == ["ok", "behind"]
            witnessed = status.tree_size
            assert witnessed == source.store.size > backup.store.size

            assert isinstance(http.info, FactorySource)
            http.info.factory = backup  # the gateway's data dir is restored from the backup
            status = replica.sync_once()
            assert [s.last_result for s in status.sources] == ["conflict", "behind"]
            (conflict,) = status.conflicts
            assert conflict.reason == "rollback" and conflict.source == http.url
            assert f"{witnessed} blocks before, and now one of {backup.store.size}" in (
                conflict.message
            )
            assert conflict.theirs.split("\n")[1] == str(backup.store.size)
            assert status.tree_size == witnessed  # the longer, checked history is kept
            assert replica.sync_once().conflicts == status.conflicts  # recorded once

        with Replica(tmp_path / "site", sources, trust=source.trust) as reopened:
            assert [c.reason for c in reopened.status().conflicts] == ["rollback"]
    finally:
        lagging.stop()
        mirror.close()
        backup.close()
