"""A minimal witness written from the C2SP texts alone, to test the gateway against.

It implements ``POST <prefix>/add-checkpoint`` of c2sp.org/tlog-witness and
Ed25519 cosignatures (c2sp.org/tlog-cosignature, signed-note key IDs) with
``cryptography`` and its own RFC 9162 section 2.1.4.2 consistency check. It
shares no code with farmtrace (no ``chain`` import): if the gateway and this
witness agree, they agree on the spec, not on a shared bug.

Checks, in the spec's order: unknown origin 404; no valid signature by a
trusted log key 403; old size > checkpoint size 400; old size not the
latest cosigned size 409 (``text/x.tlog.size``); a size-0 checkpoint without
the empty tree's root 422; same size but another root 422 (409, as
v1.0.0 said, with ``same_size_status=409``); bad consistency proof 422.
Anything that does not follow the request grammar is 400. Every request body
and status is recorded for the tests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["Recorded", "SpecWitness", "verify_consistency"]

_OLD = re.compile(r"old (0|[1-9][0-9]*)")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_DASH = "\u2014"


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): canonical, padded."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64: {text!r}") from exc
    if base64.b64encode(raw).decode() != text:
        raise ValueError(f"not canonical base64: {text!r}")
    return raw


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step by step, for 0 < first <= second."""
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


def _key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


@dataclass
class Recorded:
    """One request the witness received, and the status it answered."""

    body: bytes
    status: int


@dataclass
class SpecWitness:
    """A tlog-witness named ``name``; :meth:`start` serves it on a loopback port."""

    name: str
    logs: dict[str, list[tuple[bytes, Ed25519PublicKey]]] = field(default_factory=dict)
    state: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    same_size_status: int = 422
    """The answer to the same size with another root: 422 (current text) or 409 (v1.0.0)."""

    def __post_init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._id = _key_id(self.name, 0x04, self._public)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self.port = 0

    # -- configuration -------------------------------------------------------

    @property
    def vkey(self) -> str:
        """The verifier key: name, key ID (hex) and base64(0x04 || public key)."""
        material = base64.b64encode(b"\x04" + self._public).decode()
        return f"{self.name}+{self._id.hex()}+{material}"

    @property
    def url(self) -> str:
        """The submission prefix (while serving)."""
        return f"http://127.0.0.1:{self.port}"

    def trust_log(self, vkey: str) -> None:
        """Follow the log whose Ed25519 (type 0x01) verifier key is ``vkey``; origin = key name."""
        name, key_id, material = vkey.split("+", 2)
        raw = _b64decode(material)
        assert raw[0] == 0x01 and len(raw) == 33, "a log key is type 0x01, 32 bytes"
        assert _key_id(name, 0x01, raw[1:]).hex() == key_id
        self.logs.setdefault(name, []).append(
            (bytes.fromhex(key_id), Ed25519PublicKey.from_public_bytes(raw[1:]))
        )

    def preload(self, origin: str, size: int, root: bytes) -> None:
        """Pretend to have cosigned ``origin`` at ``size`` with ``root``."""
        with self._lock:
            self.state[origin] = (size, root)

    def reset(self) -> None:
        """Forget every cosigned checkpoint (a witness restarted with empty state)."""
        with self._lock:
            self.state.clear()

    # -- the protocol ----------------------------------------------------------

    def handle(self, body: bytes) -> tuple[int, str, bytes]:
        """Answer one ``add-checkpoint`` body: ``(status, content type, body)``."""
        with self._lock:
            answer = self._handle(body)
            self.requests.append(Recorded(body, answer[0]))
            return answer

    def _handle(self, body: bytes) -> tuple[int, str, bytes]:
        text_type = "text/plain; charset=utf-8"
        try:
            old, proof, checkpoint_text, signatures = self._parse(body)
            origin, size_line, root_line = checkpoint_text.split("\n")[:3]
            if not _SIZE.fullmatch(size_line):
                raise ValueError("bad size line")
            size, root = int(size_line), _b64decode(root_line)
            if len(root) != 32:
                raise ValueError("root is not 32 bytes")
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, text_type, f"{exc}\n".encode()
        trusted = self.logs.get(origin)
        if trusted is None:
            return 404, text_type, b"unknown origin\n"
        if not self._signed(origin, trusted, checkpoint_text, signatures):
            return 403, text_type, b"no valid signature by a trusted key\n"
        if old > size:
            return 400, text_type, b"old size is bigger than the checkpoint size\n"
        latest_size, latest_root = self.state.get(origin, (0, hashlib.sha256(b"").digest()))
        if old != latest_size:
            return 409, "text/x.tlog.size", f"{latest_size}\n".encode()
        if old == 0 and proof:
            return 400, text_type, b"a proof from size 0\n"
        if size == 0 and root != hashlib.sha256(b"").digest():
            return 422, text_type, b"a size 0 checkpoint without the empty tree's root\n"
        if old == size:
            if proof:
                return 422, text_type, b"proof between equal sizes\n"
            if root != latest_root and self.same_size_status == 409:
                return 409, "text/x.tlog.size", f"{latest_size}\n".encode()
            if root != latest_root:
                return 422, text_type, b"another root at the size cosigned\n"
        elif old > 0 and not verify_consistency(old, size, latest_root, root, proof):
            return 422, text_type, b"consistency proof does not verify\n"
        self.state[origin] = (size, root)
        return 200, text_type, self._cosign(checkpoint_text).encode()

    def _parse(self, body: bytes) -> tuple[int, list[bytes], str, list[tuple[str, bytes]]]:
        text = body.decode("utf-8")
        lines = text.split("\n")
        match = _OLD.fullmatch(lines[0])
        if match is None:
            raise ValueError(f"bad old size line {lines[0][:40]!r}")
        proof, i = [], 1
        while i < len(lines) and lines[i] != "":
            digest = _b64decode(lines[i])
            if len(digest) != 32:
                raise ValueError("a proof line is not a 32-byte hash")
            proof.append(digest)
            i += 1
        if i >= len(lines) or len(proof) > 63:
            raise ValueError("no empty line after the proof, or more than 63 proof lines")
        note = "\n".join(lines[i + 1 :])
        checkpoint_text, sep, sig_block = note.partition("\n\n")
        if not sep or not sig_block.endswith("\n"):
            raise ValueError("the checkpoint is not a signed note")
        checkpoint_text += "\n"
        signatures = []
        for line in sig_block[:-1].split("\n"):
            dash, name, sig = line.split(" ")
            if dash != _DASH:
                raise ValueError(f"bad signature line {line[:40]!r}")
            signatures.append((name, _b64decode(sig)))
        return int(match[1]), proof, checkpoint_text, signatures

    @staticmethod
    def _signed(
        origin: str,
        trusted: list[tuple[bytes, Ed25519PublicKey]],
        text: str,
        signatures: list[tuple[str, bytes]],
    ) -> bool:
        for name, sig in signatures:
            for key_id, public in trusted:
                if name == origin and sig[:4] == key_id:
                    try:
                        public.verify(sig[4:], text.encode())
                        return True
                    except InvalidSignature:
                        return False
        return False

    def _cosign(self, checkpoint_text: str) -> str:
        timestamp = int(time.time())
        message = f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()
        raw = self._id + timestamp.to_bytes(8, "big") + self._key.sign(message)
        return f"{_DASH} {self.name} {base64.b64encode(raw).decode()}\n"

    # -- HTTP ------------------------------------------------------------------

    def start(self) -> None:
        """Serve on 127.0.0.1 (the same port as before after a :meth:`stop`)."""
        witness = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                super().setup()
                witness._sockets.add(self.connection)

            def finish(self) -> None:
                witness._sockets.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/add-checkpoint":
                    status, ctype, data = 404, "text/plain", b"not found\n"
                else:
                    status, ctype, data = witness.handle(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and drop open connections: the port refuses connections until start()."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        assert self._thread is not None
        self._thread.join(5)
        self._server = None
