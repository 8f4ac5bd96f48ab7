"""Fixtures of the desk tests: a desk directory and its app (roles from config, no log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from desk_harness import AppFactory, make_desk_dir
from flask import Flask

from chain.keyfile import SignerKey
from desk import create_app


@pytest.fixture
def desk_dir(tmp_path: Path) -> Path:
    return make_desk_dir(tmp_path / "desk", SignerKey.generate("plant1"))


@pytest.fixture
def make_app(desk_dir: Path) -> AppFactory:
    """``make_app(**config)``: a desk on ``desk_dir`` (roles from config; no log needed)."""

    def make(**config: Any) -> Flask:
        base = {
            "DESK_DIR": desk_dir,
            "MQTT_URL": "mqtt://127.0.0.1:9",
            "FARM": "farm1",
            "CHECK_URL": "http://127.0.0.1:9",
            "ROLES": ["plant"],
            "RECEIPT_TIMEOUT": 1.0,
        }
        app = create_app({**base, **config})
        app.testing = True
        return app

    return make
