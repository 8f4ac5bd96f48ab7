"""``kill -9`` of ``farmtrace demo``: its children (Mosquitto, the gateway, the site, the desk
and both witnesses) die with it and free their ports and the log's lock (issue 11 item 9)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from mqtt_broker import free_port
from test_demo_live import start_demo, wait_for

from chain.store import Store


def children_of(pid: int) -> dict[int, str]:
    """Each child process of ``pid``: its command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found[int(stat.parent.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def listenable(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (as servers do, SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


_KINDS = ("mosquitto", "gateway run", "site run", "desk run", "witness serve")


def test_a_killed_demo_takes_its_children_with_it(tmp_path: Path) -> None:
    data, log = tmp_path / "demo-data", tmp_path / "demo.log"
    ports = free_port(), free_port(), free_port(), free_port(), free_port(), free_port()
    proc = start_demo(data, ports, log)
    try:
        wait_for(log, "consumer site ", proc, 120)  # printed once every child is up
        children = children_of(proc.pid)
        kinds = sorted(next(k for k in _KINDS if k in c) for c in children.values())
        assert kinds == [
            "desk run", "gateway run", "mosquitto", "site run", "witness serve", "witness serve"
        ]  # fmt: skip
        assert not any(listenable(port) for port in ports)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in children) or not all(listenable(p) for p in ports):
        assert time.monotonic() < deadline, (
            f"still running: {[c for pid, c in children.items() if alive(pid)]}; "
            f"ports still taken: {[p for p in ports if not listenable(p)]}"
        )
        time.sleep(0.1)
    with Store.open(data / "gateway" / "log") as store:  # the gateway's lock is free
        assert store.entry_count > 0
