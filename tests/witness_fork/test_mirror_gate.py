"""A gateway whose receipts and witness submissions wait for the site: a lost disk loses nothing.

Real processes throughout: Mosquitto, ``farmtrace gateway run --mirror <site>``,
two ``farmtrace witness serve`` (quorum 2), ``farmtrace site run
--stage-uncosigned`` and two devices with durable outboxes recording all
along (the cast of test_recovery.py, with the mirror option).

The disk is lost at the worst moment for the old contract: the site is
frozen (SIGSTOP) so that it cannot copy anything, the gateway commits blocks
it alone holds, and then it is killed with SIGKILL and its data directory
deleted. Without the option the devices had deleted those blocks' entries
(their receipts went out at commit) and the witnesses had cosigned them
(recovery would refuse); with it, the test checks that neither happened,
then recovers from the site and finds every reading committed exactly once.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import (
    metric,
    now_ms,
)
from mqtt_broker import Broker
from test_recovery import Cast, Recorder, staged_cast
from test_witnessed_farm import get, wait_for

from chain.entries import parse_entry
from gateway.witness_heads import fetch_witness_head
from signer.device import Device


def mirror_metric(metrics: str, name: str, reason: str | None = None) -> float:
    """A ``farmtrace_mirror_*`` value, summed over mirrors (and for ``reason``, if given)."""
    labels = r"{[^}]*}" if reason is None else rf'{{[^}}]*reason="{reason}"[^}}]*}}'
    pattern = re.compile(rf"^{name}(?:{labels})? (\S+)$", re.M)
    return sum(float(value) for value in pattern.findall(metrics))


@pytest.fixture
def cast(tmp_path: Path, broker: Broker) -> Iterator[Cast]:
    with staged_cast(
        tmp_path,
        broker,
        "mirror-admin",  # its registration's receipt waits for the site: proves the path
        site_extra=("--stage-uncosigned",),
        gateway_extra=lambda site: ["--mirror", site.url, "--mirror-poll", "0.2"],
    ) as staged:
        yield staged


def _seqs_in_blocks(cast: Cast, first: int) -> dict[int, dict[str, set[int]]]:
    """Per block from ``first`` on (as the live gateway serves them), each device's seqs."""
    found: dict[int, dict[str, set[int]]] = {}
    height = first
    while cast.gateway_has_block(height):
        body = json.loads(get(f"{cast.gateway.http_url}/api/v1/blocks/{height}"))
        seqs: dict[str, set[int]] = {}
        for raw in body["entries"]:
            entry = parse_entry(raw.encode())
            seqs.setdefault(entry.kid, set()).add(entry.seq)
        found[height] = seqs
        height += 1
    return found


def _held(device: Device) -> set[int]:
    return {e.seq for e in device.outbox.pending(0, 1_000_000)}


def test_a_lost_disk_loses_nothing_when_receipts_and_witnesses_wait_for_the_site(
    cast: Cast,
) -> None:
    recorder = Recorder(cast.devices, cast.fleet)
    recorder.start()
    assert cast.site.proc is not None
    try:
        wait_for(lambda: cast.site_size() >= 3, 30, "the site mirrors the first blocks")
        sizes: list[int] = []

        def caught_up() -> bool:  # the site's head is the gateway's, and no block is beyond
            sizes.append(cast.site_size())
            return not cast.gateway_has_block(sizes[-1])

        wait_for(caught_up, 30, "the site catches up with the gateway", lambda: sizes[-3:])
        cast.site.proc.send_signal(signal.SIGSTOP)  # the mirror can copy nothing more
        caught = sizes[-1]
        wait_for(lambda: cast.gateway_has_block(caught + 1), 20, "two blocks only on the gateway")
        blocks = _seqs_in_blocks(cast, caught)
        metrics = cast.gateway.scrape()
        assert mirror_metric(metrics, "farmtrace_mirror_receipts_held") > 0
        cast.gateway.kill()  # the receipts the devices hold now are all they will get
        cast.site.proc.send_signal(signal.SIGCONT)
        mirrored = cast.site_size()  # its head cannot move any more: its source is dead
        assert mirrored >= caught
        only_on_the_lost_disk = {h: s for h, s in blocks.items() if h >= mirrored}
        assert any(s for s in only_on_the_lost_disk.values()), blocks
        for seqs in only_on_the_lost_disk.values():
            for device in cast.devices:  # no receipt covered them: the device still holds them
                assert seqs.get(device.id, set()) <= _held(device), device.id
        for witness in cast.policy.witnesses:  # nor were the witnesses shown them
            head = fetch_witness_head(witness, cast.trust.origin, cast.trust.log_key)
            assert head.outcome == "known" and head.size <= mirrored, head

        shutil.rmtree(cast.data_dir.root)
        done = cast.recover_from_site()
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{mirrored} blocks" in done.stdout
        cast.gateway.start()
    finally:
        recorder.stop()

    issued = {d.id: d.identity.last_seq for d in cast.devices}
    metrics = cast.await_the_recovered_log(mirrored, issued)
    assert mirror_metric(metrics, "farmtrace_mirror_errors_total", "fork") == 0


def test_a_mirror_that_is_down_holds_receipts_back_until_it_is_back(cast: Cast) -> None:
    wait_for(lambda: cast.site_size() >= 2, 30, "the site mirrors the first blocks")
    log = cast.gateway.log
    assert log is not None
    cast.site.stop()
    logged = len(log.read_text())  # (the site started after the gateway: it was down then too)
    entries = metric(cast.gateway.scrape(), "farmtrace_log_entries")
    for device in cast.devices:
        for _ in range(5):
            device.record("temperature", "barn:b1", 21.0, "Cel", now_ms())
    cast.fleet.wake()
    wait_for(
        lambda: metric(cast.gateway.scrape(), "farmtrace_log_entries") >= entries + 10,
        20,
        "the readings are committed",
    )
    errors = mirror_metric(cast.gateway.scrape(), "farmtrace_mirror_errors_total", "unreachable")
    wait_for(
        lambda: (
            mirror_metric(cast.gateway.scrape(), "farmtrace_mirror_errors_total", "unreachable")
            >= errors + 2
        ),
        10,
        "the gateway asks the mirror again, and counts it down",
    )
    metrics = cast.gateway.scrape()
    assert mirror_metric(metrics, "farmtrace_mirror_receipts_held") >= 10
    assert all(d.outbox.count >= 5 for d in cast.devices)  # no receipt: the devices keep them
    published = cast.cosigned(cast.gateway.http_url)[0]
    assert published < metric(metrics, "farmtrace_block_height")  # nor were witnesses shown them
    assert cast.gateway.proc is not None and cast.gateway.proc.poll() is None  # no crash
    lines = re.findall(r"^.*mirror \S+: unreachable: .*$", log.read_text()[logged:], re.M)
    assert len(lines) == 1, "one clear line until the mirror is back"

    cast.site.start()  # back, on the same port
    wait_for(
        lambda: all(d.outbox.count == 0 for d in cast.devices),
        30,
        "the held receipts go out once the site has the blocks, cosigned",
        lambda: {d.id: d.outbox.count for d in cast.devices},
    )
    wait_for(
        lambda: mirror_metric(cast.gateway.scrape(), "farmtrace_mirror_receipts_held") == 0,
        10,
        "nothing is held any more",
    )
    assert cast.cosigned(cast.gateway.http_url)[0] > published
    assert "is back" in log.read_text()[logged:]
