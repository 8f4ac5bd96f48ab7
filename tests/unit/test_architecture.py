"""The dependency rules of the house, checked on the source itself."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {
    "chain",
    "gateway",
    "firmware_sim",
    "consumer_web",
    "farmtrace",
    "readapi",
    "desk",
    "witness",
}
# package -> the packages of ours it may import
ALLOWED = {
    "chain": set(),
    "readapi": {"chain"},
    "gateway": {"chain", "readapi"},
    "consumer_web": {"chain", "readapi"},
    "firmware_sim": {"chain"},
    # The operators' web form signs events with the same signer machinery as devices.
    "desk": {"chain", "readapi", "firmware_sim"},
    # A witness is run by another party (a co-op, a retailer): it shares only the core.
    "witness": {"chain"},
    "farmtrace": OURS,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_they_may(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        foreign = _imports(path) - ALLOWED[package] - {package}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_plyvel_is_imported_only_by_the_store() -> None:
    users = [p for p in (ROOT / "chain").rglob("*.py") if "plyvel" in _imports_all(p)]
    assert [p.relative_to(ROOT).as_posix() for p in users] == ["chain/store.py"]


def _imports_all(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [package] + [
        m.name for m in pkgutil.walk_packages(pkg.__path__, f"{package}.") if "._" not in m.name
    ]


@pytest.mark.parametrize("module", _modules("chain"))
def test_public_chain_modules_declare_exactly_their_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    if not hasattr(mod, "__all__"):
        assert module == "chain", f"{module} has no __all__"
        return
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names missing {name}"
    defined_here = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module
        and (isinstance(value, type) or callable(value))
    }
    assert defined_here <= set(mod.__all__), (
        f"{module} leaves out {defined_here - set(mod.__all__)}"
    )
