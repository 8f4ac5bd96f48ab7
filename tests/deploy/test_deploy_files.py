"""``farmtrace deploy``: the nginx and systemd files it writes pass the real tools' checks."""

from __future__ import annotations

import dataclasses
import getpass
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_pki import make_pki

from deployment import (
    PARTS,
    Machine,
    nginx_plan,
    render_unit,
    server_blocks,
    standalone_conf,
    units,
)
from farmtrace.cli import main

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
FARMTRACE = str(Path(sys.executable).parent / "farmtrace")
HOSTS = {
    "site": "trace.test",
    "desk": "desk.test",
    "witness": "witness.test",
    "gateway": "gw.test",
    "tiles": "tiles.test",
}


def _machine(tmp_path: Path, **changes: object) -> Machine:
    pki = make_pki(tmp_path, list(HOSTS.values()))
    machine = Machine(
        parts=PARTS,
        hosts=HOSTS,
        tls_cert=pki.cert,
        tls_key=pki.key,
        public_url="https://trace.test",
        farmtrace=FARMTRACE,
        static_root=ROOT / "consumer_web" / "static",
    )
    return dataclasses.replace(machine, **changes)


def test_nginx_accepts_the_generated_configuration(tmp_path: Path) -> None:
    if not NGINX.exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    plan = dataclasses.replace(nginx_plan(_machine(tmp_path), 8443, 8080), listen="127.0.0.1")
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
    assert "syntax is ok" in done.stderr


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    machine = _machine(tmp_path)
    for unit in units(machine):
        path = tmp_path / unit.name
        path.write_text(render_unit(unit))
    paths = sorted(str(p) for p in tmp_path.glob("*.service"))
    assert len(paths) == len(PARTS)
    done = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60)
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "mosquitto" not in line or Path("/usr/sbin/mosquitto").exists()
    ]
    assert done.returncode == 0 and problems == [], "\n".join(problems)


def test_every_unit_is_sandboxed_restarted_and_owns_its_directory(tmp_path: Path) -> None:
    for unit in units(_machine(tmp_path)):
        text = render_unit(unit)
        user = f"farmtrace-{unit.part}"
        for line in (
            f"User={user}",
            f"StateDirectory={user}",
            f"ReadWritePaths=/var/lib/{user}",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "CapabilityBoundingSet=",
            "Restart=on-failure",
        ):
            assert f"\n{line}\n" in text, (unit.name, line)


def test_secrets_are_credentials_never_arguments(tmp_path: Path) -> None:
    by_part = {unit.part: unit for unit in units(_machine(tmp_path))}
    for part in ("gateway", "desk"):
        text = render_unit(by_part[part])
        assert (
            f"LoadCredential=mqtt-password:/etc/farmtrace/credentials/{part}-mqtt-password" in text
        )
        exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
        assert "password" not in exec_start
        assert ":" not in exec_start.split("mqtt://")[1].split("@")[0]


def test_the_site_never_takes_its_origin_from_requests(tmp_path: Path) -> None:
    by_part = {unit.part: unit for unit in units(_machine(tmp_path))}
    command = list(by_part["site"].command)
    assert command[command.index("--public-url") + 1] == "https://trace.test"
    assert command[command.index("--trusted-proxy") + 1] == "127.0.0.1"


def test_the_tiles_are_published_from_the_site_and_the_site_reads_them(tmp_path: Path) -> None:
    by_part = {unit.part: unit for unit in units(_machine(tmp_path))}
    site, tiles = list(by_part["site"].command), list(by_part["tiles"].command)
    assert site[site.index("--tiles-url") + 1] == "https://tiles.test/"
    assert tiles[1:] == [
        "tiles", "--url", "http://127.0.0.1:8000", "--trust", "/etc/farmtrace/trust.json",
        "--dir", "/var/lib/farmtrace-tiles/www", "--follow", "5",
    ]  # fmt: skip
    text = render_unit(by_part["tiles"])  # nginx's workers read what it writes
    assert "\nStateDirectoryMode=0755\n" in text and "\nUMask=0022\n" in text
    assert "\nUMask=0077\n" in render_unit(by_part["site"])
    given = _machine(tmp_path, tiles_url="https://cdn.example/farm")
    site = list(next(u for u in units(given) if u.part == "site").command)
    assert site[site.index("--tiles-url") + 1] == "https://cdn.example/farm"
    no_tiles_host = _machine(tmp_path, hosts={"site": "trace.test"})
    site = list(next(u for u in units(no_tiles_host) if u.part == "site").command)
    assert "--tiles-url" not in site
    edge = _machine(tmp_path, parts=("gateway", "tiles"), hosts={"tiles": "tiles.test"})
    tiles = list(next(u for u in units(edge) if u.part == "tiles").command)
    assert tiles[tiles.index("--url") + 1] == "http://127.0.0.1:8080"


def test_the_tiles_host_serves_files_and_proxies_nothing(tmp_path: Path) -> None:
    conf = server_blocks(nginx_plan(_machine(tmp_path)))
    server = next(b for b in conf.split("\nserver {") if "server_name tiles.test;" in b)
    assert "proxy_pass" not in server and "upstream farmtrace_tiles" not in conf
    assert server.count("root /var/lib/farmtrace-tiles/www;") == 2
    assert 'add_header Cache-Control "no-cache" always;' in server


def test_the_shipped_units_are_what_the_generator_writes(tmp_path: Path) -> None:
    machine = Machine(parts=PARTS)
    for unit in units(machine):
        shipped = ROOT / "deploy" / unit.name
        assert shipped.exists() and shipped.read_text() == render_unit(unit), (
            f"{shipped} is stale: run farmtrace deploy --out /tmp/x --part ... and copy "
            "systemd/*.service (docs/deploy.md)"
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"parts": ("site", "printer")}, "expected some of"),
        ({"parts": ("site",), "hosts": {"desk": "d.test"}}, "web parts run here"),
        ({"parts": ("site",), "hosts": {"site": "s.test"}, "tls_cert": None}, "--tls-cert"),
    ],
)
def test_bad_machines_are_refused(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _machine(tmp_path, **changes)


def test_the_command_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = make_pki(tmp_path, ["trace.test"])
    out = tmp_path / "out"
    argv = ["deploy", "--out", str(out), "--part", "site", "--part", "witness"]
    argv += ["--host", "site=trace.test", "--tls-cert", str(pki.cert), "--tls-key", str(pki.key)]
    assert main(argv) == 0
    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written) == [
        "farmtrace-site.service",
        "farmtrace-witness.service",
        "farmtrace.conf",
    ]
    conf = (out / "nginx" / "farmtrace.conf").read_text()
    assert "server_name trace.test;" in conf and "witness.test" not in conf
    assert main([*argv, "--host", "site"]) == 2
    assert "expected PART=NAME" in capsys.readouterr().err
    assert main(["deploy", "--out", str(out), "--part", "site", "--host", "site=x"]) == 2


def test_the_command_writes_the_tiles_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = make_pki(tmp_path, ["trace.test", "tiles.test"])
    out = tmp_path / "out"
    argv = ["deploy", "--out", str(out), "--part", "site", "--part", "tiles"]
    argv += ["--host", "site=trace.test", "--host", "tiles=tiles.test"]
    argv += ["--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--trust", "/etc/t.json"]
    assert main(argv) == 0
    written = sorted(Path(p).name for p in capsys.readouterr().out.split())
    assert written == ["farmtrace-site.service", "farmtrace-tiles.service", "farmtrace.conf"]
    site = (out / "systemd" / "farmtrace-site.service").read_text()
    assert "--tiles-url https://tiles.test/ " in site
    assert "--trust /etc/t.json " in (out / "systemd" / "farmtrace-tiles.service").read_text()
    assert "server_name tiles.test;" in (out / "nginx" / "farmtrace.conf").read_text()
