"""The application factory: configuration, the desk's state, blueprints, headers, errors.

Configuration keys (defaults in :data:`DEFAULTS`)::

    DESK_DIR          the desk's directory: operator.key, state/ (the operator's seq
                      state), users.json (staff accounts), secret.key (session secret),
                      operators/<id>/ (the keys of people who sign as themselves,
                      desk.people)
    MQTT_URL          the broker, mqtt[s]://[user[:password]@]host[:port] (mqtts: TLS)
    MQTT_CA_FILE      with mqtts://: the CA of the broker's certificate (None: the system's)
    MQTT_CERT_FILE    with mqtts://: a client certificate (None: none) ...
    MQTT_KEY_FILE     ... and its key (None: in MQTT_CERT_FILE)
    FARM              the farm id (the MQTT topic level)
    SUBMIT_URL        instead of MQTT_URL and FARM: a gateway taking entries over HTTP
                      (an operator-only log), http[s]://host[:port]
    CHECK_URL         a read API (gateway or site) for the pre-checks and the roles
    PINS              a pins file (docs/supply-chain.md section 4): the other logs the
                      forms may name entries of (None: none; desk/_refs.py)
    REF_TIMEOUT       seconds to wait for each source of another log
    FLEET_URL         the gateway whose fleet view the /fleet page shows (None: CHECK_URL)
    FLEET_REFRESH     seconds between reloads of the /fleet page
    ROLES             the operator's roles; None: read its registration in the log
    RECEIPT_TIMEOUT   seconds to wait for the gateway's receipt of an event
    LOGIN_LIMIT       failed log-ins of one user name from one address ...
    LOGIN_USER_LIMIT  ... of one user name from any address ...
    LOGIN_ADDRESS_LIMIT  ... of any user name from one address ...
    LOGIN_WINDOW      ... within this many seconds, before such log-ins are refused
    LOGIN_MAX_KEYS    how many of those counts are kept in memory at most
    CLOCK             the throttle's clock, seconds (default: time.monotonic; tests pass their own)
    SESSION_LIFETIME  seconds a log-in lasts
    TIMEZONE          the zone of the times staff type in (an IANA name)
    SESSION_COOKIE_SECURE  send the session cookie over HTTPS only (set it behind TLS)
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from chain.errors import FarmtraceError
from chain.keyfile import load_key
from desk import _auth, _fleet, _forms
from desk._auth import Sessions, current_user
from desk._csrf import CSRFError, csrf_reason, install_csrf
from desk._operator import Operator
from desk._refs import OwnOrigin
from desk._throttle import LoginThrottle, ThrottleLimits
from desk._users import load_operators, load_users, read_secret
from readapi.crosslog import Pins, load_pins
from signer.http_submit import SubmitUrl, parse_submit_url
from signer.identity import KEY_FILE as STATE_KEY_FILE
from signer.mqtt_tls import tls_context
from signer.mqtt_url import MqttUrl, parse_mqtt_url, with_tls_files

__all__ = [
    "CSP",
    "DEFAULTS",
    "KEY_FILE",
    "MQTT_PASSWORD_FILE",
    "OPERATORS_DIR",
    "SECRET_FILE",
    "STATE_DIR",
    "USERS_FILE",
    "Desk",
    "Metrics",
    "create_app",
]

KEY_FILE, STATE_DIR, USERS_FILE, SECRET_FILE = "operator.key", "state", "users.json", "secret.key"
OPERATORS_DIR, MQTT_PASSWORD_FILE = "operators", "mqtt-password"

DEFAULTS: Mapping[str, Any] = {
    "DESK_DIR": None,
    "MQTT_URL": None,
    "MQTT_CA_FILE": None,
    "MQTT_CERT_FILE": None,
    "MQTT_KEY_FILE": None,
    "FARM": None,
    "SUBMIT_URL": None,
    "CHECK_URL": None,
    "PINS": None,
    "REF_TIMEOUT": 5.0,
    "FLEET_URL": None,
    "FLEET_REFRESH": 15,
    "ROLES": None,
    "RECEIPT_TIMEOUT": 30.0,
    "LOGIN_LIMIT": 5,
    "LOGIN_USER_LIMIT": 20,
    "LOGIN_ADDRESS_LIMIT": 20,
    "LOGIN_WINDOW": 900.0,
    "LOGIN_MAX_KEYS": 10_000,
    "SESSION_LIFETIME": 8 * 3600.0,
    "TIMEZONE": "UTC",
    "SESSION_COOKIE_SECURE": False,
}

CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
"""The Content-Security-Policy of every response: our own stylesheet, no scripts at all."""

_MESSAGES = {
    400: "The request was not understood.",
    403: "This desk may not do that.",
    404: "There is no such page on this desk.",
    405: "That is not how this page is used.",
    413: "The form is too large.",
    500: "Something went wrong on the desk. Nothing was signed by this request.",
}
_CSRF = (
    "The form had expired or did not come from this desk. Nothing was signed: "
    "go back, reload it and try again."
)


class Metrics:
    """The desk's counters, in a registry of its own (served at ``/metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.logins = Counter("desk_logins", "Successful log-ins", registry=self.registry)
        self.login_failures = Counter(
            "desk_login_failures", "Refused log-ins", ["reason"], registry=self.registry
        )
        self.csrf_rejected = Counter(
            "desk_csrf_rejected", "Requests refused for a bad CSRF token", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.events = Counter(
            "desk_events", "Event submissions", ["event", "outcome"], registry=self.registry
        )


class Desk:
    """Everything a request may need: the operator, staff accounts, sessions, throttle, metrics."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        submit = config.get("SUBMIT_URL")
        for name in ("DESK_DIR", "CHECK_URL") + (() if submit else ("MQTT_URL", "FARM")):
            if not config[name]:
                raise ValueError(f"{name}: required")
        if submit and (config.get("MQTT_URL") or config.get("FARM")):
            raise ValueError("SUBMIT_URL: give it instead of MQTT_URL and FARM, not with them")
        root = Path(config["DESK_DIR"])
        self.root = root
        self.secret = read_secret(root / SECRET_FILE)
        roles = config["ROLES"]
        self.route: MqttUrl | SubmitUrl
        """The broker the desk sends through, or the gateway it submits to over HTTP."""
        if submit:
            self.route = parse_submit_url(str(submit))
        else:
            self.route = with_tls_files(
                parse_mqtt_url(str(config["MQTT_URL"])),
                *(config.get(n) for n in ("MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE")),
            )
            if self.route.tls:
                tls_context(self.route)  # unusable TLS files: refuse to start, not at first use
        self.pins: Pins | None = None if not config.get("PINS") else load_pins(Path(config["PINS"]))
        """The other logs the event forms may name entries of (desk/_refs.py)."""
        self.ref_timeout = float(config["REF_TIMEOUT"])
        self.own_origin = OwnOrigin(str(config["CHECK_URL"]), self.ref_timeout)
        """The desk's own log, never offered as another (desk/_refs.py)."""
        self.operator = Operator(
            load_key(root / KEY_FILE),
            root / STATE_DIR,
            str(config["CHECK_URL"]),
            self.route,
            str(config["FARM"] or ""),
            roles=None if roles is None else frozenset(roles),
            timeout=float(config["RECEIPT_TIMEOUT"]),
        )
        self._people: dict[str, Operator] = {}
        self._people_lock = threading.Lock()
        try:
            self.zone = zoneinfo.ZoneInfo(str(config["TIMEZONE"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"TIMEZONE: not a known zone: {config['TIMEZONE']!r}") from exc
        limits = ThrottleLimits(
            pair=int(config["LOGIN_LIMIT"]),
            user=int(config["LOGIN_USER_LIMIT"]),
            address=int(config["LOGIN_ADDRESS_LIMIT"]),
            window=float(config["LOGIN_WINDOW"]),
        )
        clock = config.get("CLOCK") or time.monotonic
        self.throttle = LoginThrottle(limits, clock=clock, max_keys=int(config["LOGIN_MAX_KEYS"]))
        self.sessions = Sessions(float(config["SESSION_LIFETIME"]))
        self.metrics = Metrics()
        self._users_path = root / USERS_FILE
        self._users: tuple[tuple[int, int], dict[str, str], dict[str, str]] | None = None
        self.users()

    def _load_users(self) -> tuple[dict[str, str], dict[str, str]]:
        try:
            stat = self._users_path.stat()
            version = (stat.st_mtime_ns, stat.st_ino)  # a rewrite is a new inode
        except FileNotFoundError:
            version = (-1, -1)
        if self._users is None or self._users[0] != version:
            users = load_users(self._users_path)
            self._users = (version, users, load_operators(self._users_path))
        return self._users[1], self._users[2]

    def users(self) -> dict[str, str]:
        """User name -> password hash, re-read when ``users.json`` changes."""
        return self._load_users()[0]

    def operator_for(self, user: str | None) -> Operator:
        """The operator ``user`` signs as: a person's own (``operators/<id>/``), else the desk's.

        A person's roles always come from the log (never ``ROLES``). They log
        in to the broker as themselves, with the password in
        ``operators/<id>/mqtt-password`` if there is one (else none).

        Raises:
            OSError, MalformedError: the person's key or password file is missing or bad.
        """
        operator = self._load_users()[1].get(user or "")
        if operator is None:
            return self.operator
        with self._people_lock:
            found = self._people.get(operator)
            if found is None:
                state = self.root / OPERATORS_DIR / operator
                secret = state / MQTT_PASSWORD_FILE
                password = secret.read_text().strip() if secret.exists() else None
                found = Operator(
                    load_key(state / STATE_KEY_FILE),
                    state,
                    self.operator.check_url,
                    self.route
                    if isinstance(self.route, SubmitUrl)
                    else dataclasses.replace(self.route, username=operator, password=password),
                    self.operator.farm,
                    timeout=self.operator.timeout,
                )
                self._people[operator] = found
        return found


def _secure(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"  # the CSRF check's Referer, over HTTPS
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cache-Control"] = "no-store"
    return response


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the desk: ``config`` overrides :data:`DEFAULTS` (see the module docstring).

    Raises:
        ValueError: a required key is missing, a bad MQTT URL or TLS file, or time zone.
        StorageError: ``DESK_DIR`` has no readable ``secret.key``, or
            ``users.json`` or the ``PINS`` file (or a file it names) cannot be read.
        MalformedError: ``operator.key``, ``users.json`` or ``PINS`` is malformed.
        FileNotFoundError: ``DESK_DIR`` has no ``operator.key``.
    """
    app = Flask("desk")
    app.config.from_mapping(DEFAULTS)
    if config is not None:
        app.config.from_mapping(config)
    desk = Desk(app.config)
    app.extensions["desk"] = desk
    app.config.update(
        SECRET_KEY=desk.secret,
        SESSION_COOKIE_NAME="desk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=app.config["SESSION_LIFETIME"]),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    install_csrf(app)
    app.register_blueprint(_auth.bp)
    app.register_blueprint(_forms.bp)
    app.register_blueprint(_fleet.bp)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        try:
            user = current_user()
            operator_id = desk.operator_for(user).id
        except (FarmtraceError, OSError):  # users.json or a key unreadable: the page still shows
            user, operator_id = None, desk.operator.id
        return {"user": user, "operator_id": operator_id}

    @app.errorhandler(HTTPException)
    def page_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if isinstance(exc, CSRFError):
            desk.metrics.csrf_rejected.labels(csrf_reason(exc)).inc()
            message = _CSRF
        else:
            message = _MESSAGES.get(code, _MESSAGES[400 if code < 500 else 500])
        body = render_template("error.html", code=code, message=message)
        response = Response(body, status=code, mimetype="text/html")
        if code == 405:
            allowed = exc.get_response().headers.get("Allow")
            if allowed:
                response.headers["Allow"] = allowed
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        """The desk's counters (Prometheus text format)."""
        return Response(generate_latest(desk.metrics.registry), content_type=CONTENT_TYPE_LATEST)

    app.after_request(_secure)
    return app
