"""``farmtrace operator`` and ``farmtrace event``: a bird's whole story told from a terminal.

A real Mosquitto and a real gateway (in this process, with its read API on a
free port); every registration and event goes through the command line only.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gateway_harness import FARM, new_data_dir
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok, start_gateway

from chain.entries import Entry, parse_entry
from chain.keyfile import SignerKey, save_key
from chain.store import Store
from farmtrace import _cmd_event, _cmd_operator
from gateway.datadir import DataDir
from gateway.service import Gateway
from signer.identity import SEQ_FILE, DeviceIdentity
from signer.operator_events import EVENT_KINDS

Cli = Callable[..., tuple[int, str, str]]
GTIN = "09506000134352"
PACK = f"pack:{GTIN}.S0001"
OPERATORS = {  # id: role
    "hatchery": "hatchery",
    "farm-mgr": "farm",
    "vet": "vet",
    "plant": "plant",
    "dc-north": "distributor",
    "shop-12": "retailer",
}


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``farmtrace ARGS...`` with the operator and event commands (as cli.py registers them)."""
    parser = argparse.ArgumentParser(prog="farmtrace")
    commands = parser.add_subparsers(dest="command", required=True)
    _cmd_operator.add_parser(commands)
    _cmd_event.add_parser(commands)

    def run(*args: object) -> tuple[int, str, str]:
        try:
            parsed = parser.parse_args([str(a) for a in args])
            code = parsed.handler(parsed)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@dataclass
class Farm:
    """A gateway with its log, the admin's key and seq state, and the operators' keys."""

    root: Path
    data_dir: DataDir
    gateway: Gateway
    broker: Broker
    cli: Cli

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http_port}"

    def sending(self, signer: str) -> list[object]:
        return [
            "--key", self.root / f"{signer}.key", "--state-dir", self.root / "st" / signer,
            "--mqtt", self.broker.url, "--farm", FARM, "--timeout", 10,
        ]  # fmt: skip

    def admin(self, action: str, operator: str, *args: object) -> tuple[int, str, str]:
        return self.cli("operator", action, "--id", operator, *args, *self.sending("admin"))

    def register(self, *operators: str) -> None:
        for op in operators:
            key = SignerKey.generate(op)
            save_key(key, self.root / f"{op}.key")
            code, out, err = self.admin(
                "register", op, f"--pubkey={key.public_key_b64}", "--role", OPERATORS[op]
            )
            assert code == 0 and "committed" in out, err

    def event(self, signer: str, kind: str, *args: object) -> tuple[int, str, str]:
        checking = ["--check-url", self.api] if "--no-check" not in args else []
        return self.cli("event", kind, *checking, *self.sending(signer), *args)  # args win

    def record(self, signer: str, kind: str, *args: object) -> None:
        code, out, err = self.event(signer, kind, *args)
        assert code == 0 and "committed" in out, f"{kind}: {err}"

    def reserved(self, signer: str) -> int | None:
        """The signer's durable seq high-water mark (None: it never signed from this machine)."""
        path = self.root / "st" / signer / SEQ_FILE
        return json.loads(path.read_text())["reserved"] if path.exists() else None


@pytest.fixture
def farm(tmp_path: Path, broker: Broker, cli: Cli) -> Iterator[Farm]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    save_key(admin.key, tmp_path / "admin.key")
    with DeviceIdentity.create(tmp_path / "st" / "admin", admin.key) as identity:
        identity.next_seq()  # the genesis block holds the admin's seq 1
    gateway = start_gateway(data_dir, broker)
    yield Farm(tmp_path, data_dir, gateway, broker, cli)
    gateway.stop()


def log_events(data_dir: DataDir) -> list[tuple[int, Entry]]:
    with Store.open(data_dir.log) as store:
        return [(i, parse_entry(store.entry(i))) for i in store.event_indexes()]


def test_a_birds_whole_story_through_the_command_line(farm: Farm) -> None:
    farm.register(*OPERATORS)
    farm.record("hatchery", "hatched", "--bird", "0001", "--bird", "0002", "--breed", "Ross 308")
    farm.record("farm-mgr", "placed", "--bird", "0001", "--bird", "0002", "--barn", "b1")
    farm.record("vet", "vaccinated", "--bird", "0001", "--vaccine", "Newcastle", "--dose", "0.2ml")
    farm.record(
        "vet", "treated", "--bird", "0002", "--medicine", "Amoxicillin", "--withdrawal-days", "5"
    )
    farm.record("vet", "inspected", "--barn", "b1", "--result", "pass", "--note", "weekly check")
    farm.record("farm-mgr", "moved", "--bird", "0001", "--barn", "b2", "--from-barn", "b1")
    farm.record("vet", "inspected", "--bird", "0001", "--result", "pass")
    farm.record(
        "plant", "slaughtered", "--bird", "bird:0001", "--plant", "Riverside",
        "--output", "carcass:0001",
    )  # fmt: skip
    best_before = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    farm.record(
        "plant", "packed", "--carcass", "0001", "--gtin", GTIN, "--serial", "S0001",
        "--product", "Whole chicken", "--best-before", best_before,
    )  # fmt: skip
    farm.record("plant", "shipped", "--pack", f"{GTIN}.S0001", "--destination", "DC North")
    farm.record("dc-north", "received", "--pack", f"/01/{GTIN}/21/S0001", "--location", "DC")
    farm.record("shop-12", "recalled", "--pack", f"{GTIN}.S0001", "--reason", "cold chain break")
    farm.gateway.stop()

    events = log_events(farm.data_dir)
    told = [(entry.kid, entry.payload["event"]) for _, entry in events]
    assert told == [
        ("hatchery", "hatched"), ("farm-mgr", "placed"), ("vet", "vaccinated"),
        ("vet", "treated"), ("vet", "inspected"), ("farm-mgr", "moved"), ("vet", "inspected"),
        ("plant", "slaughtered"), ("plant", "packed"), ("plant", "shipped"),
        ("dc-north", "received"), ("shop-12", "recalled"),
    ]  # fmt: skip
    packed = next(e.payload for _, e in events if e.payload["event"] == "packed")
    assert (packed["product"], packed["best_before"]) == ("Whole chicken", best_before)
    treated = next(e.payload for _, e in events if e.payload["event"] == "treated")
    assert (treated["medicine"], treated["withdrawal_days"]) == ("Amoxicillin", 5)
    # Every operator's seqs are 1, 2, 3 ... with no gap: nothing refused used one.
    for op in OPERATORS:
        assert [e.seq for _, e in events if e.kid == op] == list(
            range(1, 1 + sum(e.kid == op for _, e in events))
        )
    audit_ok(farm.data_dir)  # every signature, every signer's authority, every lifecycle rule
    by_index = dict(events)
    with Store.open(farm.data_dir.log) as store:
        pack_events = [by_index[i].payload["event"] for i in store.subject_events(PACK)]
        assert pack_events == ["packed", "shipped", "received", "recalled"]
        packed = by_index[store.subject_events(PACK)[0]]
        assert tuple(packed.payload["subjects"]) == ("carcass:0001",)
        origin = [by_index[i] for i in store.subject_events("carcass:0001")]
        assert [e.payload["event"] for e in origin] == ["slaughtered", "packed"]
        assert tuple(origin[0].payload["subjects"]) == ("bird:0001",)


def _ref(log: str, index: int, subject: str) -> dict[str, object]:
    return {"log": log, "index": index, "hash": "ab" * 32, "size": 9, "root": "cd" * 32} | {
        "subject": subject
    }


def test_events_carry_references_to_other_logs_from_the_command_line(farm: Farm) -> None:
    farm.register("hatchery", "farm-mgr", "plant")
    farm.record("hatchery", "hatched", "--bird", "0001", "--breed", "Ross 308")
    hatch = _ref("hatchery.example/log", 4, "bird:0001")
    refs_file = farm.root / "refs.json"
    refs_file.write_text(json.dumps([hatch]))
    placement = _ref("farm-b.example/log", 17, "bird:0001")
    # Signed and sent; this gateway pins no other log (no --pins), so it refuses
    # both (tests/integration/test_gateway_ref_check.py has one that pins them).
    for signer, args in (
        ("farm-mgr", ["placed", "--bird", "0001", "--barn", "b1", "--refs-file", refs_file]),
        ("plant", ["slaughtered", "--bird", "0001", "--plant", "Riverside",
                   "--output", "carcass:0001", "--ref", json.dumps(placement)]),
    ):  # fmt: skip
        code, _, err = farm.event(signer, *args, "--timeout", 2)
        assert code == 1 and "ref_unknown_log (+1)" in err, err
    farm.gateway.stop()
    signed = {e.payload["event"]: e.payload for _, e in log_events(farm.data_dir)}
    assert list(signed) == ["hatched"] and "refs" not in signed["hatched"]
    # ... and keeps each whole in its dead-letter file, references as signed.
    lines = farm.data_dir.dead_letter.read_text().splitlines()
    refused = [parse_entry(base64.b64decode(json.loads(n)["payload_b64"])) for n in lines]
    assert [[dict(r) for r in e.payload["refs"]] for e in refused] == [[hatch], [placement]]
    audit_ok(farm.data_dir)


def test_the_check_refuses_before_signing_and_uses_no_seq(farm: Farm) -> None:
    farm.register("hatchery", "farm-mgr", "vet", "plant")
    farm.record("hatchery", "hatched", "--bird", "0001", "--bird", "0002", "--breed", "Ross 308")
    farm.record("plant", "slaughtered", "--bird", "0001", "--plant", "P", "--output", "carcass:1")
    plant_seq = farm.reserved("plant")

    code, _, err = farm.event("vet", "hatched", "--bird", "0003", "--breed", "Ross 308")
    assert code == 1 and "refused, nothing signed" in err
    assert "'vet' holds roles ['vet']; hatched events need one of ['farm', 'hatchery']" in err
    assert farm.reserved("vet") is None

    code, _, err = farm.event("plant", "packed", "--bird", "0002", "--gtin", GTIN, "--lot", "L1")
    assert code == 1 and "bird:0002 was never slaughtered" in err
    code, _, err = farm.event(
        "plant", "slaughtered", "--bird", "0001", "--plant", "P", "--output", "carcass:1b"
    )
    assert code == 1 and "bird:0001 was slaughtered in entry" in err
    code, _, err = farm.event("plant", "packed", "--carcass", "9", "--gtin", GTIN, "--serial", "S9")
    assert code == 1 and "carcass:9 was never produced by a slaughtered event" in err
    code, _, err = farm.event("farm-mgr", "moved", "--bird", "0002", "--barn", "b2")
    assert code == 1 and "bird:0002 was never placed in a barn" in err
    assert farm.reserved("plant") == plant_seq

    code, _, err = farm.admin("revoke", "vet")
    assert code == 0
    code, _, err = farm.event("vet", "inspected", "--barn", "b1", "--result", "pass")
    assert code == 1 and "'vet' was revoked at ts" in err
    assert farm.reserved("vet") is None
    save_key(SignerKey.generate("dc-north"), farm.root / "dc-north.key")
    code, _, err = farm.event("dc-north", "received", "--pack", f"{GTIN}.S1", "--location", "DC")
    assert code == 1 and "'dc-north' is not registered in the log" in err
    save_key(SignerKey.generate("plant"), farm.root / "impostor.key")
    code, _, err = farm.event(
        "plant", "died", "--bird", "0002", "--key", farm.root / "impostor.key"
    )
    assert code == 1 and "the key given is not the one registered for 'plant'" in err
    state = ["--state-dir", farm.root / "st" / "hatchery"]
    code, _, err = farm.event("farm-mgr", "placed", "--bird", "0002", "--barn", "b1", *state)
    assert code == 2 and "holds the state of 'hatchery', not of this key" in err


def test_the_gateway_refuses_what_an_unchecked_event_gets_wrong(farm: Farm) -> None:
    farm.register("hatchery", "vet")
    farm.record("hatchery", "hatched", "--bird", "0001", "--breed", "Ross 308")
    fast = ["--no-check", "--timeout", 1.5]

    code, _, err = farm.event(
        "vet",
        "hatched",
        "--bird",
        "0002",
        "--breed",
        "B",
        *fast,
        "--check-url",
        "http://127.0.0.1:1",
    )
    assert code == 1 and "hatched signed as vet seq 1 and sent, but no receipt" in err
    assert "counts what it rejects by reason in its /metrics" in err  # no --check-url: no counts
    code, _, err = farm.event(
        "hatchery", "hatched", "--bird", "0001", "--breed", "B", *fast, "--check-url", farm.api
    )
    assert code == 1 and "counted rejections meanwhile" in err and "lifecycle_conflict (+1)" in err
    farm.record("hatchery", "vaccinated", "--bird", "0001", "--vaccine", "HVT")  # past the gap
    farm.gateway.stop()
    told = [(e.kid, e.seq, e.payload["event"]) for _, e in log_events(farm.data_dir)]
    assert told == [("hatchery", 1, "hatched"), ("hatchery", 3, "vaccinated")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hatched", "--bird", "1"], "the following arguments are required: --breed"),
        (["hatched", "--breed", "Ross 308"], "subjects: at least one is required"),
        (["placed", "--bird", "1", "--barn", "no/slash"], "barn: expected"),
        (["inspected", "--bird", "1", "--result", "meh"], "invalid choice: 'meh'"),
        (["slaughtered", "--bird", "1", "--bird", "2", "--plant", "P", "--output", "carcass:1"],
         "exactly one subject in a slaughtered event"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "wing:1"],
         "outputs[0]: expected carcass:<id> or cut:<id>"),
        (["packed", "--carcass", "1", "--gtin", "09506000134353", "--serial", "S1"],
         "gtin: expected a GTIN-14 ending in its GS1 check digit 2"),
        (["packed", "--carcass", "1", "--gtin", "9506000134352", "--serial", "S1"],
         "gtin: expected a GTIN-14: 14 ASCII digits"),
        (["packed", "--carcass", "1", "--gtin", GTIN], "one of the arguments --serial --lot"),
        (["packed", "--carcass", "1", "--gtin", GTIN, "--serial", "S 1"], "serial: expected"),
        (["packed", "--carcass", "1", "--gtin", GTIN, "--lot", "L1", "--weight-g", "x"],
         "invalid int value"),
        (["shipped", "--pack", "/01/1/21/S1", "--destination", "D"],
         "--pack /01/1/21/S1: GTIN: expected 8, 12, 13 or 14 ASCII digits"),
        (["received", "--lot", f"/01/{GTIN}/21/S1", "--location", "L"], "names a pack"),
        (["recalled", "--subject", "pack", "--reason", "r"], "subjects[0]: expected <kind>:<id>"),
        (["died", "--bird", "1", "--ts", "2026-11-24T08:00:00"], "expected a time with its zone"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "carcass:1", "--ref",
          json.dumps(_ref("farm.example/log", 1, "bird:2"))],
         "refs[0].subject: expected one of the event's subjects bird:1"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "carcass:1", "--ref", "[1]"],
         "--ref: expected a JSON object"),
        (["died", "--bird", "1", "--ref", "{}"], "unrecognized arguments: --ref"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "carcass:1", "--ref-to",
          "farm.example/log=bird:1"], "--ref-to needs --pins"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "carcass:1", "--ref-to",
          "farm.example/log=bird:2", "--pins", "p.json"],
         "--ref-to farm.example/log=bird:2: bird:2 is not one of the event's subjects (bird:1)"),
        (["slaughtered", "--bird", "1", "--plant", "P", "--output", "carcass:1", "--ref-to",
          "bird:1", "--pins", "p.json"], "--ref-to: expected ORIGIN=SUBJECT, found 'bird:1'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_before_anything_is_read_or_signed(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    sending = ["--key", tmp_path / "k.key", "--state-dir", tmp_path / "st", "--farm", FARM]
    code, _, err = cli("event", *args, *sending, "--mqtt", "mqtt://127.0.0.1:1")
    assert code == 2 and message in err, err
    assert not (tmp_path / "st").exists()


def test_an_unreadable_log_stops_before_signing(cli: Cli, tmp_path: Path) -> None:
    save_key(SignerKey.generate("vet"), tmp_path / "vet.key")
    code, _, err = cli(
        "event", "inspected", "--barn", "b1", "--result", "pass", "--key", tmp_path / "vet.key",
        "--state-dir", tmp_path / "st", "--mqtt", "mqtt://127.0.0.1:1", "--farm", FARM,
        "--check-url", "http://127.0.0.1:1",
    )  # fmt: skip
    assert code == 2 and "cannot check the event against the log" in err
    assert "--no-check to sign without checking" in err
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS))
def test_every_kinds_help_teaches_with_an_example_that_parses(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    code, out, _ = cli("event", kind, "--help")
    assert code == 0 and "examples:" in out and "Exit status" in out
    example = out.split("examples:", 1)[1].replace("\\\n", " ")
    args = shlex.split(example)
    assert args[:3] == ["farmtrace", "event", kind]
    key = args.index("--key") + 1
    args[key] = str(tmp_path / "missing.key")  # gets as far as reading the key: input was valid
    code, _, err = cli(*args[1:])
    assert code == 2 and "missing.key" in err, err


def test_operator_help_and_bad_keys(cli: Cli, tmp_path: Path) -> None:
    for command in (["operator"], ["operator", "register"], ["operator", "revoke"], ["event"]):
        code, out, _ = cli(*command, "--help")
        assert code == 0 and "examples:" in out
    save_key(SignerKey.generate("vet"), tmp_path / "vet.key")
    (tmp_path / "vet.pub").write_text("pubkey  short\n")
    base = ["operator", "register", "--role", "vet", "--key", tmp_path / "admin.key"]
    base += ["--state-dir", tmp_path / "st", "--mqtt", "mqtt://127.0.0.1:1", "--farm", FARM]
    code, _, err = cli(*base, "--id", "vet", "--pubkey=short")
    assert code == 2 and "--pubkey: expected a base64url 32-byte Ed25519 key" in err
    code, _, err = cli(*base, "--id", "vet", "--pubkey-file", tmp_path / "vet.pub")
    assert code == 2 and "32-byte" in err
    code, _, err = cli(*base, "--id", "vet-2", "--pubkey-file", tmp_path / "vet.key")
    assert code == 2 and "holds the key of 'vet', not of 'vet-2'" in err
    code, _, err = cli(*base, "--id", "vet", "--pubkey-file", tmp_path / "vet.key")
    assert code == 2 and "admin.key" in err  # the pubkey was fine; the admin's key is missing
    code, _, err = cli(*base, "--id", "vet", "--pubkey-file", tmp_path / "vet.key", "--role", "x")
    assert code == 2 and "invalid choice: 'x'" in err
