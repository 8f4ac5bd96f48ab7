"""The live demo's operators' desk: a child process, its staff log-in, and how to add a vet to it.

The desk (``farmtrace desk run``) signs as an operator of its own,
:data:`DESK_OPERATOR` (role ``farm``: the farm office), which the admin
registers once. Its staff log in as :data:`STAFF_USER` with a generated
password kept in ``ROOT/desk-staff-login`` (mode 0600). People added with
``farmtrace operator add --desk-dir ROOT/desk`` sign at it as themselves;
:func:`people_commands` gives the exact commands, which send as
:data:`CLI_USER`, a broker login with the admin's topics (logging in as
``admin`` would knock the demo's own admin session off the broker).

A demo directory made before the desk existed gains it on its next run.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chain.entries import operator_payload
from chain.keyfile import load_key
from demo._lifeline import die_with_us
from gateway.broker_accounts import BrokerAccounts, BrokerAdmin
from gateway.broker_config import new_password

__all__ = [
    "CLI_USER",
    "DESK_OPERATOR",
    "STAFF_USER",
    "DemoDesk",
]

DESK_OPERATOR = "farm-desk"
STAFF_USER = "staff"
CLI_USER = "admin.cli"
"""The broker login the printed ``operator add|retire`` commands send the admin's entries as."""
_OPERATOR_KEY = "operator.key"  # the desk directory's (desk/_app.py KEY_FILE)


class DemoDesk:
    """The desk of the demo in ``root``, its broker at 127.0.0.1:``mqtt_port``."""

    def __init__(self, root: Path, farm: str, mqtt_port: int, credentials: Path) -> None:
        self.root = root
        self.dir = root / "desk"
        self.farm = farm
        self.mqtt_port = mqtt_port
        self.credentials = credentials
        self.staff_login = root / "desk-staff-login"
        self.log_path = root / "desk.log"
        self._setting_up: threading.Thread | None = None
        self._set_up_error: Exception | None = None

    def set_up_meanwhile(self) -> None:
        """:meth:`set_up` in a thread, while the broker and the gateway start; see :meth:`ready`."""
        self._setting_up = threading.Thread(target=self._set_up_caught, name="desk set-up")
        self._setting_up.start()

    def _set_up_caught(self) -> None:
        try:
            self.set_up()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            self._set_up_error = exc

    def ready(self) -> None:
        """Wait for :meth:`set_up_meanwhile`.

        Raises:
            RuntimeError: the set-up failed (the cause says why).
        """
        if self._setting_up is not None:
            self._setting_up.join()
        if self._set_up_error is not None:
            raise RuntimeError(f"the desk could not be set up: {self._set_up_error}")

    def set_up(self) -> None:
        """Create the desk directory and its staff log-in unless they exist (idempotent).

        Raises:
            RuntimeError: ``farmtrace desk init`` or ``adduser`` failed.
            OSError: the log-in file cannot be written.
        """
        if not (self.dir / _OPERATOR_KEY).exists():
            self._farmtrace("init", "--desk-dir", str(self.dir), "--operator-id", DESK_OPERATOR)
        if not self.staff_login.exists():
            password = new_password()
            self._farmtrace(
                "adduser", "--desk-dir", str(self.dir), "--username", STAFF_USER,
                "--password-stdin", stdin=password + "\n",
            )  # fmt: skip
            _write_secret(self.staff_login, f"user: {STAFF_USER}\npassword: {password}\n")

    def _farmtrace(self, *args: str, stdin: str = "") -> None:
        done = subprocess.run(
            [sys.executable, "-m", "farmtrace", "desk", *args],
            input=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"farmtrace desk {args[0]} failed: {done.stderr.strip()}")

    def add_logins(self, users: dict[str, str], accounts_user: str) -> None:
        """Give the admin's CLI login (:data:`CLI_USER`) the admin's topics, once.

        ``users`` (the demo's credentials, written to :attr:`credentials`)
        gains its password. Call with the broker running.

        Raises:
            AccountError: the broker refused.
        """
        admin = BrokerAdmin("127.0.0.1", self.mqtt_port, accounts_user, users[accounts_user])
        with BrokerAccounts(admin, self.farm) as accounts:
            if CLI_USER in users and accounts.exists(CLI_USER):
                return
            users[CLI_USER] = new_password()
            _write_secret(self.credentials, json.dumps(users))
            if accounts.exists(CLI_USER):
                accounts.delete(CLI_USER, delete_role=False)
            accounts.create(CLI_USER, users[CLI_USER], topics_of="admin")

    def registration(self, ts: int) -> Callable[[int], dict[str, object]]:
        """The admin's registration of the desk's operator (role ``farm``) from ``ts``, by seq.

        Raises:
            OSError, FarmtraceError: the desk's key cannot be read (call after :meth:`ready`).
        """
        key = load_key(self.dir / _OPERATOR_KEY)
        return lambda seq: operator_payload(
            "register", key.id, seq, ts,
            pubkey=key.public_key, roles=["farm"], name="Farm office desk",
        )  # fmt: skip

    def start(self, port: int, check_url: str, password: str) -> subprocess.Popen[bytes]:
        """Start ``farmtrace desk run`` on ``port`` (its MQTT password from a 0600 file).

        Call :meth:`wait_running` before using it.
        """
        secret = self.root / "desk-mqtt-password"  # never in argv: 'ps' shows those
        _write_secret(secret, password + "\n")
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()
            return subprocess.Popen(
                [
                    *die_with_us(), sys.executable, "-m", "farmtrace", "desk", "run",
                    "--desk-dir", str(self.dir), "--farm", self.farm,
                    "--mqtt", f"mqtt://{DESK_OPERATOR}@127.0.0.1:{self.mqtt_port}",
                    "--mqtt-password-file", str(secret), "--check-url", check_url,
                    "--port", str(port), "--timezone", "Europe/Amsterdam",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops the desk in order
            )  # fmt: skip

    def wait_running(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """Wait until the desk answers.

        Raises:
            RuntimeError: it exited or did not start within ``timeout`` s (its log says why).
        """
        deadline = time.monotonic() + timeout
        while b"desk running" not in self.log_path.read_bytes()[self._log_start :]:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"the desk did not start; see {self.log_path}")
            time.sleep(0.05)

    def people_commands(self, admin_key: Path, admin_state: Path, accounts_user: str) -> str:
        """The banner's lines: one ``operator add`` of a vet to the running desk, and its retire."""
        where = f"127.0.0.1:{self.mqtt_port}"
        common = shlex.join(
            [
                "--desk-dir", str(self.dir), "--farm", self.farm, "--key", str(admin_key),
                "--state-dir", str(admin_state), "--mqtt", f"mqtt://{CLI_USER}@{where}",
                "--broker-admin", f"mqtt://{accounts_user}@{where}",
                "--credentials", str(self.credentials),
            ]
        )  # fmt: skip
        add = "farmtrace operator add --id vet2 --role vet --name 'Dr. Li'"
        return (
            f"  add a vet          {add} {common}\n"
            f"  retire the vet     farmtrace operator retire --id vet2 {common}\n"
        )


def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600), replacing it atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
