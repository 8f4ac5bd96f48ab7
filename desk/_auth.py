"""Log-in and log-out of staff, live sessions, and throttling of failed log-ins.

The session cookie (signed with the desk's secret) carries the user name, a
random session id and the CSRF token. The desk keeps the ids of live
sessions in memory: log-out ends a session for good, even if its cookie was
copied, and a restart of the desk logs everyone out. A session also ends
after ``SESSION_LIFETIME`` seconds, or when its user is removed from
``users.json``.

Failed log-ins are counted per user name, per client address and per pair
of both (:mod:`desk._throttle`): while a count is at its limit, the log-in is
refused with 429 and ``Retry-After``, even with the right password. After a
log-in, the user goes back to the page asked for if it is a page of this
desk (:mod:`desk._redirect`), else to the index.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from desk._csrf import rotate_csrf
from desk._redirect import local_target
from desk._users import check_password

if TYPE_CHECKING:
    from desk._app import Desk

__all__ = ["Sessions", "bp", "current_user", "login_required"]

_logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

_F = TypeVar("_F", bound=Callable[..., Any])


class Sessions:
    """The ids of live sessions, each with its user and the time it ends; thread-safe."""

    def __init__(self, lifetime: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime, self._clock = lifetime, clock
        self._live: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> str:
        """A new session id for ``user``."""
        sid = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._live = {k: v for k, v in self._live.items() if v[1] > now}
            self._live[sid] = (user, now + self.lifetime)
        return sid

    def user_of(self, sid: object) -> str | None:
        """The user of live session ``sid``, or None."""
        if not isinstance(sid, str):
            return None
        with self._lock:
            found = self._live.get(sid)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def end(self, sid: object) -> None:
        """End session ``sid`` (if live)."""
        if isinstance(sid, str):
            with self._lock:
                self._live.pop(sid, None)


def _desk() -> Desk:
    desk: Desk = current_app.extensions["desk"]
    return desk


def current_user() -> str | None:
    """The logged-in user of this request, or None."""
    desk = _desk()
    user = desk.sessions.user_of(session.get("sid"))
    if user is None or session.get("user") != user or user not in desk.users():
        return None
    return user


def login_required(view: _F) -> _F:
    """Send a request without a live session to the log-in page (and back afterwards)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _next_page(target: str | None) -> str:
    """``target`` if it is a page of this desk, else the index (no open redirects)."""
    return local_target(target, current_app) or url_for("events.index")


@bp.get("/login")
def login() -> Any:
    if current_user() is not None:
        return redirect(_next_page(request.args.get("next")))
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_post() -> Any:
    desk = _desk()
    name = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    address = request.remote_addr or "?"
    hold = desk.throttle.wait(name, address)
    if hold is not None:
        desk.metrics.login_failures.labels("throttled").inc()
        _logger.warning(
            "log-in of %r from %s refused: too many failures (per %s)", name, address, hold.scope
        )
        minutes = max(1, round(hold.seconds / 60))
        error = f"Too many failed log-ins. Try again in {minutes} minute(s)."
        page = render_template("login.html", next=target, error=error)
        return page, 429, {"Retry-After": str(max(1, math.ceil(hold.seconds)))}
    users = desk.users()
    if not check_password(users, name, password):
        desk.throttle.failed(name, address)
        reason = "bad_password" if name in users else "unknown_user"
        desk.metrics.login_failures.labels(reason).inc()
        _logger.warning("failed log-in as %r from %s (%s)", name, address, reason)
        error = "Wrong user name or password."
        return render_template("login.html", next=target, error=error), 401
    desk.throttle.succeeded(name, address)
    session.clear()  # no session fixation: everything from before the log-in goes
    session["user"] = name
    session["sid"] = desk.sessions.start(name)
    session.permanent = True
    rotate_csrf()
    desk.metrics.logins.inc()
    _logger.info("%r logged in from %s", name, address)
    return redirect(_next_page(target), 303)


@bp.post("/logout")
def logout() -> Response:
    _desk().sessions.end(session.get("sid"))
    session.clear()
    rotate_csrf()
    return redirect(url_for("auth.login"), 303)
