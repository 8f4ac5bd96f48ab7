"""The dependency rules of the house, checked on the source itself."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# package -> the packages of ours it may import. README's package table is
# checked against this (test_readme_package_table_matches_the_rules).
ALLOWED: dict[str, set[str]] = {
    "chain": set(),
    "readapi": {"chain"},
    # Signing at the edge (devices and operators alike) shares only the wire format.
    "signer": {"chain"},
    "firmware_sim": {"chain", "signer"},
    "devices": {"chain", "signer", "firmware_sim"},
    "gateway": {"chain", "readapi"},
    "consumer_web": {"chain", "readapi"},
    "desk": {"chain", "readapi", "signer"},
    # A witness is run by another party (a co-op, a retailer): it shares only the core.
    "witness": {"chain"},
    # The auditors' library: an auditor installs the core and a read-API client.
    "verify": {"chain", "readapi"},
    # The tiles publisher follows a read API; readers need only readapi.tile_client.
    "tiles": {"chain", "readapi"},
    "demo": {"chain", "readapi", "signer", "firmware_sim", "gateway", "witness"},
    # Deployment files (nginx, systemd) are text: the generator needs none of our code.
    "deployment": set(),
    # Devices and people on a live farm: broker logins, signed registrations, desk logins.
    "provisioning": {"chain", "signer", "gateway", "desk", "readapi"},
}
OURS = set(ALLOWED) | {"farmtrace"}
ALLOWED["farmtrace"] = OURS


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


def _import_froms(path: Path) -> list[ast.ImportFrom]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module
    ]


def _is_submodule(module: str, name: str) -> bool:
    base = ROOT.joinpath(*module.split("."))
    return (base / f"{name}.py").exists() or (base / name / "__init__.py").exists()


@pytest.mark.parametrize("package", sorted(OURS))
def test_no_private_module_is_imported_from_another_package(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        for node in _import_froms(path):
            assert node.module is not None
            parts = node.module.split(".")
            if parts[0] not in OURS or parts[0] == package:
                continue
            private = [p for p in parts[1:] if p.startswith("_")]
            private += [a.name for a in node.names if a.name.startswith("_")]
            assert not private, (
                f"{path.relative_to(ROOT)} reaches into {node.module}: {private}; "
                "import the package's public names instead"
            )


@pytest.mark.parametrize("package", sorted(OURS))
def test_no_underscore_name_is_imported_from_a_sibling_module(package: str) -> None:
    # Private modules (chain/_payloads.py) are shared inside their package
    # under public names; an underscore name is private to its own module.
    for path in (ROOT / package).rglob("*.py"):
        for node in _import_froms(path):
            assert node.module is not None
            if node.module.split(".")[0] != package:
                continue
            reached = [
                a.name
                for a in node.names
                if a.name.startswith("_") and not _is_submodule(node.module, a.name)
            ]
            assert not reached, f"{path.relative_to(ROOT)} imports {reached} from {node.module}"


def _readme_table() -> dict[str, set[str]]:
    text = (ROOT / "README.md").read_text()
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`") or not cells[0].endswith("/`"):
            continue
        package = cells[0].strip("`/")
        may = cells[2]
        if may == "nothing of ours":
            table[package] = set()
        elif may == "everything":
            table[package] = set(OURS)
        else:
            table[package] = {m.strip().strip("`") for m in may.split(",")}
    return table


def test_readme_package_table_matches_the_rules() -> None:
    table = _readme_table()
    assert set(table) == OURS, f"README's table lists {sorted(table)}, the rules {sorted(OURS)}"
    for package, allowed in ALLOWED.items():
        assert table[package] == allowed, (
            f"README says {package}/ may import {sorted(table[package])}, "
            f"the rules say {sorted(allowed)}"
        )
