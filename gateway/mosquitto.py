"""Run a Mosquitto broker as a child process: start, wait until it listens, reload, stop.

Used by ``farmtrace demo``-style live runs and by the tests, which need a
real broker (design.md §4's delivery rules are properties of Mosquitto, not
of a mock)::

    with MosquittoProcess(files.config, port=1883) as broker:
        ...   # broker.url == "mqtt://127.0.0.1:1883"
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "MosquittoError",
    "MosquittoNotInstalledError",
    "MosquittoPortInUseError",
    "MosquittoProcess",
    "find_mosquitto",
    "listener_ports",
]

_SBIN_MOSQUITTO = "/usr/sbin/mosquitto"  # Debian's path, often not on a user's PATH
_STOP_TIMEOUT = 10.0
_LOG_TAIL = 2000
_LISTENER = re.compile(r"^\s*listener\s+(\d+)(?:\s+(\S+))?\s*$", re.M)
_WILDCARDS = ("0.0.0.0", "::")


class MosquittoError(RuntimeError):
    """The broker could not be started, or died."""


class MosquittoNotInstalledError(MosquittoError):
    """No ``mosquitto`` binary on PATH nor at ``/usr/sbin/mosquitto``."""


class MosquittoPortInUseError(MosquittoError):
    """A listener's port was taken (before the start, or by a race while the broker bound it).

    Mosquitto cannot listen on port 0 and report the port it got, so whoever
    picks free ports for it retries with new ones on this error.
    """


def listener_ports(config_text: str) -> list[tuple[str | None, int]]:
    """The ``(bind address or None, port)`` of each ``listener`` line of a mosquitto.conf."""
    return [(m[2], int(m[1])) for m in _LISTENER.finditer(config_text)]


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
    bound to every interface) must match the config's plain listener; :meth:`start`
    also waits for every other ``listener`` of the config (e.g. TLS). The
    broker's own log (stderr) is appended to ``log`` (default: next to the
    config, ``mosquitto.log``). ``command_prefix`` runs the broker through a
    launcher that execs it (e.g. one that ties its life to ours). Not
    thread-safe; one owner starts and stops it.
    """

    def __init__(
        self,
        config: Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        log: Path | None = None,
        binary: str | None = None,
        command_prefix: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.port = port
        self.host = host
        self.log = log or config.with_name("mosquitto.log")
        self._binary = binary
        self._prefix = tuple(command_prefix)
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
        """Start the broker and return once every listener accepts TCP connections.

        Raises:
            MosquittoNotInstalledError: no mosquitto binary.
            MosquittoPortInUseError: something else listens on a listener's
                port, or took it before the broker could bind it.
            MosquittoError: it is already running, it exited (the message
                carries its log), or it did not listen within ``timeout``
                seconds (it is then killed).
            OSError: the config cannot be read.
        """
        if self.running:
            raise MosquittoError(f"mosquitto is already running (pid {self.pid})")
        binary = self._binary or find_mosquitto()
        addresses = self._addresses()
        for address in addresses:
            if _accepts(address):
                raise MosquittoPortInUseError(
                    f"something already listens on {address[0]}:{address[1]}"
                )
        with open(self.log, "ab") as log:
            log_start = log.tell()
            self._proc = subprocess.Popen(
                [*self._prefix, binary, "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a terminal's Ctrl-C goes to the owner, who stops us last
            )
        deadline = time.monotonic() + timeout
        waiting = list(addresses)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._raise_exited(log_start)
            waiting = [address for address in waiting if not _accepts(address)]
            if not waiting:
                return
            time.sleep(0.02)
        self.kill()
        raise MosquittoError(
            f"mosquitto did not listen on {waiting} within {timeout} s; "
            f"its log ends:\n{self.log_tail()}"
        )

    def _addresses(self) -> list[tuple[str, int]]:
        """Where to probe: our ``host:port``, and every other listener of the config."""
        found = [(self.host, self.port)]
        for bind, port in listener_ports(self.config.read_text()):
            host = self.host if bind is None or bind in _WILDCARDS else bind
            if port != self.port and (host, port) not in found:
                found.append((host, port))
        return found

    def _raise_exited(self, log_start: int) -> None:
        assert self._proc is not None
        message = (
            f"mosquitto exited with status {self._proc.returncode}; "
            f"its log ({self.log}) ends:\n{self.log_tail()}{_root_hint()}"
        )
        try:
            ours = self.log.read_bytes()[log_start:]
        except OSError:
            ours = b""
        if b"Address already in use" in ours:
            raise MosquittoPortInUseError(message)
        raise MosquittoError(message)

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


def _accepts(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=0.2).close()
    except OSError:
        return False
    return True
