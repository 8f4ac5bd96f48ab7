"""Only the store knows its key layout: every other module reads through its named queries.

Scanned: every package, bench/, and the tests' helpers (not the tests that
tamper with a store's records on purpose, which must name them).
"""

from __future__ import annotations

import re
from pathlib import Path

from chain.store import Store

_ROOT = Path(__file__).resolve().parents[2]
_STORE_FILES = {"chain/store.py", "chain/_store_keys.py", "chain/_store_scan.py"}
_OUTSIDE = ("tests", ".venv", "build", "farmtrace.egg-info", "docs", "deploy", "test-artifacts")
# A key prefix, the store's private modules, or the raw access it no longer offers.
_FORBIDDEN = re.compile(
    r"""\bb["'][a-z]:"""  # a bytes literal like b"e:" or b's:pack:'
    r"|_store_keys|_store_scan|\.iterate\(|\.get_raw\("
)


def _sources() -> list[Path]:
    packages = [
        path
        for path in sorted(_ROOT.glob("*/**/*.py"))
        if path.relative_to(_ROOT).parts[0] not in _OUTSIDE
    ]
    helpers = [
        path
        for path in sorted((_ROOT / "tests").rglob("*.py"))
        if not path.name.startswith("test_")
    ]
    return packages + helpers


def test_no_module_outside_the_store_knows_its_key_layout() -> None:
    sources = _sources()
    assert any(path.match("consumer_web/_search.py") for path in sources)
    assert any(path.match("chain/audit/_stream.py") for path in sources)
    offenders = []
    for path in sources:
        name = path.relative_to(_ROOT).as_posix()
        if name in _STORE_FILES:
            continue
        text = path.read_text(encoding="utf-8")
        for match in _FORBIDDEN.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{name}:{line}: {match.group(0)}")
    assert offenders == [], "\n".join(offenders)


def test_the_store_offers_no_raw_key_access() -> None:
    for name in ("iterate", "get_raw"):
        assert not hasattr(Store, name), name
