"""``farmtrace deploy`` for the supply chain: operator-only logs, pins, a site following many logs.

The generated files are checked as text and by the real tools (``nginx -t``,
``systemd-analyze verify``); the installed pins bundle by the loader the
units use (:func:`readapi.crosslog.load_pins`).
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_pki import make_pki

from chain import note
from chain.trust import TrustRoot
from deployment import (
    INSTALLED_PINS,
    Machine,
    SubmitLimit,
    nginx_plan,
    render_unit,
    server_blocks,
    standalone_conf,
    units,
)
from farmtrace.cli import main
from readapi.crosslog import load_pins

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
FARMTRACE = str(Path(sys.executable).parent / "farmtrace")
HOSTS = {"site": "trace.test", "desk": "desk.test", "gateway": "log.test"}


def _machine(tmp_path: Path, **changes: object) -> Machine:
    pki = make_pki(tmp_path, list(HOSTS.values()))
    machine = Machine(
        parts=("gateway", "desk", "site"),
        farm=None,
        hosts=HOSTS,
        tls_cert=pki.cert,
        tls_key=pki.key,
        public_url="https://trace.test",
        farmtrace=FARMTRACE,
        static_root=ROOT / "consumer_web" / "static",
        pins=INSTALLED_PINS,
    )
    return dataclasses.replace(machine, **changes)


def _commands(machine: Machine) -> dict[str, list[str]]:
    return {unit.part: list(unit.command) for unit in units(machine)}


def _server(conf: str, name: str) -> str:
    return next(b for b in conf.split("\nserver {") if f"server_name {name};" in b)


def _write_pins(directory: Path) -> Path:
    """A pins file naming two logs, its trust roots in a subdirectory, one witness policy."""
    (directory / "keys").mkdir(parents=True)
    logs = []
    for i, party in enumerate(["farm-a", "plant"]):
        origin = f"{party}.example/log"
        trust = TrustRoot(
            origin, note.generate_key(origin, seed=bytes([i + 1]) * 32)[1], (("admin", bytes(32)),)
        )
        (directory / "keys" / f"{party}.json").write_text(trust.to_json())
        logs.append(
            {
                "origin": origin,
                "name": party.title(),
                "role": "farm" if party == "farm-a" else "plant",
                "trust": f"keys/{party}.json",
                "sources": [f"https://{party}.example"],
                "gs1_prefixes": [] if party == "farm-a" else ["950600013"],
            }
        )
    (directory / "witnesses.json").write_text(json.dumps({"quorum": 0, "witnesses": []}))
    logs[1]["witnesses"] = "witnesses.json"
    pins = directory / "pins.json"
    pins.write_text(json.dumps({"logs": logs}))
    return pins


def test_an_operator_only_log_runs_its_gateway_without_mqtt_and_its_desk_over_http(
    tmp_path: Path,
) -> None:
    machine = _machine(tmp_path, pins=None, parts=("gateway", "desk"), hosts={})
    by_part = {unit.part: unit for unit in units(machine)}
    gateway, desk = list(by_part["gateway"].command), list(by_part["desk"].command)
    assert gateway[1:] == [
        "gateway", "run", "--data-dir", "/var/lib/farmtrace-gateway", "--http-port", "8080",
    ]  # fmt: skip
    assert desk[desk.index("--submit-url") + 1] == "http://127.0.0.1:8080"
    for flag in ("--mqtt", "--farm", "--mqtt-password-file"):
        assert flag not in gateway and flag not in desk
    for unit in by_part.values():  # no MQTT password to load, no broker to wait for
        text = render_unit(unit)
        assert "LoadCredential" not in text and "\nAfter=network-online.target\n" in text
    remote = _machine(tmp_path, pins=None, parts=("desk",), hosts={}, submit_url="https://log.x")
    desk = _commands(remote)["desk"]
    assert desk[desk.index("--submit-url") + 1] == "https://log.x"


def test_a_farms_gateway_takes_http_submissions_only_when_asked(tmp_path: Path) -> None:
    farm = _machine(
        tmp_path,
        farm="farm1",
        pins=None,
        parts=("broker", "gateway"),
        hosts={"gateway": "log.test"},
    )
    assert "--http-submit" not in _commands(farm)["gateway"]
    conf = server_blocks(nginx_plan(farm))
    assert "/api/v1/submit" not in conf and "farmtrace_submit" not in conf  # as before
    both = dataclasses.replace(farm, http_submit=True)
    gateway = _commands(both)["gateway"]
    assert gateway[gateway.index("--mqtt") + 2] == "--http-submit"
    assert "location = /api/v1/submit {" in server_blocks(nginx_plan(both))


def test_nginx_passes_submissions_rate_limited_with_a_body_limit_and_a_json_429(
    tmp_path: Path,
) -> None:
    machine = _machine(tmp_path, submit_limit=SubmitLimit("30r/m", 4, "8k"))
    conf = server_blocks(nginx_plan(machine))
    gateway = _server(conf, "log.test")
    submit = gateway.split("location = /api/v1/submit {")[1].split("}")[0]
    assert "limit_req zone=farmtrace_submit burst=4 nodelay;" in submit
    assert "limit_req_status 429;" in submit and "client_max_body_size 8k;" in submit
    assert "proxy_pass http://farmtrace_gateway;" in submit
    assert "limit_req_zone $farmtrace_submit_key zone=farmtrace_submit:10m rate=30r/m;" in conf
    assert "POST $binary_remote_addr;" in conf  # only POSTs count: probes and receipts do not
    assert '"reason": "rate_limited"' in gateway and "Retry-After" in gateway
    assert "location = /metrics {" in gateway and "location / {" in gateway  # reads, refs/...
    assert "farmtrace_submit" not in _server(conf, "trace.test")


@pytest.mark.parametrize(
    ("args", "message"),
    [(("1r/h", 1, "8k"), "10r/s"), (("1r/s", -1, "8k"), "burst"), (("1r/s", 1, "8 k"), "8k")],
)
def test_a_bad_submit_limit_is_refused(args: tuple[str, int, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SubmitLimit(*args)


def test_the_site_follows_the_pins_and_the_gateway_checks_against_them(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    commands = _commands(machine)
    site, gateway = commands["site"], commands["gateway"]
    assert site[1:] == [
        "site", "run", "--site-dir", "/var/lib/farmtrace-site",
        "--pins", "/etc/farmtrace/pins/pins.json", "--port", "8000",
        "--public-url", "https://trace.test", "--trusted-proxy", "127.0.0.1",
        "--sync-interval", "1",
    ]  # fmt: skip
    assert gateway[gateway.index("--pins") + 1] == "/etc/farmtrace/pins/pins.json"
    assert "--mirror" not in gateway  # a federated site stages nothing for receipts to wait on
    conf = server_blocks(nginx_plan(machine))
    site_block = _server(conf, "trace.test")
    assert "location ~ ^/logs/[a-z0-9][a-z0-9-]*/metrics$ {" in site_block
    static = site_block.split("location ~ ^/logs/[a-z0-9][a-z0-9-]*/static/(.+)$ {")[1]
    assert static.split("}")[0].strip().startswith(f"alias {ROOT}/consumer_web/static/$1;")
    assert "proxy_cache farmtrace_site;" in site_block  # /logs/<slug>/ pages: the 1 s cache
    single = _machine(tmp_path, pins=None, farm="farm1", parts=("site",), hosts={})
    assert "--stage-uncosigned" in _commands(single)["site"]
    assert "/logs/" not in server_blocks(nginx_plan(_machine(tmp_path, pins=None)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"parts": ("broker", "gateway"), "hosts": {}}, "leave out broker"),
        ({"parts": ("gateway", "device"), "hosts": {}}, "leave out device"),
        ({"http_submit": True}, "--http-submit is for a farm"),
        ({"parts": ("desk",), "hosts": {"desk": "desk.test"}}, "needs --submit-url"),
        ({"tiles_url": "https://tiles.test/"}, "leave out --tiles-url"),
        ({"parts": ("desk",), "hosts": {}, "submit_url": "http://x"}, "neither runs here"),
    ],
)
def test_machines_that_cannot_work_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _machine(tmp_path, **changes)


def test_nginx_and_systemd_accept_the_files(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    if NGINX.exists():
        plan = dataclasses.replace(nginx_plan(machine, 8443, 8080), listen="127.0.0.1")
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            standalone_conf(plan, tmp_path, Path("/etc/nginx/mime.types"), user=getpass.getuser())
        )
        (tmp_path / "tmp").mkdir()
        done = subprocess.run(
            [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    paths = []
    for unit in units(machine):
        path = tmp_path / unit.name
        path.write_text(render_unit(unit))
        paths.append(str(path))
    done = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and (done.stdout + done.stderr).strip() == "", done.stderr


def test_the_command_installs_the_pins_where_the_units_read_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pins = _write_pins(tmp_path / "mine")
    pki = make_pki(tmp_path, ["log.test", "trace.test"])
    out = tmp_path / "out"
    argv = ["deploy", "--out", str(out), "--operator-only", "--part", "gateway", "--part", "site"]
    argv += ["--host", "gateway=log.test", "--host", "site=trace.test", "--pins", str(pins)]
    argv += ["--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--submit-rate", "5r/s"]
    assert main(argv) == 0, capsys.readouterr().err
    written = {Path(p).relative_to(out).as_posix() for p in capsys.readouterr().out.split()}
    assert written == {
        "systemd/farmtrace-gateway.service",
        "systemd/farmtrace-site.service",
        "nginx/farmtrace.conf",
        "pins/pins.json",
        "pins/farm-a.example_log/trust.json",
        "pins/plant.example_log/trust.json",
        "pins/plant.example_log/witnesses.json",
    }
    for path in (out / "pins").rglob("*"):  # the units' users read it under /etc
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    installed, given = load_pins(out / "pins" / "pins.json"), load_pins(pins)
    assert installed == given  # the same logs, keys, policies, sources and prefixes
    shutil.rmtree(tmp_path / "mine")  # the copy stands alone
    assert load_pins(out / "pins" / "pins.json") == given
    assert "rate=5r/s;" in (out / "nginx" / "farmtrace.conf").read_text()
    gateway = (out / "systemd" / "farmtrace-gateway.service").read_text()
    exec_start = next(line for line in gateway.splitlines() if line.startswith("ExecStart="))
    assert f"--pins {INSTALLED_PINS}" in exec_start and "--farm" not in exec_start


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--operator-only", "--farm", "farm2"], "no --farm"),
        (["--operator-only", "--part", "broker"], "leave out broker"),
        (["--pins", "{missing}"], "cannot read pins file"),
        (["--pins", "{malformed}"], "malformed_pins|expected"),
        (["--submit-rate", "lots"], "submit rate"),
    ],
)
def test_the_command_refuses_what_cannot_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    (tmp_path / "malformed.json").write_text('{"logs": []}')
    files = {"missing": str(tmp_path / "none.json"), "malformed": str(tmp_path / "malformed.json")}
    extra = [arg.format(**files) for arg in extra]
    argv = ["deploy", "--out", str(tmp_path / "out"), "--part", "gateway", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("farmtrace deploy:") and re.search(message, err), err
    assert not (tmp_path / "out").exists()  # nothing written
