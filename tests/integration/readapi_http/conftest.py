"""A real LevelDB log served by the read API through Flask's test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from served_log import ServedLog, build_served_log

from readapi import create_app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedLog]:
    """The log of :func:`served_log.build_served_log`, closed afterwards."""
    log = build_served_log(tmp_path / "log")
    yield log
    log.factory.close()


@pytest.fixture
def app(served: ServedLog) -> Flask:
    return create_app(served.source)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
