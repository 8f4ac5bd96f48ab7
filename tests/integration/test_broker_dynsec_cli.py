"""``farmtrace broker config`` never drops a login: the shrinking-password-file trap (issue 12).

Rerun on the demo's broker directory (which has no credentials.json), the
command used to write a password file of two users and a config without
``user root``: a SIGHUP then locked every device out. It now refuses such a
directory, keeps ``user``, and with ``--dynsec`` only ever adds logins.
"""

from __future__ import annotations

import json
from pathlib import Path

from mqtt_broker import Probe, free_port
from test_broker_cli import Cli, credentials, run_as
from test_broker_cli import broker_cli as broker_cli  # the fixture

from gateway.broker_accounts import BrokerAccounts, BrokerAdmin
from gateway.dynsec_file import DYNSEC_FILE
from gateway.mosquitto import MosquittoProcess

BASE = ("config", "--farm", "f1")


def _logins(out: Path) -> set[str]:
    return {c["username"] for c in json.loads((out / DYNSEC_FILE).read_text())["clients"]}


def test_a_directory_with_logins_but_no_credentials_is_refused_untouched(
    broker_cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "demo-broker"
    out.mkdir()
    (out / "passwd").write_text("".join(f"dev{i}:$7$101$x$y\n" for i in range(116)))
    (out / "mosquitto.conf").write_text("user root\n")
    code, _, err = broker_cli(*BASE, "--out", out, "--device", "b1-temp")
    assert code == 2 and "no credentials.json" in err
    assert len((out / "passwd").read_text().splitlines()) == 116
    assert (out / "mosquitto.conf").read_text() == "user root\n"


def test_a_rerun_keeps_the_user_mosquitto_runs_as(broker_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "broker"
    assert broker_cli(*BASE, "--out", out, "--run-as", "root")[0] == 0
    assert broker_cli(*BASE, "--out", out, "--device", "b1-temp")[0] == 0
    assert "\nuser root\n" in (out / "mosquitto.conf").read_text()


def test_dynsec_reruns_only_add_logins_and_the_broker_accepts_them(
    broker_cli: Cli, tmp_path: Path
) -> None:
    out, port = tmp_path / "broker", free_port()
    port_option = ("--port", port)  # on every run: a rerun resets the options it is not given
    code, stdout, err = broker_cli(
        *BASE, *port_option, "--out", out, "--dynsec", *run_as(), "--device", "b1-temp"
    )
    assert code == 0, err
    assert DYNSEC_FILE in stdout and not (out / "passwd").exists()
    assert _logins(out) == {"gateway", "broker-admin", "b1-temp"}
    assert (
        broker_cli(*BASE, *port_option, "--out", out, "--device", "b2-hum")[0] == 2
    )  # needs --dynsec
    code, _, err = broker_cli(*BASE, *port_option, "--out", out, "--dynsec", "--remove", "b1-temp")
    assert code == 2 and "device retire" in err
    assert broker_cli(*BASE, *port_option, "--out", out, "--dynsec", "--device", "b2-hum")[0] == 0
    assert _logins(out) == {"gateway", "broker-admin", "b1-temp", "b2-hum"}

    passwords = credentials(out)["passwords"]
    assert isinstance(passwords, dict)
    broker = MosquittoProcess(out / "mosquitto.conf", port=port, log=tmp_path / "mosquitto.log")
    broker.start()
    try:
        admin = BrokerAdmin("127.0.0.1", port, "broker-admin", passwords["broker-admin"])
        with BrokerAccounts(admin, "f1") as accounts:
            assert accounts.exists("b2-hum") and not accounts.exists("b3-water")
        probe = Probe(broker)
        try:
            assert not probe.connect("b2-hum", passwords["b2-hum"]).is_failure
        finally:
            probe.close()
    finally:
        broker.stop()
