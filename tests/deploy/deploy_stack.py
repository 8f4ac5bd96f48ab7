"""Starting farmtrace's services as a co-op deploys them: real processes, their logs, nginx."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")


@dataclass
class Service:
    """A child process whose output goes to ``log``."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first match of ``pattern`` in the log, once it appears."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log.read_text(errors="replace"))
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {pattern!r}:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code (SIGKILL after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9


@dataclass
class Services:
    """Everything started, stopped in reverse order."""

    root: Path
    started: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: list[str], stdin: bytes | None = None) -> Service:
        log = self.root / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        service = Service(name, proc, log)
        self.started.append(service)
        return service

    def farmtrace(self, name: str, *args: str) -> Service:
        return self.start(name, [sys.executable, "-m", "farmtrace", *args])

    def stop_all(self) -> dict[str, int]:
        return {service.name: service.stop() for service in reversed(self.started)}


def farmtrace_once(*args: str, stdin: str | None = None) -> str:
    """Run a short ``farmtrace`` command; its standard output (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "farmtrace", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def command_lines() -> list[bytes]:
    """Every process's arguments (``/proc/<pid>/cmdline``), as ``ps`` shows them to anyone."""
    lines = []
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                lines.append((proc_dir / "cmdline").read_bytes())
            except OSError:  # it ended meanwhile
                continue
    return lines
