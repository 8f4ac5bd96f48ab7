"""The desk's gate: log-in required, failed log-ins counted and throttled, CSRF, sessions, CSP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_harness import PASSWORD, AppFactory, csrf_of, log_in, reserved_seq, submit

from desk import CSP, USERS_FILE, add_user, load_users

PAGES_WITHOUT_LOGIN = ["/", "/events/packed", "/events/slaughtered", "/recorded"]


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("path", PAGES_WITHOUT_LOGIN)
def test_pages_redirect_to_the_login_when_not_logged_in(make_app: AppFactory, path: str) -> None:
    client = make_app().test_client()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert response.headers["Content-Security-Policy"] == CSP


def test_a_post_without_a_session_signs_nothing(make_app: AppFactory, desk_dir: Path) -> None:
    client = make_app().test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "form_id": "x" * 24, "subjects": "bird:1", "plant": "p"}
    response = client.post("/events/slaughtered", data={**data, "outputs": "carcass:1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert reserved_seq(desk_dir) == 0


def test_login_then_back_to_the_page_asked_for(make_app: AppFactory) -> None:
    client = make_app().test_client()
    first = client.get("/events/packed")
    token = csrf_of(client.get(first.headers["Location"]).get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": "maria",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/events/packed",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/events/packed"
    page = client.get("/events/packed")
    assert page.status_code == 200
    assert 'name="gtin"' in page.get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_the_desk(make_app: AppFactory, target: str) -> None:
    client = make_app().test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": "maria", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_and_unknown_user_are_refused_and_counted(make_app: AppFactory) -> None:
    app = make_app()
    client = app.test_client()
    wrong = log_in(client, password="not the password")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.get_data(as_text=True)
    assert log_in(client, user="mallory").status_code == 401
    assert client.get("/").status_code == 302  # still not logged in
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, 'desk_login_failures_total{reason="bad_password"}') == 1
    assert metric(text, 'desk_login_failures_total{reason="unknown_user"}') == 1
    assert metric(text, "desk_logins_total") == 0


def test_failed_logins_are_throttled_per_user_and_address(make_app: AppFactory) -> None:
    now = [1000.0]  # the throttle's clock, moved by hand: a busy machine cannot age a failure
    app = make_app(LOGIN_LIMIT=3, LOGIN_WINDOW=60.0, CLOCK=lambda: now[0])
    client = app.test_client()
    for _ in range(3):
        assert log_in(client, password="guess guess guess").status_code == 401
    refused = log_in(client)  # the right password, but too many failures
    assert refused.status_code == 429
    assert "Too many failed log-ins" in refused.get_data(as_text=True)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert log_in(other).status_code == 303  # another address is not held back
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, 'desk_login_failures_total{reason="throttled"}') == 1
    now[0] += 59.0
    assert log_in(client).status_code == 429  # still inside the window
    now[0] += 1.5
    assert log_in(client).status_code == 303


def test_login_and_logout_need_the_csrf_token(make_app: AppFactory) -> None:
    app = make_app()
    client = app.test_client()
    client.get("/login")
    missing = client.post("/login", data={"username": "maria", "password": PASSWORD})
    assert missing.status_code == 400
    assert "did not come from this desk" in missing.get_data(as_text=True)
    assert missing.headers["Content-Security-Policy"] == CSP
    wrong = client.post(
        "/login", data={"username": "maria", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert wrong.status_code == 400
    assert client.get("/").status_code == 302
    assert log_in(client).status_code == 303
    assert client.post("/logout").status_code == 400  # a forged log-out is refused too
    assert client.get("/").status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, 'desk_csrf_rejected_total{reason="missing"}') == 2
    assert metric(text, 'desk_csrf_rejected_total{reason="mismatch"}') == 1


@pytest.mark.parametrize("token", [None, "", "wrong-token", "\u00e9\u00e9"])
def test_event_post_with_a_bad_csrf_token_signs_nothing(
    make_app: AppFactory, desk_dir: Path, token: str | None
) -> None:
    client = make_app().test_client()
    log_in(client)
    html = client.get("/events/slaughtered").get_data(as_text=True)
    data = {"subjects": "bird:0001", "plant": "riverside", "outputs": "carcass:0001"}
    data["form_id"] = html.split('name="form_id" value="')[1].split('"')[0]
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/events/slaughtered", data=data)
    assert response.status_code == 400
    assert "Nothing was signed" in response.get_data(as_text=True)
    assert reserved_seq(desk_dir) == 0


def test_a_token_from_another_session_is_refused(make_app: AppFactory) -> None:
    app = make_app()
    mallory, maria = app.test_client(), app.test_client()
    stolen = csrf_of(mallory.get("/login").get_data(as_text=True))
    log_in(maria)
    assert maria.post("/logout", data={"csrf_token": stolen}).status_code == 400


def test_logout_ends_the_session_even_for_a_copied_cookie(make_app: AppFactory) -> None:
    app = make_app()
    client = app.test_client()
    log_in(client)
    copied = client.get_cookie("desk_session")
    assert copied is not None
    token = csrf_of(client.get("/").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("desk_session", copied.value)
    assert thief.get("/").status_code == 302


def test_a_removed_user_is_logged_out(make_app: AppFactory, desk_dir: Path) -> None:
    app = make_app()
    client = app.test_client()
    log_in(client)
    assert client.get("/").status_code == 200
    (desk_dir / USERS_FILE).write_text(json.dumps({"users": {}}))
    assert client.get("/").status_code == 302


def test_a_new_desk_restart_logs_everyone_out(make_app: AppFactory) -> None:
    client = make_app().test_client()
    log_in(client)
    cookie = client.get_cookie("desk_session")
    assert cookie is not None
    again = make_app().test_client()
    again.set_cookie("desk_session", cookie.value)
    assert again.get("/").status_code == 302


def test_users_file_keeps_salted_hashes_not_passwords(desk_dir: Path) -> None:
    add_user(desk_dir / USERS_FILE, "jonas", "another long password")
    text = (desk_dir / USERS_FILE).read_text()
    assert "another long password" not in text and PASSWORD not in text
    users = load_users(desk_dir / USERS_FILE)
    assert users["jonas"].startswith("scrypt:") and users["maria"] != users["jonas"]
    assert (desk_dir / USERS_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="at least 10"):
        add_user(desk_dir / USERS_FILE, "short", "short")
    with pytest.raises(ValueError, match="user name"):
        add_user(desk_dir / USERS_FILE, "<b>x</b>", "long enough password")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/login", 200),
        ("GET", "/nowhere", 404),
        ("PUT", "/login", 405),
        ("GET", "/metrics", 200),
    ],
)
def test_every_answer_has_the_strict_csp(
    make_app: AppFactory, method: str, path: str, status: int
) -> None:
    response = make_app().test_client().open(path, method=method)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src" not in CSP and "'unsafe-inline'" not in CSP
    assert response.headers["X-Frame-Options"] == "DENY"


def test_logged_in_pages_have_the_csp_and_no_inline_code(make_app: AppFactory) -> None:
    client = make_app().test_client()
    log_in(client)
    for path in ("/", "/events/packed", "/events/nonsense", "/events/hatched"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert "<script" not in html and "style=" not in html and "<style" not in html, path


def test_only_the_kinds_of_the_operators_roles_are_offered(make_app: AppFactory) -> None:
    client = make_app(ROLES=["vet"]).test_client()
    log_in(client)
    index = client.get("/").get_data(as_text=True)
    assert "/events/inspected" in index and "/events/vaccinated" in index
    assert "/events/packed" not in index
    refused = client.get("/events/packed")
    assert refused.status_code == 403
    assert "may not record packed events" in refused.get_data(as_text=True)
    unknown = client.get("/events/teleported")
    assert unknown.status_code == 404


def test_hostile_input_is_escaped_and_refused_without_a_seq(
    make_app: AppFactory, desk_dir: Path
) -> None:
    client = make_app().test_client()
    log_in(client)
    hostile = '<script>alert("x")</script>'
    fields = {"subjects": f"bird:{hostile}", "plant": hostile, "outputs": "carcass:1"}
    response = submit(client, "slaughtered", fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>" not in html
    assert "&lt;script&gt;" in html  # echoed in the form, escaped
    assert "Please correct the form" in html
    assert reserved_seq(desk_dir) == 0


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("slaughtered", {"subjects": "bird:1", "outputs": "carcass:1"}, "plant: required"),
        (
            "slaughtered",
            {"subjects": "bird:1 bird:2", "plant": "p", "outputs": "carcass:1"},
            "exactly one subject",
        ),
        ("packed", {"subjects": "carcass:1", "gtin": "09506000134352"}, "serial, lot"),
        ("packed", {"subjects": "carcass:1", "gtin": "09506000134353", "lot": "L1"}, "check digit"),
        (
            "packed",
            {"subjects": "carcass:1", "gtin": "09506000134352", "lot": "L1", "weight_g": "heavy"},
            "weight_g: expected a whole number",
        ),
        ("packed", {"subjects": "", "gtin": "09506000134352", "lot": "L1"}, "subjects"),
        ("recalled", {"subjects": "bird:1", "reason": "r", "when": "2999-01-01T00:00"}, "future"),
        ("recalled", {"subjects": "bird:1", "reason": "r", "when": "yesterday"}, "when:"),
    ],
)
def test_invalid_forms_name_the_problem_and_use_no_seq(
    make_app: AppFactory, desk_dir: Path, kind: str, fields: dict[str, str], message: str
) -> None:
    client = make_app(ROLES=["plant"]).test_client()
    log_in(client)
    response = submit(client, kind, fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert reserved_seq(desk_dir) == 0


def test_a_failure_inside_the_desk_is_a_friendly_page(make_app: AppFactory, desk_dir: Path) -> None:
    app = make_app()
    app.testing = False  # as in production: no exception reaches the client
    client = app.test_client()
    log_in(client)
    (desk_dir / USERS_FILE).write_text("{not json")
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Nothing was signed" in html and "Traceback" not in html
    assert response.headers["Content-Security-Policy"] == CSP
