"""Issue 14: the log's checkpoints commit to its registry; whoever replays the log checks it.

The forgeries are what a gateway operator holding the log key can make
(tests/registry_forgery.py): a checkpoint whose ``farmtrace-registry`` line
leaves a revocation out. The consumer site's replica, ``farmtrace audit
--url`` and ``farmtrace audit --data-dir`` must refuse it, naming the
registry commitment; the read API serves a proof that a hidden revocation breaks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from farm_logs import START_MS, LogFactory
from followed_logs import HttpLog, grow, serve
from registry_forgery import sign_checkpoint_hiding

from chain import note
from chain.audit import audit_store
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import device_payload, parse_entry, sign_entry
from chain.log import load_registry_tree
from chain.registry_commitment import RegistryCommitment
from chain.store import Store
from consumer_web._replica import Replica
from gateway.init import read_log_signer
from readapi.client import ReadApiClient, Transport, urllib_transport
from verify._registry import registry_history_problem
from verify.batch import verify_batch

Cli = Callable[..., tuple[int, str, str]]
REVOKE_TS = START_MS + 30 * 60_000


def _revoke(factory: LogFactory, dev: str) -> int:
    """Commit (and honestly checkpoint) a revocation of ``dev``; return its log index."""
    factory.admin_seq += 1
    payload = device_payload("revoke", dev, factory.admin_seq, REVOKE_TS)
    index = factory.store.entry_count
    factory.commit([parse_entry(sign_entry(payload, "admin", factory.admin.seed))])
    return index


@pytest.fixture
def revoked(tmp_path: Path) -> Iterator[tuple[LogFactory, int]]:
    """A log where d1 is registered, reads, and is then revoked (the revocation's index)."""
    factory = LogFactory(tmp_path / "source")
    grow(factory, 3)
    index = _revoke(factory, "d1")
    yield factory, index
    factory.close()


def test_every_checkpoint_carries_the_commitment_the_blocks_give(
    revoked: tuple[LogFactory, int],
) -> None:
    factory, index = revoked
    store = factory.store
    lines = []
    for size in store.checkpoint_sizes():
        checkpoint = Checkpoint.from_text(note.parse(store.checkpoint(size)).text)
        lines.append(RegistryCommitment.from_checkpoint(checkpoint))
    tree = load_registry_tree(store)
    assert [r.index for r in tree.records if r.signer == "d1"][-1] == index
    assert lines[-1] == tree.commitment()
    assert lines[-2] == tree.commitment_before(index)  # before the revocation
    assert lines[0].signers == 1  # genesis: the administrator alone
    assert audit_store(store, factory.trust).ok


def test_the_audit_refuses_a_checkpoint_that_hides_a_revocation(
    revoked: tuple[LogFactory, int],
) -> None:
    factory, index = revoked
    sign_checkpoint_hiding(factory.store, read_log_signer(factory.data_dir), index)
    report = audit_store(factory.store, factory.trust)
    (finding,) = report.failures
    assert finding.reason == "registry_commitment" and finding.block == factory.store.size - 1
    assert "expected farmtrace-registry" in finding.message


def test_the_audit_refuses_a_checkpoint_without_the_line_after_one_with_it(
    revoked: tuple[LogFactory, int],
) -> None:
    factory, _ = revoked
    store = factory.store
    old_style = Checkpoint(store.origin, store.size, store.root(store.size))
    store.put_checkpoint(store.size, sign_checkpoint(old_style, read_log_signer(factory.data_dir)))
    (finding,) = audit_store(store, factory.trust).failures
    assert finding.reason == "registry_commitment"
    assert "no registry line, though an earlier checkpoint" in finding.message


def _strip_lines(factory: LogFactory, sizes: list[int]) -> None:
    """Re-sign the checkpoints of ``sizes`` without the line, as a gateway before v3 did."""
    store = factory.store
    for size in sizes:
        old_style = Checkpoint(store.origin, size, store.root(size))
        store.put_checkpoint(size, sign_checkpoint(old_style, read_log_signer(factory.data_dir)))


def test_a_log_from_before_the_line_audits_clean_and_adopts_it_on_upgrade(
    revoked: tuple[LogFactory, int],
) -> None:
    factory, _ = revoked
    sizes = factory.store.checkpoint_sizes()
    _strip_lines(factory, sizes[:-1])  # every checkpoint but the newest is from before
    report = audit_store(factory.store, factory.trust)
    assert report.ok, report.failures
    assert report.checkpoints_verified == len(sizes)


def test_a_replica_follows_a_log_across_the_upgrade_and_refuses_a_downgrade(
    tmp_path: Path, revoked: tuple[LogFactory, int]
) -> None:
    factory, _ = revoked
    store = factory.store
    newest = store.size
    _strip_lines(factory, [newest])
    served = serve(factory)
    try:
        with Replica(tmp_path / "site", [served.url], trust=factory.trust) as replica:
            assert replica.sync_once().tree_size == newest  # no line yet: accepted
            grow(factory, 1)  # the upgraded gateway's next checkpoint has the line
            assert replica.sync_once().tree_size == store.size
            adopted = store.size
            grow(factory, 1)
            _strip_lines(factory, [store.size])  # and then one without it again
            status = replica.sync_once()
            (conflict,) = status.conflicts
            assert conflict.reason == "registry_commitment"
            assert status.tree_size == adopted
    finally:
        served.stop()


def test_the_replica_refuses_a_hidden_revocation_then_takes_the_honest_checkpoint(
    tmp_path: Path, revoked: tuple[LogFactory, int]
) -> None:
    factory, index = revoked
    store = factory.store
    honest = store.checkpoint(store.size)
    served = serve(factory)
    try:
        forged = sign_checkpoint_hiding(store, read_log_signer(factory.data_dir), index)
        with Replica(tmp_path / "site", [served.url], trust=factory.trust) as replica:
            status = replica.sync_once()
            (conflict,) = status.conflicts
            assert conflict.reason == "registry_commitment"
            assert conflict.theirs == forged
            assert "registry line is not the log's registrations" in conflict.message
            assert status.tree_size < store.size  # it kept the checkpoint before
            assert replica.store.size == store.size  # the verified blocks stay
            store.put_checkpoint(store.size, honest)
            assert replica.sync_once().tree_size == store.size
    finally:
        served.stop()


def test_audit_url_and_data_dir_fail_on_a_hidden_revocation(
    revoked: tuple[LogFactory, int], run_cli: Cli
) -> None:
    factory, index = revoked
    sign_checkpoint_hiding(factory.store, read_log_signer(factory.data_dir), index)
    served = serve(factory)
    try:
        trust = factory.data_dir.trust
        code, out, err = run_cli("audit", "--url", served.url, "--trust", trust, "--no-progress")
    finally:
        served.stop()
    assert code != 0, out + err
    assert "registry_commitment" in out
    factory.store.close()
    code, out, err = run_cli("audit", "--data-dir", factory.data_dir.root, "--no-progress")
    factory.store = Store.open(factory.data_dir.log)
    assert code != 0 and "registry_commitment" in out, out + err


def _hiding(base: Transport, revoked_index: int) -> Transport:
    """A site that serves d1's registrations without its revocation."""

    def transport(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = base(method, url, timeout)
        if "/api/v1/signers/d1" in url and status == 200:
            answer = json.loads(body)
            answer["grants"] = [g for g in answer["grants"] if g["index"] != revoked_index]
            body = json.dumps(answer).encode()
        return status, headers, body

    return transport


def test_the_read_api_proves_a_signers_history_and_a_hidden_revocation_fails(
    revoked: tuple[LogFactory, int],
) -> None:
    factory, index = revoked
    store = factory.store
    served: HttpLog = serve(factory)
    try:
        client = ReadApiClient(served.url, transport=urllib_transport)
        lying = ReadApiClient(served.url, transport=_hiding(urllib_transport, index))
        for size in (store.size - 1, store.size):  # before and after the revocation
            checkpoint = Checkpoint.from_text(note.parse(store.checkpoint(size)).text)
            body = client.signer("d1", size)
            limit = body["registry_proof"]["entry_count"]
            assert all(g["index"] < limit for g in body["grants"])
            assert (index in [g["index"] for g in body["grants"]]) is (size == store.size)
            assert registry_history_problem("d1", body, checkpoint) is None
        problem = registry_history_problem("d1", lying.signer("d1", store.size), checkpoint)
        assert problem is not None and "registration history not proven complete" in problem
        readings = _block_hash(store, 2)  # d1's readings, before its revocation
        assert verify_batch(client, factory.trust, readings).ok
        registrations = verify_batch(lying, factory.trust, readings).check("registrations")
        assert registrations.status == "failed"
        assert "registration history not proven complete" in "".join(registrations.problems)
    finally:
        served.stop()


def _block_hash(store: Store, height: int) -> str:
    return hashlib.sha256(store.block_raw(height)).hexdigest()
