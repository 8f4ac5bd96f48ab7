"""``farmtrace audit --url``: a running log audited over HTTP, under a witness policy.

The log is served by the read API over real HTTP; the witnesses are
monitoring endpoints (:class:`FakeWitness`) remembering what each test says
they cosigned, so that honest and dishonest histories can both be staged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import plyvel
import pytest
from farm_logs import LogFactory
from followed_logs import HttpLog, fork, grow, serve
from live_audit_witnesses import FakeWitness, cosigned, dead_url, write_policy

from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from readapi.client import ReadApiClient, urllib_transport
from verify.live_audit import live_audit

Cli = Callable[..., tuple[int, str, str]]
AT = "2026-01-01T00:00:00Z"


@pytest.fixture
def witnesses() -> Iterator[tuple[FakeWitness, FakeWitness, FakeWitness]]:
    w1, w2, w3 = (FakeWitness(f"w{i}.test/witness").start() for i in (1, 2, 3))
    yield w1, w2, w3
    for witness in (w1, w2, w3):
        witness.stop()


@pytest.fixture
def serving() -> Iterator[Callable[[LogFactory], HttpLog]]:
    """Serve more logs over HTTP (stopped at teardown)."""
    servers: list[HttpLog] = []

    def start(factory: LogFactory) -> HttpLog:
        servers.append(serve(factory))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _cosign_served(factory: LogFactory, by: list[FakeWitness]) -> tuple[int, str]:
    """Make the log's latest checkpoint cosigned by ``by``; return (size, the log-signed note)."""
    size, signed = factory.store.latest_checkpoint() or (0, "")
    factory.store.put_checkpoint(size, cosigned(signed, by))
    return size, signed


def _audit(run_cli: Cli, url: str, factory: LogFactory, *extra: object) -> tuple[int, str, str]:
    return run_cli(
        "audit", "--url", url, "--trust", factory.data_dir.trust, "--no-progress", *extra
    )


def _policy(tmp_path: Path, quorum: int, *witnesses: tuple[FakeWitness, str | None]) -> Path:
    return write_policy(tmp_path / "witnesses.json", quorum, [(w.vkey, u) for w, u in witnesses])


def test_a_clean_log_passes_a_2_of_3_policy(
    source: LogFactory,
    http: HttpLog,
    witnesses: tuple[FakeWitness, ...],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    w1, w2, w3 = witnesses
    size, signed = _cosign_served(source, [w1, w2])
    w1.remember(signed)
    w2.remember(source.store.checkpoint(size - 1))  # a witness lagging one checkpoint behind
    policy = _policy(tmp_path, 2, (w1, w1.url), (w2, w2.url), (w3, dead_url()))

    code, out, err = _audit(run_cli, http.url, source, "--witnesses", policy)

    assert code == 0, out + err
    assert f"cosigned by: w1.test/witness at {AT}, w2.test/witness at {AT}" in out
    assert f"w1.test/witness: consistent: cosigned size {size} at {AT}" in out
    assert f"w2.test/witness: consistent: cosigned size {size - 1} at {AT}" in out
    assert "w3.test/witness: unchecked:" in out and "unreachable" in out
    assert "witness policy  2 of 3 witnesses" in out
    assert out.rstrip().endswith(
        "RESULT: OK: every entry, block, link, index and checkpoint verified"
    )

    code, out, err = _audit(run_cli, http.url, source, "--witnesses", policy, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], out + err
    assert report["entries"] == source.store.entry_count and report["blocks"] == size
    live = report["live"]
    assert live["served_checkpoint"]["size"] == size
    assert sorted(live["cosigners"]) == ["w1.test/witness", "w2.test/witness"]
    outcomes = {w["name"]: (w["outcome"], w["size"]) for w in live["witnesses"]}
    assert outcomes == {
        "w1.test/witness": ("consistent", size),
        "w2.test/witness": ("consistent", size - 1),
        "w3.test/witness": ("unchecked", None),
    }


def test_a_checkpoint_without_the_quorum_fails(
    source: LogFactory,
    http: HttpLog,
    witnesses: tuple[FakeWitness, ...],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    w1, w2, w3 = witnesses
    _size, signed = _cosign_served(source, [w1])
    w1.remember(signed)
    w2.remember(signed)
    policy = _policy(tmp_path, 2, (w1, w1.url), (w2, w2.url), (w3, None))
    state = tmp_path / "audit.state"

    code, out, err = _audit(run_cli, http.url, source, "--witnesses", policy, "--state", state)

    assert code == 1, out + err
    assert (
        "witness_quorum: the served checkpoint: expected cosignatures from 2 of 3 witnesses, "
        "found 1 (w1.test/witness)"
    ) in out
    assert "w3.test/witness: no_url" in out
    assert "was not saved: its witnesses do not vouch for it" in out
    assert not state.exists()
    assert "RESULT: FAILED: 1 problems" in out


def test_fewer_witnesses_checked_than_the_quorum_fails(
    source: LogFactory,
    http: HttpLog,
    witnesses: tuple[FakeWitness, FakeWitness, FakeWitness],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    w1, w2, w3 = witnesses
    _size, signed = _cosign_served(source, [w1, w2])
    w1.remember(signed)  # w2 remembers nothing (404)
    w3.latest[source.trust.origin] = signed  # without its own cosignature
    policy = _policy(tmp_path, 2, (w1, w1.url), (w2, w2.url), (w3, w3.url))

    code, out, err = _audit(run_cli, http.url, source, "--witnesses", policy)

    assert code == 1, out + err
    assert "w1.test/witness: consistent" in out
    assert "w2.test/witness: unchecked: it knows no checkpoint of this log (404)" in out
    assert "w3.test/witness: unchecked:" in out and "carries no cosignature by this" in out
    assert (
        "witness_crosscheck: only 1 of the 3 witnesses with a url could be cross-checked, "
        "fewer than the quorum of 2: a rollback or fork of the log cannot be ruled out"
    ) in out
    # w2: the spec's monitoring path, then (404) farmtrace's older one.
    assert (w1.requests, w2.requests, w3.requests) == (1, 2, 1)


def test_without_a_policy_the_report_says_a_rewrite_could_pass(
    source: LogFactory, http: HttpLog, run_cli: Cli
) -> None:
    code, out, err = _audit(run_cli, http.url, source)
    assert code == 0, out + err
    assert "witness policy  none given" in out
    assert "warning: no_witness_policy:" in out and "rewrote and re-signed could pass" in out


def test_a_witness_that_cosigned_more_than_a_restored_backup_holds_fails(
    source: LogFactory,
    witnesses: tuple[FakeWitness, ...],
    serving: Callable[[LogFactory], HttpLog],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    w1, w2, _w3 = witnesses
    backup = fork(source, tmp_path / "backup")
    old_size, _old_note = _cosign_served(backup, [w1, w2])  # they vouched for it back then
    grow(source, 2)
    new_size, new_note = source.store.latest_checkpoint() or (0, "")
    w1.remember(new_note)
    w2.remember(new_note)
    policy = _policy(tmp_path, 2, (w1, w1.url), (w2, w2.url))

    code, out, err = _audit(run_cli, serving(backup).url, backup, "--witnesses", policy)
    backup.close()

    assert code == 1, out + err
    for name in ("w1", "w2"):
        assert (
            f"rollback: witness {name}.test/witness cosigned size {new_size} at {AT}; "
            f"the log now serves only {old_size}"
        ) in out
    assert "the log was rolled back or forked" in out
    assert f"serves no block {old_size}" in out


def test_a_witness_whose_root_differs_exposes_a_forked_history(
    source: LogFactory,
    witnesses: tuple[FakeWitness, ...],
    serving: Callable[[LogFactory], HttpLog],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    w1, w2, w3 = witnesses
    twin = fork(source, tmp_path / "rewritten")
    grow(source, 2)
    seen_size, seen_note = source.store.latest_checkpoint() or (0, "")
    w1.remember(seen_note)  # w1 saw the honest history
    grow(twin, 3, dev="d2")  # the operator rewrote it from the fork point and re-signed
    _size, forked_note = _cosign_served(twin, [w3])
    w3.remember(forked_note)  # w3 was only ever shown the rewritten one
    policy = _policy(tmp_path, 1, (w1, w1.url), (w2, dead_url()), (w3, w3.url))

    code, out, err = _audit(run_cli, serving(twin).url, twin, "--witnesses", policy)

    assert code == 1, out + err
    honest, rewritten = source.store.root(seen_size).hex(), twin.store.root(seen_size).hex()
    assert honest != rewritten
    assert f"w1.test/witness: FORK: witness w1.test/witness cosigned size {seen_size}" in out
    assert f"at size {seen_size} the log's history has root {rewritten}, not {honest}" in out
    assert "w3.test/witness: consistent" in out
    assert "RESULT: FAILED: 1 problems" in out
    twin.close()


def test_a_witness_ahead_of_the_served_checkpoint_is_fine_if_the_log_holds_that_history(
    source: LogFactory, http: HttpLog, witnesses: tuple[FakeWitness, ...]
) -> None:
    """The log grows (and a witness cosigns the growth) while the audit copies it."""
    w1 = witnesses[0]
    served_size, signed = _cosign_served(source, [w1])
    w1.remember(signed)

    def growing(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        answer = urllib_transport(method, url, timeout)
        if url.endswith("/checkpoint") and source.store.size == served_size:
            grow(source, 2)
            w1.remember((source.store.latest_checkpoint() or (0, ""))[1])
        return answer

    client = ReadApiClient(http.url, transport=growing)
    trust = TrustRoot.from_json(source.data_dir.trust.read_text())
    report = live_audit(client, trust, policy=WitnessPolicy(1, (Witness(w1.vkey, w1.url),)))

    assert report.ok, report.to_text()
    assert (report.served_size, report.audit.blocks) == (served_size, served_size)
    [check] = report.witnesses
    assert (check.outcome, check.size) == ("consistent", served_size + 2)
    assert "beyond the served checkpoint" in check.message
    assert "the log's newer blocks have that root" in check.message


def test_an_edited_past_block_fails_and_names_the_block(
    source: LogFactory, http: HttpLog, run_cli: Cli
) -> None:
    index = 3
    height = source.store.block_of_entry(index)
    path = source.data_dir.log
    source.store.close()
    db = plyvel.DB(str(path))
    key = b"e:" + index.to_bytes(8, "big")
    entry = bytearray(db.get(key))
    entry[40] = ord("A") if entry[40] != ord("A") else ord("B")
    db.put(key, bytes(entry), sync=True)
    db.close()
    source.store = Store.open(path)

    code, out, err = _audit(run_cli, http.url, source)

    assert code == 1, out + err
    assert f"block {height}: bad_proof:" in out
    assert "the blocks after it were not checked" in out


def test_state_remembers_the_checkpoint_and_catches_a_rollback_and_a_fork(
    source: LogFactory,
    http: HttpLog,
    serving: Callable[[LogFactory], HttpLog],
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    state = tmp_path / "audit.state"
    backup = fork(source, tmp_path / "backup")
    first_size, first_note = source.store.latest_checkpoint() or (0, "")

    code, out, err = _audit(run_cli, http.url, source, "--state", state)
    assert code == 0, out + err
    assert f"first_run: no checkpoint saved yet; saved size {first_size}" in out
    assert state.read_text() == first_note

    grow(source, 2)
    size, signed = source.store.latest_checkpoint() or (0, "")
    code, out, err = _audit(run_cli, http.url, source, "--state", state)
    assert code == 0, out + err
    assert f"consistent: size {first_size} (root" in out and f"saved size {size}" in out
    assert state.read_text() == signed

    restored = serving(backup)
    code, out, err = _audit(run_cli, restored.url, backup, "--state", state)
    assert code == 1, out + err
    assert f"the log now serves size {first_size}, smaller than the size {size}" in out
    assert "the log was rolled back" in out
    assert state.read_text() == signed  # a failed check never moves the state

    grow(backup, 3, dev="d2")  # the restored log grows again: another history at `size`
    code, out, err = _audit(run_cli, restored.url, backup, "--state", state)
    assert code == 1, out + err
    assert f"state: size {size} (root {source.store.root(size).hex()})" in out
    assert f"at size {size} the log's history has root {backup.store.root(size).hex()}" in out
    assert state.read_text() == signed
    backup.close()


def test_a_state_that_cannot_be_saved_fails_the_audit(
    source: LogFactory, http: HttpLog, run_cli: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "missing-dir" / "audit.state"
    code, out, err = _audit(run_cli, http.url, source, "--state", state)
    assert code == 1, out + err
    assert f"storage: state: cannot write the state file {state}" in out


def test_a_log_signed_by_another_key_than_the_pinned_one_fails(
    source: LogFactory, http: HttpLog, run_cli: Cli, tmp_path: Path
) -> None:
    impostor = LogFactory(tmp_path / "impostor")  # same origin, its own key
    impostor.close()
    code, out, err = _audit(run_cli, http.url, impostor)
    assert code == 1, out + err
    assert "unknown_signer: the log's checkpoint: checkpoint: expected a signature by" in out
    assert "nothing it serves can be trusted" in out


def test_an_unreachable_log_gives_no_verdict(source: LogFactory, run_cli: Cli) -> None:
    code, out, err = _audit(run_cli, dead_url(), source)
    assert (code, out) == (2, "")
    assert "no verdict, the log could not be read" in err and "unreachable" in err


def test_bad_usage_and_unreadable_inputs_exit_2(
    source: LogFactory, http: HttpLog, run_cli: Cli, tmp_path: Path
) -> None:
    code, _out, err = run_cli("audit", "--url", http.url)
    assert code == 2 and "--url needs --trust" in err
    code, _out, err = run_cli("audit", "--data-dir", source.data_dir.root, "--state", "x")
    assert code == 2 and "--state needs --url" in err
    code, _out, err = run_cli("audit", "--url", http.url, "--data-dir", source.data_dir.root)
    assert code == 2 and "not allowed with argument" in err
    bad_policy = tmp_path / "bad.json"
    bad_policy.write_text('{"quorum": 2, "witnesses": []}')
    code, _out, err = _audit(run_cli, http.url, source, "--witnesses", bad_policy)
    assert code == 2 and "cannot read the witness policy" in err and "quorum" in err
    other = LogFactory(tmp_path / "other")
    foreign = tmp_path / "foreign.state"
    foreign.write_text((other.store.latest_checkpoint() or (0, ""))[1])
    other.close()
    code, _out, err = _audit(run_cli, http.url, source, "--state", foreign)
    assert code == 2 and "is not a checkpoint of this log" in err
