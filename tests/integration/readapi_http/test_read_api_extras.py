"""Issue 4's read API endpoints over a real LevelDB log: admins, blocks by hash, signers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from farm_logs import START_MS, LogFactory
from flask.testing import FlaskClient
from served_log import ServedLog
from werkzeug.test import TestResponse

from chain import note
from chain.checkpoint import Checkpoint
from chain.entries import (
    Entry,
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    sign_entry,
)
from chain.keyfile import SignerKey
from gateway.http_app import create_app as create_gateway_app
from gateway.metrics import GatewayMetrics
from readapi import LogInfo, create_app
from verify._registry import registry_history_problem

IMMUTABLE = "public, max-age=31536000, immutable"


def _json(response: TestResponse, status: int = 200) -> dict[str, object]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data())
    assert isinstance(body, dict)
    return body


def _error(response: TestResponse, status: int) -> str:
    body = _json(response, status)
    assert set(body) == {"error"}
    assert response.headers["Cache-Control"] == "no-store"
    assert isinstance(body["error"], str)
    return body["error"]


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- /api/v1/log: admins ---------------------------------------------------------


def test_log_lists_the_trust_roots_admins_when_the_source_knows_them(served: ServedLog) -> None:
    trust = served.factory.trust
    source = served.source
    with_admins = LogInfo(source.origin, source.verifier_key, (), source.store, trust.admins)
    body = _json(create_app(with_admins).test_client().get("/api/v1/log"))
    assert set(body) == {"origin", "vkey", "witnesses", "admins"}
    admins = body["admins"]
    assert isinstance(admins, dict)
    assert {k: _b64url_decode(v) for k, v in admins.items()} == dict(trust.admin_keys)
    assert admins == {"admin": SignerKey.generate("admin", seed=bytes(32)).public_key_b64}
    # Without a trust root, there is no member at all (not an empty one).
    assert "admins" not in _json(create_app(source).test_client().get("/api/v1/log"))


def test_the_gateway_serves_its_trust_roots_admins(served: ServedLog) -> None:
    factory = served.factory
    app = create_gateway_app(factory.store, factory.trust, GatewayMetrics())
    response = app.test_client().get("/api/v1/log")
    body = _json(response)
    assert body["vkey"] == factory.trust.log_key
    assert body["admins"] == {
        a: base64.urlsafe_b64encode(k).decode().rstrip("=") for a, k in factory.trust.admins
    }
    assert response.headers["Cache-Control"] == "no-cache"


SITE_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Cross-Origin-Opener-Policy",
)


def test_the_gateway_sends_the_sites_security_headers(served: ServedLog) -> None:
    factory = served.factory
    client = create_gateway_app(factory.store, factory.trust, GatewayMetrics()).test_client()
    for path, status in (("/api/v1/log", 200), ("/checkpoint", 200), ("/nowhere", 404)):
        response = client.get(path)
        assert response.status_code == status, path
        missing = [name for name in SITE_HEADERS if name not in response.headers]
        assert missing == [], (path, missing)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


# -- /api/v1/batches/<hash> --------------------------------------------------------


def test_every_block_is_served_by_its_hash(client: FlaskClient, served: ServedLog) -> None:
    store = served.factory.store
    for height in range(store.size):  # block 5 too, not yet checkpointed
        block_hash = store.block(height).hash
        response = client.get(f"/api/v1/batches/{block_hash}")
        body = _json(response)
        assert body.pop("height") == height
        assert body == _json(client.get(f"/api/v1/blocks/{height}"))
        assert body["hash"] == block_hash
        raw = base64.b64decode(str(body["header_b64"]), validate=True)
        assert hashlib.sha256(raw).hexdigest() == block_hash and raw == store.block_raw(height)
        assert response.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.parametrize(
    "text",
    [
        "A" * 64,  # uppercase: the hash is lowercase hex, as the header's prev
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "0x" + "a" * 62,
        " " + "a" * 63,
        "%00" + "a" * 61,
        "é" * 64,
        "a" * 5000,
    ],
)
def test_a_malformed_block_hash_is_400(client: FlaskClient, text: str) -> None:
    message = _error(client.get(f"/api/v1/batches/{text}"), 400)
    assert message.startswith("block hash must be 64 lowercase hex digits")
    assert len(message) < 200


def test_an_unknown_block_hash_is_404(client: FlaskClient, served: ServedLog) -> None:
    unknown = hashlib.sha256(b"no such header").hexdigest()
    message = _error(client.get(f"/api/v1/batches/{unknown}"), 404)
    assert message == f"no block with hash {unknown} (the log has 6 blocks)"
    # An entries_root or a prev is not a block hash either.
    entries_root = served.factory.store.block(1).entries_root
    _error(client.get(f"/api/v1/batches/{entries_root}"), 404)
    _error(client.get("/api/v1/batches/"), 404)
    _error(client.get("/api/v1/batches/a/b"), 404)


# -- /api/v1/signers/<id> ----------------------------------------------------------


class RegistryLog:
    """A log with operators, a device rotation, a revocation and decoy events."""

    def __init__(self, root: Path) -> None:
        self.factory = factory = LogFactory(root)
        self.vet = SignerKey.generate("vet1", seed=bytes([9]) * 32)
        self.d2_new = SignerKey.generate("d2", seed=bytes([8]) * 32)
        factory.register("d1")
        factory.register("d2")
        factory.commit(
            [
                self._admin(
                    operator_payload, "register", "vet1", pubkey=self.vet.public_key, roles=["vet"]
                ),
                factory.reading("d1"),
                self._admin(device_payload, "revoke", "d2"),
            ]
        )
        factory.commit(
            [
                self._admin(device_payload, "register", "d2", pubkey=self.d2_new.public_key),
                # Events about device:/operator: subjects share the subject index.
                self._event(["device:d1", "operator:vet1", "device:ghost"]),
                factory.reading("d1"),
            ]
        )
        factory.register("d3")
        self.source = LogInfo(factory.store.origin, factory.trust.log_key, (), factory.store)
        self.client = create_app(self.source).test_client()

    def _admin(
        self,
        build: Callable[..., dict[str, object]],
        action: str,
        subject: str,
        **members: object,
    ) -> Entry:
        self.factory.admin_seq += 1
        payload = build(action, subject, self.factory.admin_seq, START_MS + 1000, **members)
        return parse_entry(sign_entry(payload, "admin", self.factory.admin.seed))

    def _event(self, subjects: list[str]) -> Entry:
        self.factory.admin_seq += 1
        payload = event_payload(
            "recalled", self.factory.admin_seq, START_MS + 2000, subjects, reason="test"
        )
        return parse_entry(sign_entry(payload, "admin", self.factory.admin.seed))

    def expected_grants(self, signer: str) -> list[dict[str, object]]:
        """The grants of ``signer``, found the slow way: every registration entry of the log."""
        store = self.factory.store
        grants = []
        for index in store.registration_indexes():
            entry = parse_entry(store.entry(index))
            subject = entry.payload["dev" if entry.type == "device" else "op"]
            if subject == signer:
                grants.append(
                    {
                        "index": index,
                        "kind": entry.type,
                        "action": entry.payload["action"],
                        "pubkey": entry.payload.get("pubkey"),
                        "ts": entry.ts,
                        "signer": entry.kid,
                        "entry": entry.raw.decode(),
                    }
                )
        return grants


@pytest.fixture
def registry_log(tmp_path: Path) -> Iterator[RegistryLog]:
    log = RegistryLog(tmp_path / "registry")
    yield log
    log.factory.close()


@pytest.mark.parametrize("signer", ["admin", "d1", "d2", "d3", "vet1"])
def test_a_signers_grants_are_its_registrations_in_log_order(
    registry_log: RegistryLog, signer: str
) -> None:
    response = registry_log.client.get(f"/api/v1/signers/{signer}")
    body = _json(response)
    assert response.headers["Cache-Control"] == "no-cache"
    expected = registry_log.expected_grants(signer)
    assert expected, "the fixture registers every signer"
    assert body == {"id": signer, "grants": expected, "registry_proof": body["registry_proof"]}
    store = registry_log.factory.store
    size, signed = store.latest_checkpoint() or (0, "")
    assert body["registry_proof"]["size"] == size
    checkpoint = Checkpoint.from_text(note.parse(signed).text)
    assert registry_history_problem(signer, body, checkpoint) is None


def test_at_a_tree_size_a_signer_has_the_grants_and_proof_of_that_checkpoint(
    registry_log: RegistryLog,
) -> None:
    """d2 is registered in block 2, revoked in 3 and registered again in 4 (issue 14)."""
    store = registry_log.factory.store
    seen = []
    for size in (3, 4, 5):
        response = registry_log.client.get(f"/api/v1/signers/d2?tree_size={size}")
        body = _json(response)
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        checkpoint = Checkpoint.from_text(note.parse(store.checkpoint(size)).text)
        assert registry_history_problem("d2", body, checkpoint) is None
        assert body["registry_proof"]["size"] == size
        seen.append([g["action"] for g in body["grants"]])
    assert seen == [["register"], ["register", "revoke"], ["register", "revoke", "register"]]
    hidden = _json(registry_log.client.get("/api/v1/signers/d2?tree_size=4"))
    hidden["grants"] = hidden["grants"][:1]  # a site hiding the revocation
    checkpoint = Checkpoint.from_text(note.parse(store.checkpoint(4)).text)
    assert "not proven complete" in (registry_history_problem("d2", hidden, checkpoint) or "")
    message = _error(registry_log.client.get("/api/v1/signers/d3?tree_size=5"), 404)
    assert message == "signer 'd3' was never registered in the tree of size 5"
    beyond = _error(registry_log.client.get(f"/api/v1/signers/d2?tree_size={store.size + 1}"), 400)
    assert "beyond the latest checkpoint" in beyond


def test_grants_describe_rotation_and_revocation(registry_log: RegistryLog) -> None:
    body = _json(registry_log.client.get("/api/v1/signers/d2"))
    grants = body["grants"]
    assert isinstance(grants, list)
    assert [(g["kind"], g["action"], g["signer"]) for g in grants] == [
        ("device", "register", "admin"),
        ("device", "revoke", "admin"),
        ("device", "register", "admin"),
    ]
    assert grants[1]["pubkey"] is None
    assert grants[2]["pubkey"] == registry_log.d2_new.public_key_b64
    assert grants[0]["pubkey"] != grants[2]["pubkey"]
    indexes = [g["index"] for g in grants]
    assert indexes == sorted(indexes)
    store = registry_log.factory.store
    for grant in grants:
        assert parse_entry(store.entry(grant["index"])).payload["dev"] == "d2"
    admin = _json(registry_log.client.get("/api/v1/signers/admin"))["grants"]
    assert admin == [
        {
            "index": 0,
            "kind": "operator",
            "action": "register",
            "pubkey": registry_log.factory.admin.public_key_b64,
            "ts": START_MS - 1000,
            "signer": "admin",  # the genesis administrator registers itself
            "entry": store.entry(0).decode(),
        }
    ]


@pytest.mark.parametrize("signer", ["nobody", "ghost", "d", "D1", "d1.", "vet"])
def test_a_never_registered_signer_is_404(registry_log: RegistryLog, signer: str) -> None:
    # "ghost" is the subject of an event (device:ghost) but was never registered.
    message = _error(registry_log.client.get(f"/api/v1/signers/{signer}"), 404)
    assert message == f"signer {signer!r} was never registered in this log"


@pytest.mark.parametrize(
    "signer",
    [
        "-d1",
        ".d1",
        "_",
        "a" * 65,
        "a" * 10_000,
        "d1:x",
        "device:d1",
        "d1 ",
        "d%201",
        "d1%00",
        "%2e%2e",
        "d\u00e9",
        "\u202ed1",
        "d1;drop",
        "<script>",
        "d1%0a",
        "..",
    ],
)
def test_a_hostile_signer_id_is_400(registry_log: RegistryLog, signer: str) -> None:
    response = registry_log.client.get(f"/api/v1/signers/{signer}")
    message = _error(response, 400)
    assert message.startswith("signer id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}: ")
    assert len(message) < 200
    assert response.mimetype == "application/json"  # echoed text is never HTML


@pytest.mark.parametrize("path", ["/api/v1/signers/", "/api/v1/signers/a/b"])
def test_signer_paths_outside_the_route_are_json_404(registry_log: RegistryLog, path: str) -> None:
    assert _error(registry_log.client.get(path), 404)


def test_new_endpoints_refuse_other_methods(registry_log: RegistryLog) -> None:
    block_hash = registry_log.factory.store.block(0).hash
    for url in (f"/api/v1/batches/{block_hash}", "/api/v1/signers/d1"):
        response = registry_log.client.post(url)
        assert "not allowed" in _error(response, 405)
        assert "GET" in response.headers["Allow"]
