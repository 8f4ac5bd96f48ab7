"""The ingest benchmark's servers: a production-configured Mosquitto and a gateway process.

The broker runs the config ``farmtrace broker config`` writes (no users, on
loopback, persistence with the default 60 s autosave); the gateway is
``farmtrace gateway run`` as a child process, watched from outside through
``/metrics`` and ``/proc/<pid>/status`` (psutil is not a dependency).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _common import REPO

from gateway.broker_config import BrokerSettings, write_broker_files
from gateway.mosquitto import MosquittoProcess

__all__ = [
    "GatewayProcess",
    "cpu_s",
    "rss_mb",
    "start_broker",
    "tree_cpu_s",
    "tree_pss_mb",
    "tree_rss_mb",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_broker(root: Path, farm: str) -> MosquittoProcess:
    """A running Mosquitto in ``root`` (a fresh directory): production settings, larger queues."""
    settings = BrokerSettings(
        farm=farm,
        state_dir=root / "state",
        port=_free_port(),
        run_as="root" if os.geteuid() == 0 else None,
        # The raw phase publishes without an outbox window: its subscriber's queue must hold
        # what the production bounds (200,000 messages / 64 MiB) would drop.
        max_queued_messages=10_000_000,
        max_queued_bytes=8 * 1024**3,
    )
    files = write_broker_files(settings, root)
    broker = MosquittoProcess(files.config, port=settings.port, log=root / "mosquitto.log")
    broker.start()
    return broker


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (VmRSS), 0.0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_parts_mb(pid: int) -> tuple[float, float]:
    """Process ``pid``'s resident memory split in MB: (anonymous, file-backed).

    File-backed pages are mapped files (LevelDB reads its tables through
    mmap): clean page cache the kernel reclaims under pressure, unlike
    anonymous memory, which only the process can give back.
    """
    parts = {"RssAnon:": 0.0, "RssFile:": 0.0, "RssShmem:": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split()[0] if line else ""
            if key in parts:
                parts[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return parts["RssAnon:"], parts["RssFile:"] + parts["RssShmem:"]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) process ``pid`` has used, 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the gateway's signature workers, their forkserver)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and every descendant, summed (shared pages counted in each)."""
    return sum(rss_mb(p) for p in _tree(pid))


def tree_pss_mb(pid: int) -> tuple[float, float, float]:
    """Proportional set size of ``pid`` and its descendants in MB: (total, anonymous, file).

    Unlike summed RSS, a page shared by several processes of the tree (the
    interpreter, libsodium) counts once, split between them. File-backed
    pages are mapped files: LevelDB reads its tables through mmap.
    """
    total = anon = mapped = 0.0
    for p in _tree(pid):
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        values = {line.split()[0]: int(line.split()[1]) / 1024 for line in lines[1:] if line}
        total += values.get("Pss:", 0.0)
        anon += values.get("Pss_Anon:", 0.0)
        mapped += values.get("Pss_File:", 0.0) + values.get("Pss_Shmem:", 0.0)
    return total, anon, mapped


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant."""
    return sum(cpu_s(p) for p in _tree(pid))


_RUNNING = re.compile(rb"gateway running: http://[^:]+:(\d+)/")
_SAMPLE = re.compile(r"^(farmtrace_\w+?)(?:\{([^}]*)\})? (\S+)$", re.M)


class GatewayProcess:
    """``farmtrace gateway run`` on ``data_dir``; its log goes to ``data_dir/gateway.log``.

    ``repo``: the checkout whose code the gateway runs (another one for A/B runs).
    """

    def __init__(
        self, data_dir: Path, farm: str, broker_url: str, *extra: str, repo: Path = REPO
    ) -> None:
        self.log = data_dir / "gateway.log"
        command = [sys.executable, "-m", "farmtrace", "gateway", "run", "--data-dir",
                   str(data_dir), "--farm", farm, "--mqtt", broker_url, "--http-port", "0",
                   *extra]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=repo,
                env={**os.environ, "PYTHONPATH": str(repo)},
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while (match := _RUNNING.search(self.log.read_bytes())) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.metrics_url = f"http://127.0.0.1:{int(match[1])}/metrics"
        while self.metrics().get("farmtrace_mqtt_connected") != 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not connect:\n{self.log.read_text()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        """The gateway's process id."""
        return self.proc.pid

    def metrics(self) -> dict[str, float]:
        """The gateway's unlabelled metrics, plus histogram buckets as ``name{le="x"}``."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode()
        values: dict[str, float] = {}
        for name, labels, value in _SAMPLE.findall(text):
            key = name if not labels else f"{name}{{{labels}}}"
            values[key] = float(value)
        return values

    def stop(self) -> int:
        """SIGTERM (commit the open block, stop cleanly); return the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)
