"""Setting up a site directory: the pinned trust root and, if any, the witness policy.

::

    policy = init_site_dir(Path("site"), Path("gw/trust.json"), Path("witnesses.json"))
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.errors import FarmtraceError, MalformedError
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from consumer_web._app import POLICY_FILE

__all__ = ["TRUST_FILE", "init_site_dir"]

TRUST_FILE = "trust.json"
"""The site directory's pinned trust root."""


def init_site_dir(
    site_dir: Path, trust: Path, witnesses: Path | None = None
) -> WitnessPolicy | None:
    """Pin the trust root in ``trust`` (and the policy in ``witnesses``) in ``site_dir``.

    Both files are checked before anything is written. Returns the policy, if given.

    Raises:
        MalformedError: either file is not a valid trust root or witness policy.
        FileExistsError: ``site_dir`` already pins a trust root or a policy.
        OSError: a file cannot be read or written.
    """
    TrustRoot.from_json(trust.read_text(encoding="utf-8"))
    policy: WitnessPolicy | None = None
    if witnesses is not None:
        try:
            policy = WitnessPolicy.from_json(witnesses.read_text(encoding="utf-8"))
        except FarmtraceError as exc:
            raise MalformedError(f"{witnesses}: {exc}") from exc
    for path in (site_dir / TRUST_FILE, site_dir / POLICY_FILE):
        if path.exists():
            raise FileExistsError(f"{path} exists: the site is already set up")
    site_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trust, site_dir / TRUST_FILE)
    if policy is not None:
        (site_dir / POLICY_FILE).write_text(policy.to_json(), encoding="utf-8")
    return policy
