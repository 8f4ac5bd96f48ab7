"""Issue 12: on a running ``farmtrace demo``, add a vet to the live desk and retire them, exactly
as the demo's banner says, from a "second terminal" (subprocesses)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from mqtt_broker import free_port
from test_demo_live import ROOT, start_demo, wait_for
from test_operator_people import DeskBrowser


def printed_command(log: Path, label: str) -> list[str]:
    """The banner's command after ``label``, to run as printed (``farmtrace`` from this venv)."""
    found = re.search(rf"^  {label} +(farmtrace .+)$", log.read_text(), re.M)
    assert found is not None, log.read_text()
    argv = shlex.split(found[1])
    return [sys.executable, "-m", *argv]


def second_terminal(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_vet_added_to_and_retired_from_the_demos_desk(tmp_path: Path) -> None:
    data, log = tmp_path / "demo-data", tmp_path / "demo.log"
    ports = free_port(), free_port(), free_port(), free_port(), free_port(), free_port()
    proc = start_demo(data, ports, log)
    try:
        wait_for(log, "streaming live", proc, 150)
        desk_url = f"http://127.0.0.1:{ports[5]}"
        assert f"operators' desk    {desk_url}/" in log.read_text()
        # The staff log-in the banner points to (0600) lets the farm office in.
        login_file = data / "desk-staff-login"
        assert f"(staff log-in in {login_file})" in log.read_text()
        assert login_file.stat().st_mode & 0o077 == 0
        user, password = re.findall(r"^(?:user|password): (\S+)$", login_file.read_text(), re.M)
        staff = DeskBrowser(desk_url)
        status, where, page = staff.form("/login", {"username": user, "password": password})
        assert status == 200 and where == f"{desk_url}/" and 'href="/events/placed"' in page

        added = second_terminal(printed_command(log, "add a vet"))
        assert added.returncode == 0, added.stderr
        assert "committed" in added.stdout and "created broker login 'vet2'" in added.stdout
        vet_password = re.search(r"desk log-in: vet2  password: (\S+)", added.stdout)
        assert vet_password is not None, added.stdout
        vet = DeskBrowser(desk_url)
        vet_login = {"username": "vet2", "password": vet_password[1]}
        status, where, page = vet.form("/login", vet_login)
        assert status == 200 and where == f"{desk_url}/", page
        vet_kinds = ["vaccinated", "treated", "inspected", "died"]
        assert re.findall(r'href="/events/(\w+)"', page) == vet_kinds
        fields = {"subjects": "bird:0050", "vaccine": "Newcastle", "dose": "0.2ml"}
        status, where, page = vet.form("/events/vaccinated", fields)
        assert status == 200 and where.endswith("/recorded"), page
        assert "The gateway committed the event to the log." in page
        assert "Signed by</dt><dd><code>vet2</code>" in page
        assert re.search(r'id="block">[0-9]+<', page), page  # the block that holds it

        retired = second_terminal(printed_command(log, "retire the vet"))
        assert retired.returncode == 0, retired.stderr
        assert "desk log-ins removed: vet2" in retired.stdout and "committed" in retired.stdout
        deadline = time.monotonic() + 5
        while (status := DeskBrowser(desk_url).form("/login", vet_login)[0]) != 401:
            assert time.monotonic() < deadline, f"vet2 still let in ({status})"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()
    assert "demo stopped cleanly" in log.read_text()
