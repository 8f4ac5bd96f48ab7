"""consumer_web's replica under a k-of-n witness policy, against a real read API over HTTP.

The source's checkpoints are cosigned by test witness keys in the test
itself (chain.checkpoint.cosign); no witness server is needed. The site is
built by create_app from a site directory holding trust.json and
witnesses.json, as ``farmtrace site run`` builds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from farm_logs import LogFactory
from flask import Flask
from followed_logs import HttpLog, fork, grow, serve

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web import SiteConfig, create_app
from consumer_web._replica import Replica
from readapi.client import Transport, urllib_transport

NAMES = ("w1.example/witness", "w2.example/witness", "w3.example/witness")
KEYS = {name: generate_cosigner_key(name, seed=bytes([n + 7]) * 32) for n, name in enumerate(NAMES)}
POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in KEYS.values()))
T = 1_800_000_000


def add_cosignatures(factory: LogFactory, *names: str, t: int = T) -> str:
    """Add cosignatures by ``names`` to ``factory``'s latest checkpoint; return the new note."""
    size, signed = factory.store.latest_checkpoint() or (0, "")
    text = note.parse(signed).text
    cosigned = signed + "".join(cosign(text, KEYS[name][0], t) for name in names)
    factory.store.put_checkpoint(size, cosigned)
    return cosigned


def metric(replica: Replica, name: str, **labels: str) -> float | None:
    return replica.metrics_registry.get_sample_value(name, labels)


@pytest.fixture
def site(tmp_path: Path, source: LogFactory, http: HttpLog) -> Iterator[Flask]:
    """The site, from a directory with trust.json and a 2-of-3 witnesses.json, not syncing."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "trust.json").write_text(source.trust.to_json())
    (site_dir / "witnesses.json").write_text(POLICY.to_json())
    config = SiteConfig(
        site_dir=site_dir, sources=(http.url,), sync_in_background=False, warm_cache=False
    )
    app = create_app(config)
    yield app
    app.extensions["farmtrace_site"].close()


def _waiting_notice(app: Flask) -> str | None:
    html = unescape(app.test_client().get("/").get_data(as_text=True))
    start = html.find('id="waiting"')
    return None if start < 0 else " ".join(html[start : html.index("</p>", start)].split())


def test_a_checkpoint_is_taken_with_k_cosignatures_and_waits_with_fewer(
    site: Flask, source: LogFactory, http: HttpLog
) -> None:
    replica = site.extensions["farmtrace_site"].data
    assert isinstance(replica, Replica) and replica.witness_policy == POLICY
    n = source.store.size

    # The first checkpoint, cosigned by one witness of the two required: nothing is taken.
    add_cosignatures(source, NAMES[0])
    status = replica.sync_once()
    assert (status.tree_size, replica.store.size, status.as_of_ms) == (0, 0, None)
    wait = status.waiting_for_witnesses
    assert wait is not None
    assert (wait.source, wait.size, wait.required, wait.cosigners) == (http.url, n, 2, NAMES[:1])
    (src,) = status.sources
    assert (src.last_result, src.tree_size, src.last_error, src.ok) == (
        "witness_quorum",
        n,
        None,
        True,
    )
    assert not status.conflicts
    assert metric(replica, "replica_sync_total", source=http.url, result="witness_quorum") == 1
    assert metric(replica, "replica_waiting_for_witnesses") == 1
    assert metric(replica, "replica_blocks_fetched_total") == 0
    assert "(1 of 2 so far): there is nothing to show yet" in (_waiting_notice(site) or "")
    assert site.test_client().get("/checkpoint").status_code == 404

    # The second witness cosigns: taken, with the note exactly as served.
    cosigned = add_cosignatures(source, NAMES[1], t=T + 5)
    status = replica.sync_once()
    assert (status.tree_size, status.checkpoint_note) == (n, cosigned)
    assert status.waiting_for_witnesses is None and status.as_of_ms is not None
    assert metric(replica, "replica_waiting_for_witnesses") == 0
    assert _waiting_notice(site) is None
    html = site.test_client().get(f"/batch/{source.store.block(2).hash}").get_data(as_text=True)
    assert 'data-cosigned="2"' in html and f"{NAMES[2]}</strong>" in html

    # The log grows; one witness (the third) cosigns: the old state is kept, nothing fetched.
    as_of = status.as_of_ms
    grow(source, 2)
    add_cosignatures(source, NAMES[2], t=T + 60)
    status = replica.sync_once()
    assert (status.tree_size, status.checkpoint_note, replica.store.size) == (n, cosigned, n)
    assert status.as_of_ms == as_of  # not confirmed: our head is no longer the newest
    wait = status.waiting_for_witnesses
    assert wait is not None and (wait.size, wait.cosigners) == (n + 2, NAMES[2:])
    assert metric(replica, "replica_sync_total", source=http.url, result="witness_quorum") == 2
    assert metric(replica, "replica_blocks_fetched_total") == n
    notice = _waiting_notice(site)
    assert notice is not None and "(1 of 2 so far): this page shows the data as of" in notice
    again = replica.sync_once()  # still waiting: the same wait, first seen then
    assert again.waiting_for_witnesses == wait

    # A cosignature is added to the served checkpoint: the next round takes it.
    add_cosignatures(source, NAMES[0], t=T + 61)
    status = replica.sync_once()
    assert (status.tree_size, replica.store.size) == (n + 2, n + 2)
    assert status.waiting_for_witnesses is None
    assert metric(replica, "replica_sync_total", source=http.url, result="ok") == 2
    assert metric(replica, "replica_blocks_fetched_total") == n + 2
    assert _waiting_notice(site) is None


def test_a_fork_without_cosignatures_is_still_recorded_as_a_fork(
    tmp_path: Path, site: Flask, source: LogFactory, http: HttpLog
) -> None:
    twin = fork(source, tmp_path / "twin")
    twin_http = serve(twin)
    try:
        grow(source, 1)
        add_cosignatures(source, NAMES[0], NAMES[1])
        grow(twin, 3, dev="d9")  # same log key, another history, no witness saw it
        replica = Replica(
            tmp_path / "other-site",
            [http.url, twin_http.url],
            trust=source.trust,
            witness_policy=POLICY,
        )
        with replica:
            status = replica.sync_once()
            assert [s.last_result for s in status.sources] == ["ok", "conflict"]
            (conflict,) = status.conflicts
            assert (conflict.source, conflict.reason) == (twin_http.url, "fork")
            assert conflict.theirs == (twin.store.latest_checkpoint() or (0, ""))[1]
            assert status.tree_size == source.store.size and status.waiting_for_witnesses is None
            assert metric(replica, "replica_conflicts_total", source=twin_http.url) == 1
        state = json.loads((tmp_path / "other-site" / "replica-state.json").read_text())
        assert [c["reason"] for c in state["conflicts"]] == ["fork"]
    finally:
        twin_http.stop()
        twin.close()


def _rewriting(change: str) -> Transport:
    """A transport that rewrites the body of /checkpoint with ``change``."""

    def transport(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = urllib_transport(method, url, timeout)
        if url.endswith("/checkpoint"):
            lines = body.decode().splitlines(keepends=True)
            if change == "strip":  # only the log's own signature line
                body = "".join(lines[: lines.index("\n") + 2]).encode()
            else:  # flip one character of the last cosignature's base64
                last = lines[-1]
                lines[-1] = last[:-6] + ("A" if last[-6] != "A" else "B") + last[-5:]
                body = "".join(lines).encode()
        return status, headers, body

    return transport


def test_a_bad_cosignature_is_invalid_and_a_bare_copy_of_our_head_is_fine(
    tmp_path: Path, source: LogFactory, http: HttpLog
) -> None:
    cosigned = add_cosignatures(source, NAMES[0], NAMES[1])
    forged = Replica(
        tmp_path / "a",
        [http.url],
        trust=source.trust,
        witness_policy=POLICY,
        transport=_rewriting("flip"),
    )
    with forged:
        (src,) = forged.sync_once().sources
        assert src.last_result == "invalid" and "signature" in (src.last_error or "")
        assert forged.store.size == 0 and forged.status().tree_size == 0
    site = tmp_path / "b"
    with Replica(site, [http.url], trust=source.trust, witness_policy=POLICY) as replica:
        assert replica.sync_once().tree_size == source.store.size
    bare = Replica(
        site,
        [http.url],
        trust=source.trust,
        witness_policy=POLICY,
        transport=_rewriting("strip"),
    )
    with bare:
        status = bare.sync_once()  # the same checkpoint without cosignatures confirms our head
        assert status.sources[0].last_result == "ok" and status.waiting_for_witnesses is None
        assert status.checkpoint_note == cosigned  # a copy with fewer lines never replaces it
