"""Fixtures of the consumer site's tests: a story farm's log, built once, and flaskr-style apps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_site import StaticSiteData

from chain.store import Store
from consumer_web import create_app
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir

STORY_FARM = StoryFarm(days=4, birds=12, shelf_birds=8, lot_birds=3)


@dataclass(frozen=True)
class StoryLog:
    """The story farm's log, open, with what was put in it."""

    store: Store
    manifest: StoryManifest
    data_dir: DataDir


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoryLog]:
    """The story farm's log (four days, twelve birds), built once per session."""
    data_dir = DataDir(tmp_path_factory.mktemp("story") / "farm")
    manifest = build_story_log(data_dir, STORY_FARM)
    with Store.open(data_dir.log) as store:
        yield StoryLog(store, manifest, data_dir)


@pytest.fixture
def site_data(story: StoryLog) -> StaticSiteData:
    """The story log as site data; tests may set its sources, conflicts and as-of time."""
    return StaticSiteData(story.store, story.manifest.trust)


@pytest.fixture
def app(site_data: StaticSiteData) -> Flask:
    return create_app({"TESTING": True, "SITE_DATA": site_data, "WARM_CACHE": False})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
