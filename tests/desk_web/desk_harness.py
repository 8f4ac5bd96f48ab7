"""Helpers of the desk tests: desk directories, tokens, log-in and form submission."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from chain.keyfile import SignerKey, save_key
from desk import KEY_FILE, SECRET_FILE, STATE_DIR, USERS_FILE, add_user, write_secret

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')


def make_desk_dir(root: Path, key: SignerKey, users: tuple[str, ...] = ("maria",)) -> Path:
    """A desk directory for ``key`` with staff ``users`` (password :data:`PASSWORD`)."""
    root.mkdir(parents=True)
    save_key(key, root / KEY_FILE)
    write_secret(root / SECRET_FILE)
    for user in users:
        add_user(root / USERS_FILE, user, PASSWORD)
    return root


def reserved_seq(desk_dir: Path) -> int:
    """The operator's durable seq high-water mark (0 before anything was signed)."""
    path = desk_dir / STATE_DIR / "seq.json"
    return int(json.loads(path.read_text())["reserved"]) if path.exists() else 0


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found[1]


def form_id_of(html: str) -> str:
    found = _FORM_ID.search(html)
    assert found is not None, html
    return found[1]


def log_in(client: FlaskClient, user: str = "maria", password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token})


def submit(client: FlaskClient, kind: str, fields: dict[str, str]) -> Any:
    """Open the form of ``kind`` and post ``fields`` with its tokens."""
    page = client.get(f"/events/{kind}")
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    data = {"csrf_token": csrf_of(html), "form_id": form_id_of(html), **fields}
    return client.post(f"/events/{kind}", data=data)


AppFactory = Callable[..., Flask]
"""``make_app(**config)``, the fixture of conftest.py."""
