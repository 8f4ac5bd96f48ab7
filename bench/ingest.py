"""Gateway ingest: committed readings/s against the raw MQTT transport, latency and memory.

Everything runs on this machine, in one run:

1. Raw transport: publisher processes (one paho MQTT 5 connection per
   device, QoS 1, pre-signed readings, as fast as the PUBACK window allows)
   publish to a fresh Mosquitto with the production config; one plain
   subscriber process (the gateway's MQTT settings and read pattern) counts
   and discards. Rate = messages / (first publish → last message received).
2. Sustained ingest: the same publishers and payloads (2M readings in the
   full run), but the subscriber is ``farmtrace gateway run`` (default
   blocks: 10,000 entries or 1 s) on a fresh data dir whose log already
   registers the devices. Each device stays at most ``outstanding`` readings
   ahead of its last receipt (an outbox window: 200 x 100 = 20,000 in
   flight, two blocks' worth), because with an unbounded backlog Mosquitto
   2.0.11 overruns the gateway's Receive Maximum and the gateway stalls
   (bench/RESULTS.md). Rate = readings / (first publish → last reading
   committed, from ``/metrics``). The RSS and CPU of the gateway process and
   its signature workers (``/proc``, summed) are sampled throughout.
3. Latency: the same gateway, publishers paced at 0.75 x the sustained
   rate (at most the goal rate) for 30 s; each device watches its receipt
   topic: latency = publish → receipt covering the reading's seq. The
   gateway's own receive → checkpoint histogram is shown next to it.

The gateway is then stopped and its store must hold every published reading.
Ratios use the raw limits of the same run: the raw transport rate, and one
core's raw Ed25519 verify rate (for context).

Goals (issue, 2-core machine): >= 10,000 committed readings/s and >= 0.6 x
raw transport; p99 latency <= 2 s; flat memory under 200 MB over 2M
readings.

Run alone: ``.venv/bin/python bench/ingest.py [--quick]``.
"""

from __future__ import annotations

import time

import nacl.bindings
from _common import Figure, main_for
from _ingest_phases import (
    GatewayRun,
    Plan,
    Transport,
    gateway_phases,
    latency_quantiles,
    raw_transport,
    slope_mb_per_m,
)
from _ingest_readings import Fleet, load_fleet

from chain.entries import parse_entry

_GOAL_RATE = 10_000
_GOAL_RATIO = 0.6
_GOAL_P99_S = 2.0
_GOAL_RSS_MB = 200.0
_FLAT_MB_PER_M = 5.0  # "flat": after warm-up, grows by less than this per million readings
_FULL = Plan(
    devices=200,
    processes=4,
    sustained=10_000,  # 2M readings: the memory goal is judged over 2M
    paced=1_500,
    paced_s=30,
    paced_rate=10_000,
    outstanding=100,
)
_QUICK = Plan(
    devices=20,
    processes=2,
    sustained=1_000,
    paced=500,
    paced_s=5,
    paced_rate=10_000,
    outstanding=1_000,  # 20 devices: the same 20,000 in flight as the full run
)


def _verify_rate(fleet: Fleet, seconds: float) -> float:
    """Raw Ed25519 verifies/s on one core over the fleet's own readings."""
    keys = {str(e.payload["dev"]): e.public_key for e in map(parse_entry, fleet.registrations)}
    signed = []
    for readings in fleet.readings:
        for raw in readings[:20]:
            entry = parse_entry(raw)
            signed.append((entry.signature + entry.signing_input, keys[entry.kid] or b""))
    open_, done, started = nacl.bindings.crypto_sign_open, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for message, key in signed:
            open_(message, key)
        done += len(signed)
    return done / elapsed


def _print_transport(name: str, t: Transport, total: int) -> None:
    per = 1e6 / total
    print(
        f"  {name}: {total:,} in {t.elapsed_s:.1f} s = {t.rate:,.0f}/s "
        f"(10-90%: {t.mid_rate:,.0f}/s); publishers done after {t.publishers_done_s:.1f} s\n"
        f"    CPU per message: consumer {t.consumer_cpu_s * per:.0f} us, broker "
        f"{t.broker_cpu_s * per:.0f} us, publishers {t.publishers_cpu_s * per:.0f} us"
    )


def _print_gateway(g: GatewayRun, total: int) -> None:
    _print_transport("gateway, committed", g.ingest, total)
    t = g.ingest
    while_publishing = g.committed_when_publishers_done / max(t.publishers_done_s, 1e-9)
    after = (total - g.committed_when_publishers_done) / max(
        t.elapsed_s - t.publishers_done_s, 1e-9
    )
    print(
        f"    committed while publishers ran: {while_publishing:,.0f}/s; "
        f"after (draining the broker's queue): {after:,.0f}/s"
    )
    rss = [r for _, r in g.rss_mb]
    print(
        f"    gateway + workers RSS: start {rss[0]:.0f} MB, max {max(rss):.0f} MB, "
        f"end {rss[-1]:.0f} MB (gateway process alone: max {g.main_rss_max_mb:.0f} MB); "
        f"broker RSS max {g.broker_rss_max_mb:.0f} MB"
    )
    pss, anon, mapped = (max(sample[i] for sample in g.pss_mb) for i in (1, 2, 3))
    print(
        f"    gateway + workers PSS (shared pages counted once): max {pss:.0f} MB "
        f"= anonymous max {anon:.0f} + mapped files max {mapped:.0f} "
        f"(anonymous slope {_slope(g.pss_mb, 2):+.1f}, mapped {_slope(g.pss_mb, 3):+.1f} MB/1M)"
    )
    p50, p99, top = latency_quantiles(g.latencies)
    print(
        f"  paced at {g.paced_rate:,.0f}/s: {g.paced_sent:,} readings, publish -> receipt "
        f"p50 {p50:.3f} s, p99 {p99:.3f} s, max {top:.3f} s ({g.unconfirmed} never receipted); "
        f"gateway receive -> checkpoint p50 {g.gateway_p50}, p99 {g.gateway_p99}"
    )
    print(f"  store after stop: {g.stored:,} entries (expected {g.expected:,}); "
          f"exit code {g.exit_code}; counters {g.counters}")  # fmt: skip
    if g.stored != g.expected or g.exit_code != 0:
        raise RuntimeError("the gateway lost or duplicated entries, or did not stop cleanly")


def _slope(samples: list[tuple[float, float, float, float]], column: int) -> float:
    """MB per million readings of one PSS column after the first quarter (warm-up)."""
    last = samples[-1][0]
    return slope_mb_per_m([(s[0], s[column]) for s in samples if s[0] >= 0.25 * last])


def _figures(quick: bool, raw: Transport, verify: float, g: GatewayRun) -> list[Figure]:
    t = g.ingest
    p50, p99, _ = latency_quantiles(g.latencies)
    rss = [r for _, r in g.rss_mb]
    warm = [(c, r) for c, r in g.rss_mb if c >= 0.25 * g.rss_mb[-1][0]]
    slope = slope_mb_per_m(warm)
    flat = max(rss) < _GOAL_RSS_MB and slope < _FLAT_MB_PER_M
    ratio = t.rate / raw.rate

    def goal(text: str, met: bool) -> tuple[str, bool | None]:
        return ("", None) if quick else (text, met)

    smoke = "smoke run" if quick else ""
    return [
        Figure("raw MQTT transport (1 subscriber)", raw.rate, "msgs/s", note=smoke),
        Figure("raw Ed25519 verify, one core", verify, "verifies/s"),
        Figure(
            "gateway committed readings",
            t.rate,
            "readings/s",
            *goal(f">= {_GOAL_RATE:,}", t.rate >= _GOAL_RATE),
            note=f"10-90%: {t.mid_rate:,.0f}/s",
        ),
        Figure(
            "committed / raw transport",
            ratio,
            "ratio",
            *goal(f">= {_GOAL_RATIO}", ratio >= _GOAL_RATIO),
        ),
        Figure("committed / raw verify (one core)", t.rate / verify, "ratio"),
        Figure(
            "reading -> receipt latency p99",
            p99,
            "s",
            *goal(f"<= {_GOAL_P99_S:g}", p99 <= _GOAL_P99_S),
            note=f"p50 {p50:.3f} s at {g.paced_rate:,.0f}/s",
        ),
        Figure(
            "gateway RSS max",
            max(rss),
            "MB",
            *goal(f"< {_GOAL_RSS_MB:.0f}, flat", flat),
            note=f"start {rss[0]:.0f}, end {rss[-1]:.0f}, slope {slope:+.1f} MB/1M readings",
        ),
        Figure(
            "gateway anonymous memory (PSS) max",
            max(sample[2] for sample in g.pss_mb),
            "MB",
            note=f"slope {_slope(g.pss_mb, 2):+.1f} MB/1M readings; mapped LevelDB files "
            f"max {max(sample[3] for sample in g.pss_mb):.0f} MB, "
            f"slope {_slope(g.pss_mb, 3):+.1f}",
        ),
    ]


def run(*, quick: bool = False) -> list[Figure]:
    """Measure raw transport, sustained and paced gateway ingest; return the figures."""
    plan = _QUICK if quick else _FULL
    fleet, how = load_fleet(plan.devices, plan.sustained + plan.paced)
    total = plan.devices * plan.sustained
    print(f"  {plan.devices} devices in {plan.processes} publisher processes, QoS 1; "
          f"{fleet.total:,} pre-signed readings ({how})")  # fmt: skip
    verify = _verify_rate(fleet, 0.5 if quick else 2.0)
    print(f"  raw Ed25519 verify, one core: {verify:,.0f}/s")
    raw = raw_transport(fleet, plan)
    _print_transport("raw transport", raw, total)
    gateway = gateway_phases(fleet, plan)
    _print_gateway(gateway, total)
    return _figures(quick, raw, verify, gateway)


if __name__ == "__main__":
    main_for("gateway ingest vs. raw MQTT transport", run)
