"""The live demo's two witnesses: a co-op's and a retailer's, each its own process.

Each witness has its own directory (key and state) under ``<demo>/witnesses/``
and follows the demo log. The gateway pushes every checkpoint to both and
publishes a checkpoint once both cosigned it; the consumer site accepts a
checkpoint only with both cosignatures (a 2-of-2 policy), and its pages say
which witnesses vouch and when.

A demo directory made before witnesses existed gains them on its next run:
a new witness starts from ``old 0`` and cosigns the log as it stands.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from demo._lifeline import die_with_us
from gateway.datadir import DataDir
from witness import WitnessConfig, init_witness_dir

__all__ = ["DemoWitness", "demo_witnesses", "start_witnesses", "witness_names"]

_LISTENING = re.compile(rb"^listening on (http://\S+)$", re.M)


@dataclass(frozen=True, slots=True)
class DemoWitness:
    """One demo witness: a label for people, its directory and port, and its config."""

    label: str
    directory: Path
    port: int
    config: WitnessConfig

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


_WITNESSES = (
    ("co-op", "coop", "coop.demo.farmtrace.example/witness"),
    ("retailer", "retailer", "retail.demo.farmtrace.example/witness"),
)


def witness_names() -> tuple[tuple[str, str, str], ...]:
    """The demo's witnesses: (label for people, directory name, witness name) each."""
    return _WITNESSES


def demo_witnesses(root: Path, gateway_dir: DataDir, ports: tuple[int, ...]) -> list[DemoWitness]:
    """Create (once) the witnesses' directories; write the gateway's and the site's policy.

    The policies are rewritten on every run, since the ports may change.
    Precondition: ``gateway_dir`` holds the demo log; one port per witness.

    Raises:
        OSError: a directory or file cannot be written.
        FarmtraceError: a witness directory is corrupt.
    """
    trust = TrustRoot.from_json(gateway_dir.trust.read_text())
    witnesses = []
    for (label, folder, name), port in zip(_WITNESSES, ports, strict=True):
        directory = root / "witnesses" / folder
        if not (directory / "witness.json").exists():
            init_witness_dir(directory, name, [(trust.origin, trust.log_key)])
        witnesses.append(DemoWitness(label, directory, port, WitnessConfig.load(directory)))
    policy = WitnessPolicy(len(witnesses), tuple(Witness(w.config.vkey, w.url) for w in witnesses))
    gateway_dir.witnesses.write_text(policy.to_json())
    site_dir = root / "site"
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "witnesses.json").write_text(policy.to_json())
    return witnesses


def start_witnesses(root: Path, witnesses: list[DemoWitness]) -> list[subprocess.Popen[bytes]]:
    """Start ``farmtrace witness serve`` for each witness and wait until each listens.

    Raises:
        RuntimeError: a witness did not start within 20 s (``<demo>/witness-*.log`` says why).
    """
    procs: list[subprocess.Popen[bytes]] = []
    for w in witnesses:
        log_path = root / f"witness-{w.directory.name}.log"
        with open(log_path, "ab") as log:
            start = log.tell()
            proc = subprocess.Popen(
                [
                    *die_with_us(), sys.executable, "-m", "farmtrace", "witness", "serve",
                    "--dir", str(w.directory), "--port", str(w.port),
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops them in order
            )  # fmt: skip
        procs.append(proc)
        deadline = time.monotonic() + 20
        while not _LISTENING.search(log_path.read_bytes()[start:]):
            if proc.poll() is not None or time.monotonic() > deadline:
                for started in procs:
                    started.kill()
                    started.wait()
                raise RuntimeError(f"the {w.label}'s witness did not start; see {log_path}")
            time.sleep(0.05)
    return procs
