"""Issue 11 item 7: where a log-in may send you, and throttling of sprayed guesses.

(Form results bound to their user: test_desk_submit.py, with a real gateway.)
"""

from __future__ import annotations

import pytest
from desk_harness import PASSWORD, AppFactory, csrf_of, log_in
from flask.testing import FlaskClient


def log_in_to(client: FlaskClient, target: str) -> str:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    data = {"username": "maria", "password": PASSWORD, "csrf_token": token, "next": target}
    response = client.post("/login", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"])


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # next=/%09/evil.example: a browser drops the tab: //evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "\t//evil.example",
        "/\\/evil.example",
        "/\\evil.example",
        "https:/evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "//evil.example/x",
        "///evil.example",
        "/events/packed\nSet-Cookie: x=1",
        "/\x00/evil.example",
        "/\u3000/evil.example",
        "/nowhere-on-this-desk",
        "",
    ],
)
def test_log_in_goes_nowhere_but_a_page_of_this_desk(make_app: AppFactory, target: str) -> None:
    assert log_in_to(make_app().test_client(), target) == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/events/packed", "/events/packed"),
        ("/events/packed?x=1", "/events/packed?x=1"),
        ("/events/packed#top", "/events/packed#top"),
        ("/recorded", "/recorded"),
    ],
)
def test_log_in_goes_back_to_a_page_of_this_desk(
    make_app: AppFactory, target: str, expected: str
) -> None:
    assert log_in_to(make_app().test_client(), target) == expected


def test_the_login_page_of_a_logged_in_user_redirects_safely_too(make_app: AppFactory) -> None:
    client = make_app().test_client()
    log_in(client)
    response = client.get("/login?next=/%09/evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    newline = client.get("/login?next=/%0A/evil.example")
    assert newline.status_code == 302 and newline.headers["Location"] == "/"


def test_one_password_sprayed_over_many_names_from_one_address_is_throttled(
    make_app: AppFactory,
) -> None:
    app = make_app()  # the default limits
    client = app.test_client()
    statuses = [
        log_in(client, user=f"user{n:02d}", password="Summer2026!").status_code for n in range(30)
    ]
    assert statuses[0] == 401 and 429 in statuses, statuses
    refused = log_in(client)  # even the right password of a real user, from that address
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed log-ins" in refused.get_data(as_text=True)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert log_in(elsewhere).status_code == 303  # another address is not held back


def test_one_user_guessed_from_many_addresses_is_throttled(make_app: AppFactory) -> None:
    app = make_app()
    statuses = []
    for n in range(30):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.1.{n}"
        statuses.append(log_in(client, password=f"guess number {n}").status_code)
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    assert 0 < statuses.index(429) <= 25


def test_a_throttled_answer_says_when_to_come_back(make_app: AppFactory) -> None:
    client = make_app(LOGIN_LIMIT=2, LOGIN_WINDOW=600.0).test_client()
    for _ in range(2):
        assert log_in(client, password="not the password").status_code == 401
    refused = log_in(client)
    assert refused.status_code == 429
    assert 590 <= int(refused.headers["Retry-After"]) <= 600
    assert "Try again in 10 minute(s)" in refused.get_data(as_text=True)


def test_the_throttle_keeps_bounded_memory(make_app: AppFactory) -> None:
    app = make_app(LOGIN_LIMIT=1, LOGIN_MAX_KEYS=8)
    throttle = app.extensions["desk"].throttle
    for n in range(50):
        throttle.failed(f"user{n}", f"10.0.2.{n}")
    assert throttle.size() <= 8
    hold = throttle.wait("user49", "10.0.2.49")  # the newest count is kept
    assert hold is not None and hold.scope == "pair"
    assert throttle.wait("user0", "10.0.2.0") is None  # the oldest went first


def test_over_https_a_post_must_come_from_the_desk_itself(make_app: AppFactory) -> None:
    client = make_app().test_client()
    https = "https://desk.example"
    page = client.get("/login", base_url=https)
    assert page.headers["Referrer-Policy"] == "same-origin"  # browsers send it to the desk
    data = {"username": "maria", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    for referrer in ("https://evil.example/login", "http://desk.example/login", None):
        headers: dict[str, str] = {} if referrer is None else {"Referer": referrer}
        refused = client.post("/login", data=data, headers=headers, base_url=https)
        assert refused.status_code == 400, referrer
        assert "did not come from this desk" in refused.text
    same_site = {"Referer": f"{https}/login"}
    assert client.post("/login", data=data, headers=same_site, base_url=https).status_code == 303
    text = client.get("/metrics", base_url=https).text
    assert 'desk_csrf_rejected_total{reason="referrer"} 3.0' in text
