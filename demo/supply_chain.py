"""The six-party demo: a supply chain of independent logs, witnessed, and one site over all.

:class:`SupplyChainDemo` sets up a data directory once (six logs, two
witnesses, one pins file: :mod:`demo._parties`) and then runs, all real:

* two witnesses, a co-op's and a retailer's, each watching all six logs;
* four operator-only logs (``farmtrace gateway run`` without ``--farm``:
  the hatchery, the plant, the distributor, the shop), fed by their staff
  over HTTP, checking every cross-log reference against the pins (``--pins``);
* two farms (:mod:`demo._farm_part`), each with its own Mosquitto, its own
  gateway and its simulated barns, birds and staff, backfilling weeks of
  history and then streaming live;
* the story across logs (:mod:`demo._chain_story`): hatched at the
  hatchery, placed at the farms, slaughtered, packed, shipped and recalled at
  the plant, received and shipped on at the distributor, received at the shop;
* the consumer site (``farmtrace site run --pins``), following all six logs,
  resolving a pack's GS1 Digital Link to the plant that packed it and
  stitching its story across the logs.

Every child process dies with the demo (:mod:`demo._lifeline`).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno

from chain import note as notes
from chain.checkpoint import Checkpoint
from chain.errors import FarmtraceError
from chain.gs1 import DigitalLink
from demo._chain_story import ChainStory, farm_birds
from demo._farm_part import FarmPart, chain_farm
from demo._lifeline import die_with_us
from demo._parties import PARTIES, ChainPorts, chain_witnesses, set_up_logs, write_pins
from demo._witnesses import DemoWitness, start_witnesses
from demo.live import DAY_MS, DemoPorts, now_ms
from firmware_sim.models.daycycle import HOUR_MS
from gateway.datadir import DataDir
from readapi.crosslog import load_pins

__all__ = ["ChainPorts", "SupplyChainDemo"]

_STATE = "supply-chain.json"
_STATE_VERSION = 1
_SYNC_INTERVAL_S = 2.0
_LETTERS = {"farm-a": "A", "farm-b": "B"}


@dataclass(frozen=True, slots=True)
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


class SupplyChainDemo:
    """One six-party demo directory. :meth:`run` blocks until :meth:`stop` (or Ctrl-C)."""

    def __init__(self, root: Path, ports: ChainPorts, *, history_days: int = 42) -> None:
        self.root = root.absolute()
        self.ports = ports
        self.history_days = history_days
        self._stop = threading.Event()
        self.ready = threading.Event()
        """Set once every log is written, both farms stream live and the site shows a pack."""
        self.pack_url: str | None = None
        self.up_seconds: float | None = None

    @property
    def _state_path(self) -> Path:
        return self.root / _STATE

    def _load_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self._state_path.read_text())
        if state.get("version") != _STATE_VERSION:
            raise RuntimeError(f"{self.root} holds another demo version's data; use --fresh")
        return state

    def set_up(self) -> bool:
        """Create the data directory on first use; return True if it was created now.

        Raises:
            ValueError: ``history_days`` is below the demo's minimum.
            OSError, StorageError: a file cannot be written.
        """
        if self._state_path.exists():
            return False
        start = (now_ms() - self.history_days * DAY_MS) // HOUR_MS * HOUR_MS
        seed = random.randrange(2**31)
        chain_farm("check", start, self.history_days, seed)  # checks the arguments
        self.root.mkdir(parents=True, exist_ok=True)
        set_up_logs(self.root, start - 3 * DAY_MS)
        state = {"version": _STATE_VERSION, "start_ms": start, "days": self.history_days}
        self._state_path.write_text(json.dumps(state | {"seed": seed}))
        return True

    def stop(self) -> None:
        """Ask :meth:`run` to stop everything cleanly."""
        self._stop.set()

    def run(self) -> None:
        """Start every party, the witnesses and the site; write the story; run until stopped.

        Raises:
            MosquittoError: a farm's broker could not start.
            RuntimeError: a process could not start or exited, or the story
                could not be written (a log refused or did not commit an event).
        """
        started = time.monotonic()
        state = self._load_state()
        start, days, seed = int(state["start_ms"]), int(state["days"]), int(state["seed"])
        dirs = set_up_logs(self.root, start - 3 * DAY_MS)
        witnesses = chain_witnesses(self.root, dirs, self.ports.witnesses)
        pins_path = write_pins(self.root, dirs, self.ports)
        pins = load_pins(pins_path)
        farms = [p for p in PARTIES if p.is_farm]
        birds = [
            farm_birds(
                p.slug,
                _LETTERS[p.slug],
                chain_farm(p.farm_id or "", start, days, seed + i),
                seed + i,
            )
            for i, p in enumerate(farms)
        ]
        children: list[_Child] = []
        parts: list[tuple[FarmPart, threading.Thread]] = []
        story: ChainStory | None = None
        try:
            for w, proc in zip(witnesses, start_witnesses(self.root, witnesses), strict=True):
                log = self.root / f"witness-{w.directory.name}.log"
                children.append(_Child(f"{w.label}'s witness", proc, log))
            for p in PARTIES:
                if not p.is_farm:
                    children.append(self._start_log(p.slug, dirs[p.slug], pins_path))
            story = ChainStory(self.root, dirs, self.ports, pins, birds, start)
            story.run_hatchery()
            for i, p in enumerate(farms):
                part = self._farm_part(
                    p.slug, dirs[p.slug], pins_path, start, days, seed + i, story
                )
                thread = threading.Thread(target=part.run_caught, name=p.slug, daemon=True)
                thread.start()
                parts.append((part, thread))
            children.append(self._start_site(pins_path))
            links = story.run_rest()
            self._wait_farms(parts, children)
            self._wait_site_caught_up(parts, children)
            self.pack_url = self._wait_pack(links)
            self.up_seconds = time.monotonic() - started
            self._print_urls(witnesses, links)
            self.ready.set()
            while not self._stop.wait(1.0):
                self._check_alive(parts, children)
        finally:
            for part, _ in parts:
                part.stop()
            for _, thread in parts:
                thread.join(60)
            if story is not None:
                story.close()
            for child in reversed(children):
                child.proc.terminate()
                try:
                    child.proc.wait(30)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()

    # -- parts ----------------------------------------------------------------------

    def _farm_part(
        self,
        slug: str,
        data: DataDir,
        pins: Path,
        start: int,
        days: int,
        seed: int,
        story: ChainStory,
    ) -> FarmPart:
        p = next(p for p in PARTIES if p.slug == slug)
        api_port = self.ports.gateways[[q.slug for q in PARTIES].index(slug)]
        ports = DemoPorts(mqtt=self.ports.broker(slug), gateway=api_port, web=self.ports.web)
        own_hatchery = slug != "farm-a"  # Hillside hatches its own chicks (see _chain_story)
        part = FarmPart(
            self.root / "farms" / slug,
            data,
            ports,
            origin=p.origin,
            farm_id=p.farm_id or slug,
            place_refs=None if own_hatchery else story.place_refs,
            own_hatchery=own_hatchery,
            name=p.name,
        )
        part.gateway_args = ("--pins", str(pins))
        part.set_up_farm(start, days, seed)
        return part

    def _start_log(self, slug: str, data: DataDir, pins: Path) -> _Child:
        """``farmtrace gateway run`` of an operator-only log; wait until it runs."""
        port = self.ports.gateways[[p.slug for p in PARTIES].index(slug)]
        argv = [
            "gateway", "run", "--data-dir", str(data.root), "--http-port", str(port),
            "--block-entries", "5000", "--block-interval-ms", "500", "--pins", str(pins),
        ]  # fmt: skip
        return self._start(
            f"{slug}'s log", argv, self.root / f"gateway-{slug}.log", "gateway running"
        )

    def _start_site(self, pins: Path) -> _Child:
        argv = [
            "site", "run", "--pins", str(pins), "--site-dir", str(self.root / "site"),
            "--port", str(self.ports.web), "--sync-interval", str(_SYNC_INTERVAL_S),
            "--farm-tz", "Europe/Amsterdam", "--public-url", f"http://127.0.0.1:{self.ports.web}",
        ]  # fmt: skip
        return self._start("consumer site", argv, self.root / "site.log", "site running")

    def _start(self, name: str, argv: list[str], log_path: Path, running: str) -> _Child:
        """Start ``farmtrace <argv>`` logging to ``log_path``; wait (60 s) for ``running``.

        Raises:
            RuntimeError: it exited or did not say ``running`` in time.
        """
        with open(log_path, "ab") as log:
            offset = log.tell()
            proc = subprocess.Popen(
                [*die_with_us(), sys.executable, "-m", "farmtrace", *argv],
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops them in order
            )
        deadline = time.monotonic() + 60
        while running.encode() not in log_path.read_bytes()[offset:]:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"the {name} did not start; see {log_path}")
            time.sleep(0.05)
        return _Child(name, proc, log_path)

    # -- waiting and watching -------------------------------------------------------

    def _check_alive(
        self, parts: list[tuple[FarmPart, threading.Thread]], children: list[_Child]
    ) -> None:
        for part, _ in parts:
            if part.stopped.is_set() and not self._stop.is_set():
                raise RuntimeError(f"farm {part.farm_id} stopped: {part.failure!r}")
        for child in children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"the {child.name} exited with status {child.proc.returncode}; see {child.log}"
                )

    def _wait_farms(
        self, parts: list[tuple[FarmPart, threading.Thread]], children: list[_Child]
    ) -> None:
        """Wait until both farms backfilled their history and stream live."""
        for part, _ in parts:
            while not part.ready.wait(0.5):
                if self._stop.is_set():
                    return
                self._check_alive(parts, children)

    def _wait_site_caught_up(
        self, parts: list[tuple[FarmPart, threading.Thread]], children: list[_Child]
    ) -> None:
        """Wait until the site's replica of every log reached what its gateway serves now."""
        for p in PARTIES:
            size = _size(_fetch(f"{self.ports.api(p.slug)}/checkpoint"))
            mounted = f"http://127.0.0.1:{self.ports.web}/logs/{p.slug}/checkpoint"
            while not self._stop.is_set() and (
                size is None or (_size(_fetch(mounted)) or 0) < size
            ):
                self._check_alive(parts, children)
                self._stop.wait(_SYNC_INTERVAL_S / 4)
                if size is None:
                    size = _size(_fetch(f"{self.ports.api(p.slug)}/checkpoint"))

    def _wait_pack(self, links: tuple[DigitalLink, ...]) -> str | None:
        """The site's page of the first pack, once it serves it (up to 120 s); None if not."""
        if not links:
            return None
        url = f"http://127.0.0.1:{self.ports.web}{links[0].path}"
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    if response.status == 200:
                        return url
            except (urllib.error.URLError, OSError):
                pass
            self._stop.wait(_SYNC_INTERVAL_S / 2)
        return None

    def _print_urls(self, witnesses: list[DemoWitness], links: tuple[DigitalLink, ...]) -> None:
        up = f" (up in {self.up_seconds:.0f} s)" if self.up_seconds is not None else ""
        lines = [f"farmtrace demo: a supply chain of six logs, each its own party's{up}"]
        for p in PARTIES:
            api = self.ports.api(p.slug)
            what = f"farm {p.farm_id!r}, MQTT :{self.ports.broker(p.slug)}" if p.is_farm else p.role
            lines.append(f"  {p.name:<34} {api}/checkpoint  ({p.origin}; {what})")
        for w in witnesses:
            lines.append(f"  {w.label + ' witness':<34} {w.url}/  ({w.config.name}, all six logs)")
        site = f"http://127.0.0.1:{self.ports.web}"
        lines.append(
            f"  {'consumer site':<34} {site}/  (follows all six; pins in {self.root / 'pins.json'})"
        )
        plant = self.root / "logs" / "plant"
        lines.append(
            f"  {'audit across logs':<34} farmtrace audit --url {self.ports.api('plant')} "
            f"--trust {plant / 'trust.json'} --witnesses {plant / 'witnesses.json'} "
            f"--pins {self.root / 'pins.json'}"
        )
        if self.pack_url is not None:
            others = ", ".join(link.path for link in links[1:])
            lines.append(f"a pack on the shelf: {self.pack_url}\n  (other packs: {others})")
        lines.append("Ctrl-C stops everything cleanly.")
        print("\n".join(lines), flush=True)
        if self.pack_url is not None:
            segno.make(self.pack_url, error="m").terminal(compact=True)
            print(flush=True)


def _fetch(url: str) -> str | None:
    """The text at ``url``, or None if it cannot be had now."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
            return body.decode()
    except (urllib.error.URLError, OSError, UnicodeDecodeError):
        return None


def _size(note_text: str | None) -> int | None:
    """The tree size of a signed checkpoint note, or None if there is none."""
    if note_text is None:
        return None
    try:
        return Checkpoint.from_text(notes.parse(note_text).text).size
    except FarmtraceError:
        return None
