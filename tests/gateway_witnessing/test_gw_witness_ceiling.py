"""A pusher with a ceiling (a gateway run with --mirror) shows the witnesses nothing above it."""

from __future__ import annotations

from farm_logs import LogFactory
from gw_witness_fakes import InProcess
from spec_witness import SpecWitness
from test_gw_witness_pusher import FAST, grow, wait_for

from chain.witness_policy import Witness, WitnessPolicy
from gateway.metrics import GatewayMetrics
from gateway.witnessing import WitnessPusher


def test_the_witnesses_see_only_what_the_ceiling_allows(d1_log: LogFactory) -> None:
    spec = [SpecWitness(f"w{i}.test/witness") for i in range(2)]
    for witness in spec:
        witness.trust_log(d1_log.trust.log_key)
    policy = WitnessPolicy(2, tuple(Witness(w.vkey, f"http://{w.name}") for w in spec))
    by_name = {w.name: w for w in spec}
    ceiling = [0]
    pusher = WitnessPusher(
        d1_log.store,
        policy,
        GatewayMetrics(),
        FAST,
        transport=lambda w, _timeout: InProcess(by_name[w.name]),
        ceiling=lambda: ceiling[0],
    )
    pusher.start()
    try:
        grow(d1_log, 4)
        pusher.notify()
        ceiling[0] = 3  # a mirror holds 3 of the 5 blocks
        pusher.notify()
        wait_for(lambda: pusher.published_size == 3)  # published at once, though not the newest
        grow(d1_log, 1)
        pusher.notify()
        text = pusher.metrics.render().decode()
        for w in spec:  # nothing above the ceiling was pushed, however often they woke
            assert f'farmtrace_witness_cosigned_size{{witness="{w.name}"}} 3.0' in text
            assert w.state[d1_log.trust.origin][0] == 3
        ceiling[0] = d1_log.store.size
        pusher.notify()
        wait_for(lambda: pusher.published_size == d1_log.store.size)
    finally:
        pusher.stop()
