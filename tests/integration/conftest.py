"""Fixtures for tests against a real LevelDB store and the real command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import HttpLog, grow, serve

from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir

SMALL_FARM = DemoFarm(days=1, block_size=50, seed=11)


@pytest.fixture
def demo_dir(tmp_path: Path) -> DataDir:
    """A small demo farm's log: one day of 4 sensors, 50 entries per block."""
    data_dir = DataDir(tmp_path / "farm")
    build_demo_log(data_dir, SMALL_FARM)
    return data_dir


@pytest.fixture
def log_factory(tmp_path: Path) -> Iterator[LogFactory]:
    factory = LogFactory(tmp_path / "log")
    yield factory
    factory.close()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``farmtrace ARGS...`` in-process; return (exit code, stdout, stderr)."""
    from farmtrace.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LogFactory]:
    """A small log for a replica to follow: 4 blocks of 3 entries (grow it with ``grow``)."""
    factory = LogFactory(tmp_path / "source")
    grow(factory, 4)
    yield factory
    factory.close()


@pytest.fixture
def http(source: LogFactory) -> Iterator[HttpLog]:
    """``source`` served over HTTP by the read API on a free loopback port."""
    served = serve(source)
    yield served
    served.stop()
