"""Log-in and log-out of staff, live sessions, and throttling of failed log-ins.

The session cookie (signed with the desk's secret) carries the user name, a
random session id and the CSRF token. The desk keeps the ids of live
sessions in memory: log-out ends a session for good, even if its cookie was
copied, and a restart of the desk logs everyone out. A session also ends
after ``SESSION_LIFETIME`` seconds, or when its user is removed from
``users.json``.

Failed log-ins are counted per (user name, client address): after
``LOGIN_LIMIT`` failures within ``LOGIN_WINDOW`` seconds, that pair is
refused (429, even with the right password) until the oldest failure ages
out of the window.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from desk._csrf import rotate_csrf
from desk._users import check_password

if TYPE_CHECKING:
    from desk._app import Desk

__all__ = ["LoginThrottle", "Sessions", "bp", "current_user", "login_required"]

_logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

_F = TypeVar("_F", bound=Callable[..., Any])


class LoginThrottle:
    """Failed log-ins per key within a sliding window; thread-safe; at most ``max_keys`` keys."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window, self._clock, self._max_keys = limit, window, clock, max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0.0
            return times[-self.limit] + self.window - now

    def failed(self, key: tuple[str, str]) -> None:
        """Count a failure of ``key``."""
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures."""
        with self._lock:
            self._failures.pop(key, None)


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


def _safe_next(target: str | None) -> str:
    """``target`` if it is a path on this desk, else the index (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("events.index")


@bp.get("/login")
def login() -> Any:
    if current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_post() -> Any:
    desk = _desk()
    name = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    key = (name, request.remote_addr or "?")
    wait = desk.throttle.wait(key)
    if wait > 0:
        desk.metrics.login_failures.labels("throttled").inc()
        _logger.warning("log-in of %r from %s refused: too many failures", name, key[1])
        minutes = max(1, round(wait / 60))
        error = f"Too many failed log-ins. Try again in {minutes} minute(s)."
        return render_template("login.html", next=target, error=error), 429
    users = desk.users()
    if not check_password(users, name, password):
        desk.throttle.failed(key)
        reason = "bad_password" if name in users else "unknown_user"
        desk.metrics.login_failures.labels(reason).inc()
        _logger.warning("failed log-in as %r from %s (%s)", name, key[1], reason)
        error = "Wrong user name or password."
        return render_template("login.html", next=target, error=error), 401
    desk.throttle.succeeded(key)
    session.clear()  # no session fixation: everything from before the log-in goes
    session["user"] = name
    session["sid"] = desk.sessions.start(name)
    session.permanent = True
    rotate_csrf()
    desk.metrics.logins.inc()
    _logger.info("%r logged in from %s", name, key[1])
    return redirect(_safe_next(target), 303)


@bp.post("/logout")
def logout() -> Response:
    _desk().sessions.end(session.get("sid"))
    session.clear()
    rotate_csrf()
    return redirect(url_for("auth.login"), 303)
