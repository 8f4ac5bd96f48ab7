"""The log the read API tests serve: built with LogFactory, partly checkpointed and cosigned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from farm_logs import START_MS, LogFactory

from chain import checkpoint, note
from readapi import LogInfo

WITNESS_SEEDS = (bytes([1]) * 32, bytes([2]) * 32)


@dataclass
class ServedLog:
    """The log behind the app: its factory, its source and its checkpointed size."""

    factory: LogFactory
    source: LogInfo
    checkpointed: int


def build_served_log(root: Path) -> ServedLog:
    """Six blocks; checkpoints at sizes 1, 2, 3 and 5 (cosigned by one witness).

    Block 3 (size 4) and block 5 (size 6) were committed without a checkpoint.
    """
    factory = LogFactory(root)
    factory.register("d1")  # block 1
    factory.commit([factory.reading("d1") for _ in range(3)])  # block 2
    factory.writer.commit_block([factory.reading("d1") for _ in range(2)], START_MS)  # 3
    factory.commit([factory.reading("d1") for _ in range(5)])  # block 4, checkpoint 5
    factory.writer.commit_block([factory.reading("d1")], START_MS)  # block 5, no checkpoint
    signers, verifiers = zip(
        *(
            checkpoint.generate_cosigner_key(f"witness{n}.example", seed=seed)
            for n, seed in enumerate(WITNESS_SEEDS)
        ),
        strict=True,
    )
    store = factory.store
    size, signed = store.latest_checkpoint() or (0, "")
    text = note.parse(signed).text
    store.put_checkpoint(size, signed + checkpoint.cosign(text, signers[0], 1_767_225_000))
    source = LogInfo(store.origin, factory.trust.log_key, tuple(verifiers), store)
    return ServedLog(factory, source, size)
