"""Witnesses for the live-audit tests: cosigning notes, a tiny monitoring endpoint, policies.

:class:`FakeWitness` serves only the monitoring endpoint (C2SP tlog-witness's
``GET /<sha256(origin) hex>/checkpoint`` and farmtrace's older
``GET /latest-checkpoint?origin=...``) of whatever note the test hands it,
over real HTTP: the test decides what the witness remembers, including what
an honest witness never would (a checkpoint of a history the log later
forked). :func:`push` drives a real witness (``farmtrace witness serve``)
through ``POST /add-checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from server_thread import ServerThread

from chain import note
from chain.checkpoint import Checkpoint, cosign, generate_cosigner_key
from chain.store import Store
from chain.tlog_witness import AddCheckpointRequest

__all__ = ["FakeWitness", "cosigned", "dead_url", "push", "write_policy"]

COSIGNED_AT = 1_767_225_600  # 2026-01-01T00:00:00Z


class FakeWitness:
    """A witness key and a monitoring endpoint on a free loopback port (start/stop)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.skey, self.vkey = generate_cosigner_key(name, seed=name.encode().ljust(32, b"\0"))
        self.latest: dict[str, str] = {}
        self.requests = 0
        self._serving: ServerThread | None = None
        self.url = ""

    def cosign(self, signed_note: str, at: int = COSIGNED_AT) -> str:
        """``signed_note`` with this witness's cosignature line added."""
        return signed_note + cosign(note.parse(signed_note).text, self.skey, at)

    def remember(self, signed_note: str, at: int = COSIGNED_AT) -> str:
        """Serve ``signed_note``, cosigned now, as the latest checkpoint of its origin."""
        cosigned_note = self.cosign(signed_note, at)
        origin = Checkpoint.from_text(note.parse(signed_note).text).origin
        self.latest[origin] = cosigned_note
        return cosigned_note

    def start(self) -> FakeWitness:
        witness = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                witness.requests += 1
                parts = urlsplit(self.path)
                origins = parse_qs(parts.query).get("origin", [])
                if parts.path != "/latest-checkpoint":
                    by_hash = {hashlib.sha256(o.encode()).hexdigest(): o for o in witness.latest}
                    origin_hash, _, rest = parts.path[1:].partition("/")
                    known = rest == "checkpoint" and origin_hash in by_hash
                    origins = [by_hash[origin_hash]] if known else []
                found = witness.latest.get(origins[0]) if origins else None
                if found is None:
                    self._answer(404, "application/json", json.dumps({"error": "unknown"}))
                else:
                    self._answer(200, "text/plain; charset=utf-8", found)

            def _answer(self, status: int, kind: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._serving = ServerThread(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.url = f"http://127.0.0.1:{self._serving.port}"
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None


def cosigned(signed_note: str, witnesses: Sequence[FakeWitness], at: int = COSIGNED_AT) -> str:
    """``signed_note`` with a cosignature line by each of ``witnesses``."""
    for witness in witnesses:
        signed_note = witness.cosign(signed_note, at)
    return signed_note


def push(url: str, store: Store, size: int, old_size: int) -> str:
    """Submit the store's checkpoint of ``size`` to a real witness; return its cosignature line.

    ``old_size`` is the size the witness last cosigned (0 at first).
    """
    proof = tuple(store.consistency_proof(old_size, size)) if 0 < old_size < size else ()
    body = AddCheckpointRequest(old_size, proof, store.checkpoint(size)).to_bytes()
    request = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        line: str = response.read().decode()
        return line


def write_policy(path: Path, quorum: int, witnesses: Sequence[tuple[str, str | None]]) -> Path:
    """Write a witnesses.json of ``(vkey, url)`` pairs (url None: left out)."""
    items = [{"vkey": v} if u is None else {"vkey": v, "url": u} for v, u in witnesses]
    path.write_text(json.dumps({"quorum": quorum, "witnesses": items}))
    return path


def dead_url() -> str:
    """A loopback URL nothing listens on (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
