"""Recovery when the witnesses cosigned blocks the mirror holds but has not taken as its head.

The gateway (run with ``--mirror``) showed the witnesses a checkpoint once the
mirror held its blocks; its disk died before the mirror fetched the
cosigned checkpoint. The mirror's ``/checkpoint`` is older than what the
witnesses cosigned, yet it serves every block: recovery takes the
witnesses' note and those blocks, verified, instead of refusing.
"""

from __future__ import annotations

from pathlib import Path

from followed_logs import HttpLog
from gateway_harness import Signer, device_keys, new_data_dir, now_ms

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key, open_checkpoint
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.recover import recover_data_dir
from gateway.witness_heads import WitnessHead
from readapi import LogInfo, ReadApiClient

KEYS = [generate_cosigner_key(f"w{i}.test/witness") for i in range(2)]
POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in KEYS))


def _cosigned(store: Store, size: int, keys: list[tuple[str, str]]) -> str:
    signed = store.checkpoint(size)
    text = note.parse(signed).text
    return signed + "".join(cosign(text, skey, 1_700_000_000) for skey, _ in keys)


def _build(tmp_path: Path) -> tuple[DataDir, TrustRoot]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    device = Signer(device_keys(1)[0])
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        ingest = Ingest.open(
            store, trust, read_log_signer(data_dir), IngestConfig(block_interval_ms=0), now_ms()
        )
        batches: list[tuple[bytes, str | None]] = [(admin.register(device.key), None)]
        batches += [(device.reading(), device.id) for _ in range(3)]
        for raw, publisher in batches:  # a block each
            ingest.offer(raw, publisher, now_ms())
            ingest.flush()
            list(ingest.close_blocks(now_ms()))
        assert store.size == 5
    return data_dir, trust


def test_recovery_takes_the_witnesses_checkpoint_and_the_blocks_the_mirror_holds(
    tmp_path: Path,
) -> None:
    data_dir, trust = _build(tmp_path)
    names = {Witness(vkey).name for _, vkey in KEYS}
    with Store.open(data_dir.log) as store:
        head = (3, _cosigned(store, 3, KEYS))  # the mirror's head; it holds all 5 blocks
        notes = [_cosigned(store, 4, [key]) for key in KEYS]  # each witness cosigned 4
        heads = [
            WitnessHead(Witness(vkey).name, "known", open_checkpoint(n, trust.log_key), note=n)
            for (_, vkey), n in zip(KEYS, notes, strict=True)
        ]
        mirror = HttpLog(LogInfo(trust.origin, trust.log_key, (), store, publisher=lambda: head))
        mirror.start()
        try:
            recovery = recover_data_dir(
                ReadApiClient(mirror.url),
                trust,
                POLICY,
                DataDir(tmp_path / "recovered"),
                log_key=data_dir.log_key.read_text().strip(),
                witness_heads=lambda: heads,
            )
        finally:
            mirror.stop()
        assert recovery.checkpoint_size == 4 and set(recovery.cosigners) == names
        with Store.open(tmp_path / "recovered" / "log") as copy:
            assert copy.size == 4 and copy.root(4) == store.root(4)
            latest = copy.latest_checkpoint()
            assert latest is not None and latest[0] == 4
            assert set(POLICY.check(latest[1])) == names  # both witnesses' lines, merged
            assert copy.pending() == []
