"""Run a Mosquitto broker as a child process: start, wait until it listens, reload, stop.

Used by ``farmtrace demo``-style live runs and by the tests, which need a
real broker (design.md §4's delivery rules are properties of Mosquitto, not
of a mock)::

    with MosquittoProcess(files.config, port=1883) as broker:
        ...   # broker.url == "mqtt://127.0.0.1:1883"
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = ["MosquittoError", "MosquittoNotInstalledError", "MosquittoProcess", "find_mosquitto"]

_SBIN_MOSQUITTO = "/usr/sbin/mosquitto"  # Debian's path, often not on a user's PATH
_STOP_TIMEOUT = 10.0
_LOG_TAIL = 2000


class MosquittoError(RuntimeError):
    """The broker could not be started, or died."""


class MosquittoNotInstalledError(MosquittoError):
    """No ``mosquitto`` binary on PATH nor at ``/usr/sbin/mosquitto``."""


def find_mosquitto() -> str:
    """The path of the ``mosquitto`` binary.

    Raises:
        MosquittoNotInstalledError: with the command that installs it.
    """
    found = shutil.which("mosquitto")
    if found:
        return found
    if os.access(_SBIN_MOSQUITTO, os.X_OK):
        return _SBIN_MOSQUITTO
    raise MosquittoNotInstalledError(
        "mosquitto is not installed (looked on PATH and at /usr/sbin/mosquitto); "
        "install it with: sudo apt-get install mosquitto"
    )


def _root_hint() -> str:
    if os.geteuid() != 0:
        return ""
    return (
        "\n(started as root, mosquitto drops to the user named by `user` in its config, "
        "'mosquitto' by default, before it reads the password and ACL files and writes its "
        "state: make them accessible to that user, or set `user root`)"
    )


class MosquittoProcess:
    """One ``mosquitto -c <config>`` child process, listening on ``host:port``.

    ``port`` (and ``host``, the address to probe; use 127.0.0.1 for a broker
    bound to every interface) must match the config's plain listener. The
    broker's own log (stderr) is appended to ``log`` (default: next to the
    config, ``mosquitto.log``). Not thread-safe; one owner starts and stops it.
    """

    def __init__(
        self,
        config: Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        log: Path | None = None,
        binary: str | None = None,
    ) -> None:
        self.config = config
        self.port = port
        self.host = host
        self.log = log or config.with_name("mosquitto.log")
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://<host>:<port>``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The process id. Raises MosquittoError if it was never started."""
        if self._proc is None:
            raise MosquittoError("mosquitto has not been started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and return once it accepts TCP connections.

        Raises:
            MosquittoNotInstalledError: no mosquitto binary.
            MosquittoError: it is already running, something else listens on
                the port, it exited (the message carries its log), or it did
                not listen within ``timeout`` seconds (it is then killed).
        """
        if self.running:
            raise MosquittoError(f"mosquitto is already running (pid {self.pid})")
        binary = self._binary or find_mosquitto()
        if self._accepts():
            raise MosquittoError(f"something already listens on {self.host}:{self.port}")
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a terminal's Ctrl-C goes to the owner, who stops us last
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise MosquittoError(
                    f"mosquitto exited with status {self._proc.returncode}; "
                    f"its log ({self.log}) ends:\n{self.log_tail()}{_root_hint()}"
                )
            if self._accepts():
                return
            time.sleep(0.02)
        self.kill()
        raise MosquittoError(
            f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s; "
            f"its log ends:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM and wait: Mosquitto saves its persistence file on the way out."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL and wait: nothing since the last autosave is saved."""
        self._signal(signal.SIGKILL)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop (SIGTERM) if running, then start again on the same port."""
        self.stop()
        self.start(timeout)

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its password and ACL files (and some settings).

        Raises:
            MosquittoError: it is not running.
        """
        if self._proc is None or not self.running:
            raise MosquittoError("mosquitto is not running")
        self._proc.send_signal(signal.SIGHUP)

    def log_tail(self) -> str:
        """The last ~2000 characters of the broker's log ('' if none yet)."""
        try:
            return self.log.read_text(errors="replace")[-_LOG_TAIL:]
        except FileNotFoundError:
            return ""

    def _accepts(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    def _signal(self, sig: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(sig)
        try:
            self._proc.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> MosquittoProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
