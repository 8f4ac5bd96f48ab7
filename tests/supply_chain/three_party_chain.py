"""Real processes for a three-log supply chain: gateways, one witness, the resolver site.

Each party's log is a ``farmtrace gateway run`` child process on a fixed
loopback port (a restarted gateway keeps its URL, which the pins file and
the other processes name): farm A's fed by a real Mosquitto (``--farm``),
farm B's and the plant's operator-only (events over ``POST /api/v1/submit``).
Every gateway pushes its checkpoints to the one witness (quorum 1), which
is ``farmtrace witness serve`` (tests/witness_harness.py). The resolver is
``farmtrace site run --pins``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mqtt_broker import free_port

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.entries import event_payload, operator_payload, sign_entry
from chain.keyfile import SignerKey, save_key
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from gateway.witnessing import save_witness_policy
from signer.http_submit import parse_submit_url, submit_and_wait
from signer.mqtt_url import MqttUrl
from signer.transport import publish_and_wait

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def await_true(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def get(url: str, timeout: float = 20) -> tuple[int, str]:
    """GET ``url``: its status and body as text (an HTTP error's too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def farmtrace_in_process(*args: object) -> tuple[int, str, str]:
    """``farmtrace ARGS`` in this process (no interpreter start-up): exit code, stdout, stderr."""
    from farmtrace.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def farmtrace_process(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``farmtrace ARGS`` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@dataclass
class Child:
    """A long-running ``farmtrace`` child process whose output goes to ``log``.

    ``ready`` is a regex its output prints once it serves (group 1: its URL).
    """

    args: list[str]
    log: Path
    ready: str
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self, timeout: float = WAIT_S) -> None:
        text = self.log.read_text() if self.log.exists() else ""
        before = len(re.findall(self.ready, text))
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "farmtrace", *self.args],
                stdout=out,
                stderr=out,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + timeout
        while len(found := re.findall(self.ready, self.log.read_text())) <= before:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.args[:2]} did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.url = found[-1].rstrip("/")

    def kill(self) -> None:
        """SIGKILL, as a crash (or a party pulling the plug)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait; it must exit cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(60)
            assert code == 0, f"{self.args[:2]} exited {code}:\n{self.log.read_text()[-3000:]}"


@dataclass
class Party:
    """One party's log: its data directory, admin, one operator, and its gateway process."""

    origin: str
    name: str
    role: str
    data_dir: DataDir
    trust: TrustRoot
    admin: SignerKey
    operator: SignerKey
    port: int
    gateway: Child | None = None
    seqs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, origin: str, name: str, role: str) -> Party:
        data_dir = DataDir(root)
        admin = SignerKey.generate("admin")
        trust = init_data_dir(data_dir, origin, [admin], now_ms() - 3_600_000)
        operator = SignerKey.generate(role)
        save_key(operator, root.parent / f"{root.name}-{role}.key")
        party = cls(origin, name, role, data_dir, trust, admin, operator, free_port())
        party.seqs["admin"] = 1  # genesis
        return party

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.data_dir.root.parent / f"{self.data_dir.root.name}-{self.role}.key"

    def watched_by(self, policy: WitnessPolicy) -> None:
        save_witness_policy(self.data_dir.witnesses, policy)

    def run(self, *extra: str) -> None:
        """Start ``farmtrace gateway run`` on the party's port with ``extra`` options."""
        args = ["gateway", "run", "--data-dir", str(self.data_dir.root)]
        args += ["--http-port", str(self.port), "--block-interval-ms", "100"]
        args += ["--witness-max-backoff", "0.3", *extra]
        self.gateway = Child(
            args, self.data_dir.root / "gateway.log", r"gateway running: (http://\S+)/checkpoint"
        )
        self.gateway.start()

    def signed(self, signer: SignerKey, payload_of: Callable[[int], dict[str, object]]) -> bytes:
        seq = self.seqs.get(signer.id, 0) + 1
        self.seqs[signer.id] = seq
        return sign_entry(payload_of(seq), signer.id, signer.seed)

    def registration(self, operator: SignerKey, roles: list[str]) -> bytes:
        ts = now_ms()
        return self.signed(
            self.admin,
            lambda seq: operator_payload(
                "register", operator.id, seq, ts, pubkey=operator.public_key, roles=roles
            ),
        )

    def event(self, event: str, subjects: list[str], **fields: object) -> bytes:
        ts = now_ms()
        return self.signed(
            self.operator, lambda seq: event_payload(event, seq, ts, subjects, **fields)
        )

    def submit(self, raw: bytes) -> int:
        """Submit over HTTP and wait until a checkpointed block holds it; that block's height."""
        receipt = submit_and_wait(parse_submit_url(self.url), raw, timeout=WAIT_S)
        return int(receipt.block)

    def publish(self, raw: bytes, signer: str, broker_port: int, farm: str) -> int:
        """Publish over MQTT and wait for the receipt naming it; the block height it names."""
        seq = self.seqs[signer]
        url = MqttUrl("127.0.0.1", broker_port, f"{signer}-{seq}")
        receipt = publish_and_wait(raw, seq, signer, url, farm, WAIT_S)
        assert receipt.block is not None
        return int(receipt.block)

    def published(self, policy: WitnessPolicy) -> tuple[int, int]:
        """The size of the checkpoint its gateway serves, and how many witnesses cosigned it."""
        status, text = get(self.url + "/checkpoint")
        if status != 200:
            return 0, 0
        size = open_checkpoint(text, self.trust.log_key).size
        return size, len(verify_cosignatures(text, policy.verifier_keys))

    def await_cosigned(self, policy: WitnessPolicy, height: int) -> None:
        """Until the served checkpoint is cosigned and covers block ``height``."""
        await_true(
            f"{self.origin} to publish a cosigned checkpoint over block {height}",
            lambda: (lambda s: s[0] > height and s[1] >= policy.quorum)(self.published(policy)),
        )

    def pin(self, folder: Path, witnesses: Path, prefixes: list[str]) -> dict[str, object]:
        """This log's item of a pins file written in ``folder``."""
        trust = folder / f"{self.role}-{self.port}-trust.json"
        trust.write_text(self.trust.to_json())
        return {
            "origin": self.origin,
            "name": self.name,
            "role": self.role,
            "trust": trust.name,
            "witnesses": witnesses.name,
            "sources": [self.url],
            "gs1_prefixes": prefixes,
        }


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path
