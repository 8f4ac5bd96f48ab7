"""The live demo's consumer site: a child process following the gateway, and its pack page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import segno

from chain.gs1 import DigitalLink
from demo._lifeline import die_with_us
from gateway.datadir import DataDir

__all__ = ["print_pack", "start_site"]

_SYNC_INTERVAL_S = 2.0


class _Ports(Protocol):
    @property
    def gateway(self) -> int: ...

    @property
    def web(self) -> int: ...


def start_site(root: Path, gateway_dir: DataDir, ports: _Ports) -> subprocess.Popen[bytes]:
    """Start ``farmtrace site run`` on ``root/site``, pinning the gateway's trust root.

    Raises:
        RuntimeError: the site did not start within 30 s (its log says why).
    """
    site_dir = root / "site"
    site_dir.mkdir(parents=True, exist_ok=True)
    if not (site_dir / "trust.json").exists():
        shutil.copyfile(gateway_dir.trust, site_dir / "trust.json")
    log_path = root / "site.log"
    with open(log_path, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            [
                *die_with_us(),
                sys.executable, "-m", "farmtrace", "site", "run", "--site-dir", str(site_dir),
                "--source", f"http://127.0.0.1:{ports.gateway}", "--port", str(ports.web),
                "--sync-interval", str(_SYNC_INTERVAL_S), "--farm-tz", "Europe/Amsterdam",
                "--public-url", f"http://127.0.0.1:{ports.web}",  # labels' origin: not Host
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops the site in order
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"site running" not in log_path.read_bytes()[start:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the consumer site did not start; see {log_path}")
        time.sleep(0.05)
    return proc


def print_pack(ports: _Ports, links: Sequence[DigitalLink], stop: threading.Event) -> None:
    """Wait (up to 60 s) until the site shows the first pack, then print its URL and QR code."""
    if not links:
        return
    url = f"http://127.0.0.1:{ports.web}{links[0].path}"
    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(_SYNC_INTERVAL_S / 2)
    else:
        return
    others = ", ".join(link.path for link in links[1:])
    print(f"a pack on the shelf: {url}\n  (other packs: {others})", flush=True)
    segno.make(url, error="m").terminal(compact=True)
    print(flush=True)
