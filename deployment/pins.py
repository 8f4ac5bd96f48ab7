"""The pins file and the files it names, copied into one directory the units can read.

A pins file (docs/supply-chain.md section 4) names, per followed log, a
trust root and a witness policy by paths relative to itself. The units run
with ``ProtectHome=yes`` under their own users, so ``farmtrace deploy
--pins FILE`` copies the pins file and every file it names into
``OUT/pins/`` (one directory per log, named after its origin), rewriting
the paths to those copies; the administrator installs that directory as
:data:`INSTALLED_PINS`'s parent (``cp -r OUT/pins /etc/farmtrace/``), and
the gateway and site units read it there (``--pins``). Files are written
readable by all (mode 0644): they hold public keys and URLs only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["INSTALLED_PINS", "bundle_pins"]

INSTALLED_PINS = Path("/etc/farmtrace/pins/pins.json")
"""Where the units read the pins file once the bundle is installed."""

_NAMED_FILES = ("trust", "witnesses")
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _directory_name(origin: str, taken: set[str]) -> str:
    base = _UNSAFE.sub("_", origin).strip("._") or "log"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_bytes(data)
    os.chmod(path, 0o644)
    return path


def bundle_pins(pins_file: Path, out: Path) -> list[Path]:
    """Copy ``pins_file`` and the files it names into ``out``; the files written.

    Precondition: ``pins_file`` is a valid pins file (the caller checked it
    with :func:`readapi.crosslog.load_pins`): a JSON object whose ``logs``
    are objects with an ``origin`` and a ``trust`` path and maybe a
    ``witnesses`` path. ``out/pins.json`` keeps every other member as it was.

    Raises:
        OSError: a named file cannot be read, or ``out`` cannot be written.
        ValueError: the document is not as the precondition says.
    """
    document: Any = json.loads(pins_file.read_bytes())
    if not isinstance(document, dict) or not isinstance(document.get("logs"), list):
        raise ValueError(f'{pins_file}: expected {{"logs": [...]}}')
    written: list[Path] = []
    taken: set[str] = set()
    logs = []
    for item in document["logs"]:
        if not isinstance(item, dict) or not isinstance(item.get("origin"), str):
            raise ValueError(f"{pins_file}: expected each log to be an object with an origin")
        copy = dict(item)
        directory = _directory_name(item["origin"], taken)
        for member in _NAMED_FILES:
            if member not in item:
                continue
            if not isinstance(item[member], str):
                raise ValueError(f"{pins_file}: {item['origin']}: expected {member} to be a path")
            data = (pins_file.parent / item[member]).read_bytes()
            written.append(_write(out / directory / f"{member}.json", data))
            copy[member] = f"{directory}/{member}.json"
        logs.append(copy)
    text = json.dumps({**document, "logs": logs}, indent=2, ensure_ascii=False) + "\n"
    written.insert(0, _write(out / "pins.json", text.encode()))
    return written
