"""A real witness for tests: ``farmtrace witness serve`` as a child process.

Usage::

    from witness_harness import WitnessProcess, make_witness_dir

    wdir = make_witness_dir(tmp_path / "w1", "w1.test/witness", [(ORIGIN, log_vkey)])
    with WitnessProcess(wdir) as w:            # started; stopped (SIGTERM) at exit
        policy = {"quorum": 1, "witnesses": [{"vkey": w.vkey, "url": w.url}]}
        ...
        w.kill()                               # SIGKILL, as a crash
        w.restart()                            # same directory, same port

``make_witness_dir`` goes through the CLI (``farmtrace witness init`` and
``add-log``), run in this process. The server's stdout and stderr go to
``<directory>/witness.out``; :meth:`WitnessProcess.output` reads it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from farmtrace.cli import main as farmtrace_main

__all__ = ["WitnessProcess", "make_witness_dir"]

ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(rb"^listening on (http://\S+)$", re.M)


def make_witness_dir(path: Path, name: str, logs: Iterable[tuple[str, str]] = ()) -> Path:
    """Create a witness directory at ``path`` named ``name`` following ``(origin, log vkey)``s.

    Returns ``path``. Raises AssertionError if the CLI refuses.
    """
    code = farmtrace_main(["witness", "init", "--dir", str(path), "--name", name])
    assert code == 0, f"farmtrace witness init exited {code}"
    for origin, log_vkey in logs:
        code = farmtrace_main(
            ["witness", "add-log", "--dir", str(path), "--origin", origin, "--log-key", log_vkey]
        )
        assert code == 0, f"farmtrace witness add-log exited {code}"
    return path


class WitnessProcess:
    """``farmtrace witness serve --dir DIRECTORY`` on a loopback port (0: a free one).

    After :meth:`start`, ``url`` is the base URL (``http://127.0.0.1:PORT``);
    :meth:`restart` reuses that port, so clients keep their URL.
    """

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = Path(directory)
        self.port = port
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        config = json.loads((self.directory / "witness.json").read_text())
        self.vkey: str = config["vkey"]
        self.name: str = config["name"]
        self.log_file = self.directory / "witness.out"

    def start(self, timeout: float = 20) -> None:
        """Start the server and wait for its ``listening on`` line."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        start_at = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = [sys.executable, "-m", "farmtrace", "witness", "serve"]
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [*command, "--dir", str(self.directory), "--port", str(self.port)],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + timeout
        while True:
            match = _LISTENING.search(self.log_file.read_bytes()[start_at:])
            if match is not None:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"witness did not start:\n{self.output()}")
            time.sleep(0.02)
        self.url = match[1].decode()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM the server and return its exit code (0 after a clean stop)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the server, as a crash or a power cut would stop it."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self) -> None:
        """Start again on the same directory and port (after stop or kill)."""
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> WitnessProcess:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.running:
            try:
                self.stop(10)
            except subprocess.TimeoutExpired:
                self.kill()
