"""Setting up a desk directory: the operator's key and seq state, the session secret.

::

    key = init_desk_dir(Path("desk"), operator_id="riverside")        # a new key
    key = init_desk_dir(Path("desk"), operator_key=Path("riverside.key"),
                        operator_state=Path("st/riverside"))          # moved in
    check_staff(Path("desk"))      # before serving: someone can log in
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.keyfile import SignerKey, load_key, save_key
from desk._app import KEY_FILE, SECRET_FILE, STATE_DIR, USERS_FILE
from desk._users import load_users, write_secret
from signer.identity import SEQ_FILE, DeviceIdentity
from signer.transport import operator_identity

__all__ = ["check_staff", "init_desk_dir", "is_desk_dir"]


def is_desk_dir(root: Path) -> bool:
    """Whether ``root`` holds a desk's operator key (``farmtrace desk init`` was run)."""
    return (root / KEY_FILE).exists()


def init_desk_dir(
    root: Path,
    *,
    operator_id: str | None = None,
    operator_key: Path | None = None,
    operator_state: Path | None = None,
) -> SignerKey:
    """Create the desk directory ``root`` for a new operator key, or one moved in; return the key.

    Give ``operator_id`` (a new key) or ``operator_key`` with the
    ``operator_state`` it signed from (its seq goes on from there: reusing a
    seq would be refused as an equivocation).

    Raises:
        ValueError: not exactly one of ``operator_id`` and ``operator_key``, a
            key without its state, or a state of another key.
        FileExistsError: ``root`` is a desk directory already.
        OSError, FarmtraceError: a key or state cannot be read or written.
    """
    if (operator_id is None) == (operator_key is None):
        raise ValueError("give exactly one of --operator-id and --operator-key")
    if is_desk_dir(root):
        raise FileExistsError(f"{root / KEY_FILE} exists: this desk is set up already")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    state = root / STATE_DIR
    if operator_key is not None:
        key = _move_in(operator_key, operator_state, state)
    else:
        assert operator_id is not None
        key = SignerKey.generate(operator_id)
    operator_identity(state, key).close()
    save_key(key, root / KEY_FILE)
    write_secret(root / SECRET_FILE)
    return key


def _move_in(key_file: Path, old_state: Path | None, state: Path) -> SignerKey:
    """The key in ``key_file``, its seq state copied from ``old_state`` into ``state``."""
    if old_state is None:
        raise ValueError(
            "--operator-key needs --operator-state, the seq state it signed from (reusing a "
            "seq would be refused as an equivocation); or make a new key with --operator-id"
        )
    key = load_key(key_file)
    with DeviceIdentity.open(old_state) as old:  # locked while the state is copied
        if old.key.public_key != key.public_key:
            raise ValueError(f"{old_state} holds the state of another key")
        state.mkdir(mode=0o700, parents=True)
        shutil.copyfile(old_state / SEQ_FILE, state / SEQ_FILE)
    return key


def check_staff(root: Path) -> None:
    """Refuse to serve a desk nobody can log in to.

    Raises:
        ValueError: users.json holds no staff account yet.
        OSError, FarmtraceError: users.json cannot be read.
    """
    if not load_users(root / USERS_FILE):
        raise ValueError(f"no staff accounts yet: farmtrace desk adduser --desk-dir {root}")
