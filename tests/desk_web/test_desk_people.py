"""People with keys of their own at a desk: their log-ins, their operator, their refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from desk_harness import AppFactory, csrf_of, log_in

from desk import USERS_FILE, add_user, load_users
from desk._users import load_operators, remove_users
from desk.people import (
    add_person_login,
    new_person_key,
    person_key,
    remove_person_logins,
    save_person_mqtt_password,
)


def test_users_of_an_operator_are_kept_apart_and_removed_together(tmp_path: Path) -> None:
    users = tmp_path / USERS_FILE
    add_user(users, "maria", "a long enough secret")
    add_user(users, "vet2", "another long secret", operator="vet2")
    add_user(users, "li", "another long secret", operator="vet2")
    add_user(users, "maria", "a new long secret")  # rewriting one keeps the others' operator
    assert load_operators(users) == {"li": "vet2", "vet2": "vet2"}
    assert remove_users(users, operator="vet2") == ["li", "vet2"]
    assert list(load_users(users)) == ["maria"] and load_operators(users) == {}
    assert remove_users(users, operator="vet2") == []
    assert stat.S_IMODE(users.stat().st_mode) == 0o600


def test_a_person_gets_a_key_a_password_once_and_no_second_key(desk_dir: Path) -> None:
    key = new_person_key(desk_dir, "vet2")
    assert person_key(desk_dir, "vet2") == key
    with pytest.raises(FileExistsError):
        new_person_key(desk_dir, "vet2")
    password = add_person_login(desk_dir, "vet2")
    assert len(password) >= 16
    with pytest.raises(ValueError, match="exists at this desk"):
        add_person_login(desk_dir, "vet2", "maria")
    saved = save_person_mqtt_password(desk_dir, "vet2", "pw")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="not a desk directory"):
        new_person_key(desk_dir / "elsewhere", "vet3")
    seq = json.loads((desk_dir / "operators" / "vet2" / "seq.json").read_text())
    assert seq == {"dev": "vet2", "reserved": 0}


def test_a_person_signs_as_themselves_and_is_refused_once_retired(
    desk_dir: Path, make_app: AppFactory
) -> None:
    new_person_key(desk_dir, "vet2")
    password = add_person_login(desk_dir, "vet2")  # while the desk runs: no restart needed
    client = make_app().test_client()
    assert log_in(client, "vet2", password).status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert "<code>vet2</code>" in page  # not the desk's plant1, nor its configured roles
    assert "cannot read vet2" in page and 'href="/events/' not in page  # roles: the log's
    token = csrf_of(page)
    posted = client.post("/events/packed", data={"csrf_token": token, "form_id": "x" * 20})
    assert posted.status_code == 403  # refused on the server, whatever the page showed

    maria = make_app().test_client()
    assert log_in(maria).status_code == 303
    assert 'href="/events/packed"' in maria.get("/").get_data(as_text=True)  # the desk's roles

    assert remove_person_logins(desk_dir, "vet2") == ["vet2"]
    assert client.get("/").status_code == 302  # the session ended with the log-in
    assert log_in(client, "vet2", password).status_code == 401
    assert maria.get("/").status_code == 200
