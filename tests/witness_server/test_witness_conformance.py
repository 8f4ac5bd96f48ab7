"""A client written from the text of c2sp.org/tlog-witness, against ``farmtrace witness serve``.

Nothing here uses chain's note, checkpoint or Merkle code: the log key is
``cryptography``'s Ed25519, the tree is tests/merkle_reference.py, and the
request bytes and the cosignature checks follow the specs' wording:

- signed-note: key ID = SHA-256(name || 0x0A || type || public key)[:4];
  a signature line is "— <name> base64(key ID || signature)\\n".
- tlog-cosignature: Ed25519 key ID with type 0x04; the signature is
  u64 big-endian timestamp || Ed25519 over "cosignature/v1\\ntime <t>\\n" || checkpoint.
- tlog-witness: the body is "old <n>\\n", proof lines, "\\n", the checkpoint note;
  a same size with another root and a size-0 checkpoint without the empty
  tree's root are 422 (C2SP PR #280); the latest cosigned checkpoint is at
  "<monitoring prefix>/<lowercase hex SHA-256 of the origin>/checkpoint"
  (C2SP PR #273, with tlog-mirror's "<origin hash>").
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from merkle_reference import ref_consistency, ref_root
from witness_harness import WitnessProcess, make_witness_dir

ORIGIN = "conformance.test/log"
WITNESS = "conformance.test/witness"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


class SpecLog:
    """A log per the specs: Ed25519 (type 0x01) checkpoint key named after its origin."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin = origin
        self.key = Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.id = key_id(origin, 0x01, self.public)
        self.leaves = [b"entry %d" % i for i in range(64)]

    @property
    def vkey(self) -> str:
        return f"{self.origin}+{self.id.hex()}+{b64(bytes([0x01]) + self.public)}"

    def checkpoint(self, size: int, root: bytes | None = None) -> str:
        root = ref_root(self.leaves[:size]) if root is None else root
        return f"{self.origin}\n{size}\n{b64(root)}\n"

    def note(self, text: str) -> str:
        return f"{text}\n\u2014 {self.origin} {b64(self.id + self.key.sign(text.encode()))}\n"

    def body(
        self, old: int, size: int, *, proof: list[bytes] | None = None, text: str = ""
    ) -> bytes:
        if proof is None:
            proof = ref_consistency(self.leaves[:size], old)
        lines = [f"old {old}\n", *(b64(h) + "\n" for h in proof), "\n"]
        return ("".join(lines) + self.note(text or self.checkpoint(size))).encode()


@pytest.fixture
def log() -> SpecLog:
    return SpecLog()


@pytest.fixture
def witness(tmp_path: Path, log: SpecLog) -> Iterator[WitnessProcess]:
    directory = make_witness_dir(tmp_path / "w", WITNESS, [(log.origin, log.vkey)])
    with WitnessProcess(directory) as process:
        yield process


@pytest.fixture
def conn(witness: WitnessProcess) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", witness.port, timeout=10)
    yield connection
    connection.close()


def submit(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, str, bytes]:
    conn.request("POST", "/add-checkpoint", body=body)
    answer = conn.getresponse()
    return answer.status, answer.getheader("Content-Type") or "", answer.read()


def check_cosignature(witness: WitnessProcess, checkpoint: str, body: bytes) -> int:
    """Check a 200 body as tlog-cosignature says; return the timestamp."""
    match = re.fullmatch(r"\u2014 (\S+) (\S+)\n", body.decode("utf-8"))
    assert match is not None, body
    assert match[1] == WITNESS
    raw = base64.b64decode(match[2], validate=True)
    assert len(raw) == 4 + 8 + 64
    name, _, encoded = witness.vkey.split("+", 2)
    typed = base64.b64decode(encoded)
    assert (name, typed[0]) == (WITNESS, 0x04)
    assert raw[:4] == key_id(WITNESS, 0x04, typed[1:])
    timestamp = int.from_bytes(raw[4:12], "big")
    message = f"cosignature/v1\ntime {timestamp}\n{checkpoint}".encode()
    Ed25519PublicKey.from_public_bytes(typed[1:]).verify(raw[12:], message)  # raises if bad
    return timestamp


def test_cosigns_an_append_only_log(
    witness: WitnessProcess, conn: http.client.HTTPConnection, log: SpecLog
) -> None:
    old = 0
    for size in (1, 2, 5, 8, 13, 13, 40):
        before = int(time.time())
        status, ctype, body = submit(conn, log.body(old, size))
        assert (status, ctype) == (200, "text/plain; charset=utf-8"), body
        assert before <= check_cosignature(witness, log.checkpoint(size), body) <= time.time()
        old = size
    conn.request("GET", "/" + hashlib.sha256(ORIGIN.encode()).hexdigest() + "/checkpoint")
    answer = conn.getresponse()
    served = answer.read().decode()
    assert answer.status == 200
    conn.request("GET", "/latest-checkpoint?origin=" + ORIGIN.replace("/", "%2F"))
    legacy = conn.getresponse()
    assert (legacy.status, legacy.read().decode()) == (200, served)
    text, _, signatures = served.partition("\n\n")
    assert text + "\n" == log.checkpoint(40)
    lines = signatures.splitlines(keepends=True)
    assert lines[0] == log.note(log.checkpoint(40)).split("\n\n")[1]
    check_cosignature(witness, log.checkpoint(40), lines[1].encode())


def test_stale_old_size_gets_409_with_the_size(
    conn: http.client.HTTPConnection, log: SpecLog
) -> None:
    assert submit(conn, log.body(0, 7))[0] == 200
    for old in (0, 3, 6):
        assert submit(conn, log.body(old, 9)) == (409, "text/x.tlog.size", b"7\n")


def test_size_0_needs_the_empty_trees_root(conn: http.client.HTTPConnection, log: SpecLog) -> None:
    """PR #280: "A checkpoint of size zero MUST have the root hash of the empty tree"."""
    empty = log.checkpoint(0, root=hashlib.sha256(b"").digest())
    not_empty = log.checkpoint(0, root=ref_root(log.leaves[:1]))
    assert submit(conn, log.body(0, 0, proof=[], text=not_empty))[0] == 422
    assert submit(conn, log.body(0, 0, proof=[], text=empty))[0] == 200
    conn.request("GET", "/" + "ab" * 32 + "/checkpoint")  # a log it does not follow
    answer = conn.getresponse()
    assert (answer.status, answer.read() != b"") == (404, True)


def test_other_refusals(conn: http.client.HTTPConnection, log: SpecLog) -> None:
    assert submit(conn, log.body(0, 4))[0] == 200
    stranger = SpecLog()  # the same origin, a key the witness does not trust
    assert submit(conn, stranger.body(4, 6))[0] == 403
    assert submit(conn, SpecLog("unknown.test/log").body(0, 3))[0] == 404
    assert submit(conn, log.body(5, 4, proof=[]))[0] == 400
    assert submit(conn, b"old 4\nnot base64!\n\n" + log.note(log.checkpoint(6)).encode())[0] == 400
    assert submit(conn, log.body(0, 4, proof=[bytes(32)]))[0] == 400  # proof from old 0
    wrong = ref_consistency(log.leaves[:6], 4)
    wrong[0] = bytes(32)
    assert submit(conn, log.body(4, 6, proof=wrong))[0] == 422
    other_root = log.checkpoint(4, root=ref_root([b"another history"] * 4))
    assert submit(conn, log.body(4, 4, proof=[], text=other_root))[0] == 422
    status, _, answer = submit(conn, log.body(4, 6) + b"x" * 70_000)
    assert status == 413 and b"larger than" in answer
    # a note that also carries another witness's (unknown) cosignature is accepted
    extra = f"\u2014 someone.test/w {b64(bytes(76))}\n".encode()
    status, _, answer = submit(conn, log.body(4, 6) + extra)
    assert status == 200
    assert answer.decode().startswith(f"\u2014 {WITNESS} ")
