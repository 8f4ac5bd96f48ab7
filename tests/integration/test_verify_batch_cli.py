"""``farmtrace verify-batch`` against a real HTTP server serving a real log, honest or not.

The server is the gateway's own app over a LevelDB store, on 127.0.0.1, behind
a WSGI middleware that can rewrite its answers as a dishonest site would.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from farm_logs import START_MS, LogFactory
from werkzeug.serving import WSGIRequestHandler, make_server

from chain import note
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import device_payload, operator_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.http_app import create_app
from gateway.metrics import GatewayMetrics

RunCli = Callable[..., tuple[int, str, str]]
Rewrite = Callable[[bytes], bytes]
CHECKS = ["checkpoint", "block header", "entries root", "inclusion", "registrations", "signatures"]


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class Tamper:
    """WSGI middleware: for paths starting with a prefix, answers are rewritten, replaced
    or failed, or the query string is replaced before the app sees it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.rewrites: dict[str, Rewrite] = {}
        self.failures: dict[str, str] = {}
        self.queries: dict[str, str] = {}
        self.answers: dict[str, bytes] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        for prefix, query in self.queries.items():
            if path.startswith(prefix):
                environ["QUERY_STRING"] = query
        for prefix, status in self.failures.items():
            if path.startswith(prefix):
                start_response(status, [("Content-Type", "text/plain")])
                return [b"server error"]
        for prefix, body in self.answers.items():
            if path.startswith(prefix):
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        answer = self.app(environ, capture)
        try:
            body = b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        for prefix, rewrite in self.rewrites.items():
            if path.startswith(prefix):
                body = rewrite(body)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


class Site:
    """A store served over HTTP by the gateway's app, with a :class:`Tamper` in front."""

    def __init__(self, store: Store, trust: TrustRoot, trust_path: Path) -> None:
        self.store = store
        self.trust_path = trust_path
        self.tamper = Tamper(create_app(store, trust, GatewayMetrics()))
        self.server = make_server(
            "127.0.0.1", 0, self.tamper, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def verify(self, run_cli: RunCli, height: int, *extra: str) -> tuple[int, str, str]:
        block_hash = self.store.block(height).hash
        return run_cli(
            "verify-batch", block_hash, "--url", self.url, "--trust", self.trust_path, *extra
        )

    def report(self, run_cli: RunCli, height: int) -> tuple[int, dict[str, Any]]:
        code, out, err = self.verify(run_cli, height, "--json")
        assert err == ""
        report = json.loads(out)
        assert [c["name"] for c in report["checks"]] == CHECKS
        return code, report

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(data_dir: DataDir) -> Iterator[Site]:
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        site = Site(store, trust, data_dir.trust)
        try:
            yield site
        finally:
            site.close()


@pytest.fixture
def site(demo_dir: DataDir) -> Iterator[Site]:
    """The small demo farm (14 blocks, 4 devices registered by the admin), served honestly."""
    with serving(demo_dir) as served:
        yield served


def _status(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def _check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def _json_rewrite(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def rewrite(body: bytes) -> bytes:
        obj = json.loads(body)
        change(obj)
        return json.dumps(obj).encode()

    return rewrite


# -- an honest site ----------------------------------------------------------------


@pytest.mark.parametrize("height", [0, 1, 7, 13])
def test_an_honest_sites_blocks_verify(site: Site, run_cli: RunCli, height: int) -> None:
    code, out, err = site.verify(run_cli, height)
    assert (code, err) == (0, "")
    for name in CHECKS:
        assert f"  OK      {name}" in out
    assert out.endswith(f"RESULT: OK: block {height} is in the log, signed as registered\n")
    code, report = site.report(run_cli, height)
    assert code == 0 and report["ok"] is True
    assert report["height"] == height and report["checkpoint_size"] == site.store.size == 14
    assert report["block_hash"] == site.store.block(height).hash
    assert set(_status(report).values()) == {"ok"}


def test_the_registration_chain_is_followed_to_the_trust_root(site: Site, run_cli: RunCli) -> None:
    _, report = site.report(run_cli, 5)
    # 4 devices, each registered by farm-admin, who registered itself at genesis.
    message = _check(report, "registrations")["message"]
    assert message.startswith("5 registration entries of 5 signers")
    assert _check(report, "signatures")["message"].startswith("50 entries by 4 signers")


def test_a_hash_in_upper_case_is_accepted(site: Site, run_cli: RunCli) -> None:
    block_hash = site.store.block(2).hash.upper()
    code, out, _ = run_cli(
        "verify-batch", block_hash, "--url", site.url, "--trust", site.trust_path
    )
    assert code == 0 and "RESULT: OK" in out


def test_help_teaches_what_is_checked(run_cli: RunCli) -> None:
    code, out, _ = run_cli("verify-batch", "--help")
    assert code == 0
    for name in CHECKS:
        assert f"  {name}" in out
    assert "Exit status: 0 verified; 1 a check failed" in out
    assert "farmtrace verify-batch 3f5d0c...e81a --url https://farm.example" in out


# -- a dishonest site -----------------------------------------------------------------


def test_a_changed_entry_fails_the_entries_root(site: Site, run_cli: RunCli) -> None:
    other = site.store.block_entries(9)[0].decode()  # validly signed, from another block

    def swap(obj: dict[str, Any]) -> None:
        obj["entries"][3] = other

    site.tamper.rewrites["/api/v1/batches/"] = _json_rewrite(swap)
    code, out, _ = site.verify(run_cli, 4)
    assert code == 1
    assert "  FAILED  entries root   block 4: entries_root mismatch" in out
    assert f"expected    {site.store.block(4).entries_root}" in out
    assert "RESULT: FAILED: entries root\n" in out
    _, report = site.report(run_cli, 4)
    assert _status(report) == dict.fromkeys(CHECKS, "ok") | {"entries root": "failed"}


def test_a_dropped_entry_fails_the_entries_root(site: Site, run_cli: RunCli) -> None:
    site.tamper.rewrites["/api/v1/batches/"] = _json_rewrite(lambda obj: obj["entries"].pop())
    code, report = site.report(run_cli, 4)
    assert code == 1
    assert _check(report, "entries root")["message"] == "block 4: expected 50 entries, found 49"


def test_a_changed_header_fails_the_block_hash(site: Site, run_cli: RunCli) -> None:
    def later(obj: dict[str, Any]) -> None:
        header = json.loads(base64.b64decode(obj["header_b64"]))
        header["closed_at"] += 1
        raw = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        obj["header_b64"] = base64.b64encode(raw).decode()

    site.tamper.rewrites["/api/v1/batches/"] = _json_rewrite(later)
    code, out, _ = site.verify(run_cli, 6)
    assert code == 1
    assert "  FAILED  block header   the header served does not hash to the block hash" in out
    assert f"expected    {site.store.block(6).hash}" in out
    assert "  SKIPPED entries root   needs the block header" in out
    assert "RESULT: FAILED: block header\n" in out


def test_a_block_claimed_at_another_height_fails(site: Site, run_cli: RunCli) -> None:
    site.tamper.rewrites["/api/v1/batches/"] = _json_rewrite(lambda obj: obj.update(height=5))
    code, report = site.report(run_cli, 3)
    assert code == 1
    header = _check(report, "block header")
    assert header["message"] == "the header is of another log or height"
    origin = site.store.origin
    assert (header["expected"], header["calculated"]) == (
        f"block 5 of {origin}",
        f"block 3 of {origin}",
    )


def test_a_block_of_another_log_fails(site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    other = LogFactory(tmp_path / "other")
    other.register("d1")
    block_hash = other.store.block(1).hash
    with create_app(other.store, other.trust, GatewayMetrics()).test_client() as client:
        body = client.get(f"/api/v1/batches/{block_hash}").get_data()
    other.close()
    site.tamper.answers["/api/v1/batches/"] = body
    code, out, _ = run_cli(
        "verify-batch", block_hash, "--url", site.url, "--trust", site.trust_path, "--json"
    )
    assert code == 1
    header = _check(json.loads(out), "block header")
    assert header["calculated"] == "block 1 of test.example/log"
    assert header["expected"] == f"block 1 of {site.store.origin}"


def test_a_checkpoint_signed_by_another_key_fails(site: Site, run_cli: RunCli) -> None:
    origin = site.store.origin
    forger, _ = note.generate_key(origin)

    def resign(body: bytes) -> bytes:
        text = note.parse(body.decode()).text
        return sign_checkpoint(Checkpoint.from_text(text), forger).encode()

    site.tamper.rewrites["/checkpoint"] = resign
    code, out, _ = site.verify(run_cli, 3)
    assert code == 1
    assert "  FAILED  checkpoint     checkpoint: expected a signature by the log key" in out
    code, report = site.report(run_cli, 3)
    assert _status(report) == {
        "checkpoint": "failed",
        "block header": "ok",
        "entries root": "ok",
        "inclusion": "skipped",
        "registrations": "skipped",
        "signatures": "skipped",
    }


def test_a_forged_inclusion_proof_fails(site: Site, run_cli: RunCli) -> None:
    def flip(obj: dict[str, Any]) -> None:
        obj["hashes"][0] = base64.b64encode(bytes(32)).decode()

    site.tamper.rewrites["/api/v1/blocks/"] = _json_rewrite(flip)
    code, report = site.report(run_cli, 3)
    assert code == 1
    inclusion = _check(report, "inclusion")
    assert inclusion["status"] == "failed"
    assert inclusion["expected"] == report["checkpoint_root"] != inclusion["calculated"]


def test_a_site_that_lies_about_a_registration_fails(site: Site, run_cli: RunCli) -> None:
    def point_elsewhere(obj: dict[str, Any]) -> None:
        obj["grants"][0]["index"] = 20  # a reading, not a registration

    site.tamper.rewrites["/api/v1/signers/barn1-temp"] = _json_rewrite(point_elsewhere)
    code, report = site.report(run_cli, 2)
    assert code == 1
    registrations = _check(report, "registrations")
    incomplete, lie = registrations["problems"]
    assert "barn1-temp': registration history not proven complete" in incomplete
    assert lie == "entry 20 is not a registration of 'barn1-temp'"
    signatures = _check(report, "signatures")
    assert signatures["status"] == "failed"
    assert all("'barn1-temp' is not registered" in p for p in signatures["problems"])


def test_a_site_that_misdescribes_a_key_fails(site: Site, run_cli: RunCli) -> None:
    forged = SignerKey.generate("x", seed=bytes([5]) * 32).public_key_b64

    def swap_key(obj: dict[str, Any]) -> None:
        obj["grants"][0]["pubkey"] = forged

    site.tamper.rewrites["/api/v1/signers/barn2-humi"] = _json_rewrite(swap_key)
    code, report = site.report(run_cli, 2)
    assert code == 1
    incomplete, problem = _check(report, "registrations")["problems"]
    assert "barn2-humi': registration history not proven complete" in incomplete
    assert problem.startswith("the site describes entry 4 as {") and forged in problem
    assert _check(report, "signatures")["status"] == "ok"  # checked against the entry itself


def test_a_site_that_serves_another_entrys_proof_fails(site: Site, run_cli: RunCli) -> None:
    def other_entry(body: bytes) -> bytes:
        return body.replace(b'"index": 0', b'"index": 1')

    site.tamper.rewrites["/api/v1/entries/0/proof"] = other_entry
    code, report = site.report(run_cli, 0)
    assert code == 1
    (problem,) = _check(report, "registrations")["problems"]
    assert problem.startswith("registration entry 0 of 'farm-admin': ")


def test_a_registration_proven_in_another_checkpoint_fails(site: Site, run_cli: RunCli) -> None:
    # Entry 0 is in every checkpoint; a proof against the one of size 1 is valid on its own.
    site.tamper.queries["/api/v1/entries/0/proof"] = "tree_size=1"
    code, report = site.report(run_cli, 0)
    assert code == 1
    (problem,) = _check(report, "registrations")["problems"]
    assert problem.startswith(
        "registration entry 0 of 'farm-admin': proven against a checkpoint of size 1, "
        f"not the one of size 14: expected {report['checkpoint_root']}, calculated "
    )


def test_an_unknown_block_hash_fails_with_a_clear_message(site: Site, run_cli: RunCli) -> None:
    unknown = "ab" * 32
    code, out, err = run_cli("verify-batch", unknown, "--url", site.url, "--trust", site.trust_path)
    assert (code, err) == (1, "")
    assert "  FAILED  block header   the site has no block with this hash (" in out
    assert f"no block with hash {unknown}" in out
    assert "RESULT: FAILED: block header\n" in out


# -- logs with bad signers, served honestly ---------------------------------------------


@pytest.fixture
def odd_log(tmp_path: Path) -> DataDir:
    """Blocks 2..5: an unregistered signer, a forged key, a device registered by a device,
    and one registered by an entry that claims to be the admin's."""
    factory = LogFactory(tmp_path / "odd")
    factory.register("d1")  # block 1
    rogue = SignerKey.generate("rogue", seed=bytes([3]) * 32)
    unregistered = reading_payload("rogue", 1, START_MS, "temperature", "barn:b1", 20.0, "Cel")
    factory.commit(
        [factory.reading("d1"), parse_entry(sign_entry(unregistered, "rogue", rogue.seed))]
    )
    forged = reading_payload("d1", 2, START_MS + 60_000, "temperature", "barn:b1", 35.0, "Cel")
    factory.devices["d1"] = (factory.devices["d1"][0], 2)
    factory.commit([parse_entry(sign_entry(forged, "d1", rogue.seed)), factory.reading("d1")])
    d1_key = factory.devices["d1"][0]
    evil = SignerKey.generate("evil", seed=bytes([4]) * 32)
    by_device = device_payload("register", "evil", 4, START_MS, pubkey=evil.public_key)
    evil_reading = reading_payload("evil", 1, START_MS + 1, "temperature", "barn:b1", 1.0, "Cel")
    factory.commit(
        [
            parse_entry(sign_entry(by_device, "d1", d1_key.seed)),
            parse_entry(sign_entry(evil_reading, "evil", evil.seed)),
        ]
    )
    mole = SignerKey.generate("mole", seed=bytes([5]) * 32)
    by_forger = device_payload("register", "mole", 3, START_MS, pubkey=mole.public_key)
    mole_reading = reading_payload("mole", 1, START_MS + 1, "temperature", "barn:b1", 1.0, "Cel")
    factory.commit(
        [
            parse_entry(sign_entry(by_forger, "admin", rogue.seed)),  # claims to be the admin
            parse_entry(sign_entry(mole_reading, "mole", mole.seed)),
        ]
    )
    factory.close()
    return factory.data_dir


def test_an_entry_by_an_unregistered_signer_fails(odd_log: DataDir, run_cli: RunCli) -> None:
    with serving(odd_log) as site:
        code, out, _ = site.verify(run_cli, 2)
    assert code == 1
    assert "  OK      registrations" in out
    assert "  FAILED  signatures     1 failed" in out
    assert "entry 3: signer 'rogue' is not registered before entry 3" in out


def test_an_entry_signed_with_another_key_fails(odd_log: DataDir, run_cli: RunCli) -> None:
    with serving(odd_log) as site:
        code, report = site.report(run_cli, 3)
    assert code == 1
    assert _check(report, "signatures")["problems"] == [
        "entry 4: signature: expected a valid Ed25519 signature by 'd1', found an invalid one"
    ]


def test_a_device_registered_by_a_device_fails(odd_log: DataDir, run_cli: RunCli) -> None:
    with serving(odd_log) as site:
        code, report = site.report(run_cli, 4)
    assert code == 1
    (problem,) = _check(report, "registrations")["problems"]
    assert problem.startswith("registration entry 6 (signed by 'd1'): device must be signed by")
    problems = _check(report, "signatures")["problems"]
    assert problems[0] == (
        "entry 6: device must be signed by an operator with a role in ['admin', 'farm']; "
        "'d1' is a device with roles []"
    )
    assert problems[1] == "entry 7: signer 'evil' is not registered before entry 7"


def test_a_registration_with_a_forged_signature_fails(odd_log: DataDir, run_cli: RunCli) -> None:
    with serving(odd_log) as site:
        code, report = site.report(run_cli, 5)
    assert code == 1
    assert _check(report, "registrations")["problems"] == [
        "registration entry 8 (signed by 'admin'): signature: expected a valid Ed25519 "
        "signature by 'admin', found an invalid one"
    ]
    assert _check(report, "signatures")["problems"][1] == (
        "entry 9: signer 'mole' is not registered before entry 9"
    )


def test_an_operator_chain_verifies(tmp_path: Path, run_cli: RunCli) -> None:
    """A device registered by a farm operator whom the admin registered: three links."""
    factory = LogFactory(tmp_path / "chain")
    farmer = SignerKey.generate("farmer", seed=bytes([6]) * 32)
    sensor = SignerKey.generate("sensor", seed=bytes([7]) * 32)
    admin_reg = operator_payload(
        "register", "farmer", 2, START_MS, pubkey=farmer.public_key, roles=["farm"]
    )
    farm_reg = device_payload(
        "register",
        "sensor",
        1,
        START_MS + 1,
        pubkey=sensor.public_key,
        kinds=["humidity"],
        subjects=["barn:b1"],
    )
    reading = reading_payload("sensor", 1, START_MS + 2, "humidity", "barn:b1", 60.0, "%RH")
    factory.commit([parse_entry(sign_entry(admin_reg, "admin", factory.admin.seed))])
    factory.commit([parse_entry(sign_entry(farm_reg, "farmer", farmer.seed))])
    factory.commit([parse_entry(sign_entry(reading, "sensor", sensor.seed))])
    factory.close()
    with serving(factory.data_dir) as site:
        code, report = site.report(run_cli, 3)
    assert code == 0
    message = _check(report, "registrations")["message"]
    assert message.startswith("3 registration entries of 3 signers")


def test_later_registrations_do_not_matter(tmp_path: Path, run_cli: RunCli) -> None:
    """A revocation after the block, and a registration not yet checkpointed, change nothing."""
    factory = LogFactory(tmp_path / "later")
    key = factory.register("d1")  # block 1
    factory.commit([factory.reading("d1")])  # block 2
    revoke = device_payload("revoke", "d1", 3, START_MS + 10**6)
    factory.commit([parse_entry(sign_entry(revoke, "admin", factory.admin.seed))])  # block 3
    again = device_payload("register", "d1", 4, START_MS + 10**7, pubkey=key.public_key)
    again_entry = parse_entry(sign_entry(again, "admin", factory.admin.seed))
    factory.writer.commit_block([again_entry], START_MS)  # block 4, no checkpoint
    factory.close()
    with serving(factory.data_dir) as site:
        code, report = site.report(run_cli, 2)
    assert code == 0
    message = _check(report, "registrations")["message"]
    assert message.startswith("2 registration entries of 2 signers")


def test_a_block_not_yet_checkpointed_fails_inclusion(tmp_path: Path, run_cli: RunCli) -> None:
    factory = LogFactory(tmp_path / "late")
    factory.register("d1")
    factory.writer.commit_block([factory.reading("d1")], START_MS)  # no checkpoint
    factory.close()
    with serving(factory.data_dir) as site:
        code, report = site.report(run_cli, 2)
    assert code == 1
    inclusion = _check(report, "inclusion")
    assert inclusion["message"] == (
        "block 2 is not covered by the checkpoint (size 2) yet; try again later"
    )
    assert _status(report)["signatures"] == "skipped"


# -- no verdict ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_site_that_is_down_gives_no_verdict(demo_dir: DataDir, run_cli: RunCli) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, out, err = run_cli("verify-batch", "ab" * 32, "--url", url, "--trust", demo_dir.trust)
    assert (code, out) == (2, "")
    assert err.startswith("farmtrace verify-batch: no verdict, the site could not be asked: ")
    assert "source unreachable" in err and "Traceback" not in err


def test_a_server_error_midway_gives_no_verdict(site: Site, run_cli: RunCli) -> None:
    site.tamper.failures["/api/v1/signers/"] = "503 Service Unavailable"
    code, out, err = site.verify(run_cli, 3)
    assert (code, out) == (2, "")
    assert "HTTP 503" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["xyz", "--url", "http://127.0.0.1:1"], "a block hash is 64 hex digits, got 'xyz'"),
        (["ab" * 33, "--url", "http://127.0.0.1:1"], "a block hash is 64 hex digits"),
        (["ab" * 32, "--url", "ftp://farm.example"], "expected http://HOST[:PORT]"),
        (["ab" * 32, "--url", "farm.example:8080"], "expected http://HOST[:PORT]"),
        (["ab" * 32, "--url", "http://farm.example:99999"], "out of range"),
        (["ab" * 32, "--url", "http://h", "--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_usage_errors_exit_2(
    demo_dir: DataDir, run_cli: RunCli, args: list[str], message: str
) -> None:
    code, out, err = run_cli("verify-batch", *args, "--trust", demo_dir.trust)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_an_unreadable_trust_root_exits_2(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default --trust is ./trust.json
    code, _, err = run_cli("verify-batch", "ab" * 32, "--url", "http://127.0.0.1:1")
    assert code == 2 and "cannot read the trust root trust.json" in err
    (tmp_path / "trust.json").write_text('{"origin": "x"}')
    code, _, err = run_cli("verify-batch", "ab" * 32, "--url", "http://127.0.0.1:1")
    assert code == 2 and "not a farmtrace trust root document" in err


def test_a_trust_root_for_another_log_fails_the_checkpoint(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    _, other_key = note.generate_key(site.store.origin)
    trust = TrustRoot.from_json(site.trust_path.read_text())
    pinned = tmp_path / "pinned.json"
    pinned.write_text(TrustRoot(trust.origin, other_key, trust.admins).to_json())
    block_hash = site.store.block(1).hash
    code, out, _ = run_cli("verify-batch", block_hash, "--url", site.url, "--trust", pinned)
    assert code == 1 and "  FAILED  checkpoint" in out
