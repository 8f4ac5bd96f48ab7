"""Creating a new log: keys, trust root, store, and a genesis block.

The genesis block holds each administrator's self-signed ``operator``
registration, so that the log states its own root of authority and has a
signed checkpoint from its first moment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from chain import note
from chain.entries import Entry, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir

__all__ = ["init_data_dir", "read_log_signer"]


def init_data_dir(
    data_dir: DataDir, origin: str, admins: Sequence[SignerKey], now_ms: int
) -> TrustRoot:
    """Create a new log for ``origin`` in ``data_dir``, administered by ``admins``.

    Writes the log signer key (mode 0600), ``trust.json``, and a store whose
    block 0 registers every admin; signs the first checkpoint.

    Raises:
        FileExistsError: ``data_dir`` already holds a log or a log key.
        StorageError: the store could not be created.
    """
    if data_dir.log.exists() or data_dir.log_key.exists():
        raise FileExistsError(f"{data_dir.root} already holds a log; refusing to overwrite it")
    data_dir.keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir.keys, 0o700)
    signer, verifier = note.generate_key(origin)
    fd = os.open(data_dir.log_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer + "\n")
    trust = TrustRoot(
        origin=origin,
        log_key=verifier,
        admins=tuple(sorted((a.id, a.public_key) for a in admins)),
    )
    data_dir.trust.write_text(trust.to_json())
    genesis: list[Entry] = [
        parse_entry(
            sign_entry(
                operator_payload(
                    "register",
                    admin.id,
                    1,
                    now_ms,
                    pubkey=admin.public_key,
                    roles=["admin"],
                    name="genesis administrator",
                ),
                admin.id,
                admin.seed,
            )
        )
        for admin in admins
    ]
    with Store.open(data_dir.log, origin=origin) as store:
        writer = LogWriter(store, signer)
        writer.commit_block(genesis, now_ms)
        writer.sign_checkpoint()
    return trust


def read_log_signer(data_dir: DataDir) -> str:
    """The log's signer key string from ``data_dir`` (OSError if unreadable)."""
    return data_dir.log_key.read_text().strip()
