"""``farmtrace event <kind> ...``: an operator records a lifecycle event from a terminal.

The event goes the one way every operator's event goes (the web form's too,
:mod:`signer.operator_events`): built from text and validated, checked
against the log, signed with the operator's key and seq, published, receipted.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from chain.errors import (
    AuthorizationError,
    FarmtraceError,
    GS1Error,
    LifecycleError,
    MalformedError,
    SourceError,
    UnknownSignerError,
)
from chain.gs1 import pack_subject, parse_digital_link_path
from chain.keyfile import load_key
from farmtrace._events import (
    DEFAULT_CHECK_URL,
    add_signer_options,
    error_text,
    fail,
    now_ms,
    operator_grant,
    print_receipt,
    rejections,
    rejections_text,
)
from readapi.client import ReadApiClient
from signer.mqtt_url import parse_mqtt_url
from signer.operator_events import EVENT_KINDS, EventDraft, EventKind, draft_event, precheck
from signer.operator_events import record_event as send_event
from signer.transport import operator_identity

__all__ = ["add_parser"]

_HELP = f"""\
Record a lifecycle event as an operator: sign it with your own key and seq,
send it to the farm's gateway over MQTT and wait until the gateway's receipt
says it is committed in the log.

Before anything is signed, the event is validated (a bad member: exit 2) and
checked against the log (exit 1, and no seq is used, when the log says no):
  - your key is the one registered for your id, not revoked, and one of
    your roles may sign this kind of event;
  - the event fits the lifecycle the log records: a bird is hatched once,
    placed before it is moved, not slaughtered twice or after it died; only
    what a slaughter produced is packed; a pack is shipped before it is
    received, and not shipped once recalled; no event predates the latest
    one about the same item.
The log is read from --check-url (default {DEFAULT_CHECK_URL}: the gateway's
read API on this machine; a consumer site serves the same API). If it cannot
be read, nothing is signed (exit 2). --no-check signs without asking; the
gateway judges every event by the same rules and refuses what breaks them.

Exit status: 0 committed; 1 refused by the check, or no receipt in time (the
gateway may have rejected the event: the message says what its /metrics
counted); 2 bad usage or input, an unreadable key or state, no log to check.
"""

_EXAMPLES = {  # kind: (who signs it, its options)
    "hatched": ("hatchery", '--bird 0001 --bird 0002 --breed "Ross 308" --hatchery "Sunrise"'),
    "placed": ("farm", "--bird 0001 --bird 0002 --barn b1"),
    "moved": ("farm", "--bird 0002 --barn b2 --from-barn b1"),
    "vaccinated": ("vet", '--bird 0001 --bird 0002 --vaccine "Newcastle disease" --dose 0.2ml'),
    "inspected": ("vet", '--barn b1 --result pass --note "weekly welfare check"'),
    "died": ("farm", '--bird 0002 --cause "heat stress"'),
    "slaughtered": ("plant", '--bird 0001 --plant "Riverside" --output carcass:0001'),
    "packed": ("plant", "--carcass 0001 --gtin 09506000134352 --serial S0001 --weight-g 1850"),
    "shipped": ("plant", "--pack 09506000134352.S0001 --destination 'ColdChain DC North'"),
    "received": ("distributor", "--pack /01/09506000134352/21/S0001 --location 'DC North'"),
    "recalled": ("plant", "--pack 09506000134352.S0001 --reason 'cold chain break'"),
}
_SIGNER = (
    "--key {op}.key --state-dir st/{op} --mqtt mqtt://{op}:PW@127.0.0.1 --farm farm1 \\\n"
    "      --check-url http://127.0.0.1:8080"
)
_ANY_KINDS = ("bird", "carcass", "cut", "pack", "lot", "barn")
_SUBJECT_HELP = {
    "bird": "a bird's tag id, e.g. 0001",
    "barn": "a barn id, e.g. b1",
    "carcass": "a carcass id a slaughter produced, e.g. 0001",
    "cut": "a cut id a slaughter produced",
    "pack": "GTIN.SERIAL, or its GS1 Digital Link /01/GTIN/21/SERIAL",
    "lot": "GTIN.LOT, or its GS1 Digital Link /01/GTIN/10/LOT",
}
_MEMBER_HELP = {
    "breed": "the breed, e.g. 'Ross 308'",
    "hatchery": "the hatchery's name",
    "parent_flock": "the parent flock, e.g. PF-2025-17",
    "barn": "the barn id, e.g. b1",
    "from_barn": "the barn it leaves (checked against the log)",
    "vaccine": "the vaccine, e.g. 'Marek's disease (HVT)'",
    "dose": "the dose, e.g. 0.2ml",
    "result": "pass or fail",
    "note": "what was found",
    "cause": "the cause of death",
    "plant": "the processing plant's name",
    "outputs": "what the slaughter produces: carcass:<id> or cut:<id> (repeatable)",
    "gtin": "the GTIN-14: 14 digits ending in the GS1 check digit (pad a GTIN-13 with a 0)",
    "serial": "the pack's serial (GS1 AI 21): 1-20 of A-Z a-z 0-9 . _ -",
    "lot": "the lot (GS1 AI 10), for several items packed as one lot",
    "weight_g": "the packed weight in grams",
    "destination": "where it goes",
    "source": "where it leaves from",
    "location": "where it arrived",
    "reason": "why it is recalled (shown on the consumer pages)",
}


def add_parser(commands: Any) -> None:
    """Register the ``event`` subcommand group, one subcommand per event kind."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = commands.add_parser(
        "event",
        help="record a lifecycle event (hatched ... recalled) as an operator",
        description=_HELP,
        epilog="examples:\n"
        + "\n".join(_example(name) for name in ("hatched", "packed"))
        + "\n\nRun 'farmtrace event KIND --help' for a kind's options and an example.",
        formatter_class=fmt,
    )
    kinds = parser.add_subparsers(dest="event", metavar="KIND", required=True)
    for kind in EVENT_KINDS.values():
        sub = kinds.add_parser(
            kind.name,
            help=f"signed by {' or '.join(sorted(kind.roles))}",
            description=_kind_help(kind),
            epilog="examples:\n" + _example(kind.name),
            formatter_class=fmt,
        )
        _add_kind_options(sub, kind)
        sub.set_defaults(handler=run)


def _example(name: str) -> str:
    signer, options = _EXAMPLES[name]
    return f"  farmtrace event {name} {options} \\\n      {_SIGNER.format(op=signer)}"


def _kind_help(kind: EventKind) -> str:
    kinds = ", ".join(f"{k}:<id>" for k in kind.subject_kinds) or "any subject"
    many = "exactly one subject" if kind.one_subject else "one or more subjects"
    text = (
        f"Record a '{kind.name}' event: {many} ({kinds}), signed by an operator with the "
        f"role {' or '.join(sorted(kind.roles))}."
    )
    if kind.exactly_one:
        text += f" Give exactly one of {' and '.join('--' + m for m in kind.exactly_one)}."
    return textwrap.fill(text, 76) + "\n\n" + _HELP.split("\n\n", 1)[1]


def _option(member: str, kind: EventKind) -> str:
    name = member[:-1] if member in kind.lists and member.endswith("s") else member
    return "--" + name.replace("_", "-")


def _add_kind_options(sub: argparse.ArgumentParser, kind: EventKind) -> None:
    subjects = sub.add_argument_group("subjects (repeatable)")
    for subject_kind in kind.subject_kinds or _ANY_KINDS:
        subjects.add_argument(
            f"--{subject_kind}",
            action="append",
            default=[],
            dest=f"subject_{subject_kind}",
            metavar="ID",
            help=_SUBJECT_HELP[subject_kind],
        )
    if not kind.subject_kinds:
        subjects.add_argument(
            "--subject",
            action="append",
            default=[],
            dest="subject_any",
            metavar="KIND:ID",
            help="any other subject, as KIND:ID",
        )
    members = sub.add_argument_group(f"what the {kind.name} event says")
    exclusive = members.add_mutually_exclusive_group(required=True) if kind.exactly_one else None
    for member in kind.members:
        where: Any = exclusive if member in kind.exactly_one else members
        options: dict[str, Any] = {
            "dest": f"member_{member}",
            "metavar": member.upper(),
            "help": _MEMBER_HELP.get(member, "")
            + (" (required)" if member in kind.required else ""),
        }
        if member in kind.lists:
            options |= {"action": "append", "metavar": "KIND:ID"}
        if member in kind.integers:
            options |= {"type": int, "metavar": "N"}
        if member in kind.choices:
            options |= {"choices": kind.choices[member]}
        if member in kind.required:
            options |= {"required": True}
        where.add_argument(_option(member, kind), **options)
    checking = sub.add_argument_group("checking against the log")
    checking.add_argument(
        "--check-url",
        default=DEFAULT_CHECK_URL,
        help=f"a gateway's or site's read API (default {DEFAULT_CHECK_URL})",
    )
    checking.add_argument(
        "--no-check", action="store_true", help="sign without checking against the log"
    )
    add_signer_options(sub, "the operator")


def _subjects(args: argparse.Namespace, kind: EventKind) -> list[str]:
    found: list[str] = []
    for subject_kind in kind.subject_kinds or _ANY_KINDS:
        for value in getattr(args, f"subject_{subject_kind}"):
            found.append(_subject(subject_kind, value))
    found.extend(getattr(args, "subject_any", []))
    return found


def _subject(kind: str, value: str) -> str:
    """``kind:value``; a pack or lot may also be given as its GS1 Digital Link."""
    if kind in ("pack", "lot") and "/01/" in value:
        try:
            link = parse_digital_link_path(value[value.index("/01/") :])
        except GS1Error as exc:
            raise GS1Error(f"--{kind} {value}: {exc}") from exc
        subject = pack_subject(link)
        if not subject.startswith(kind + ":"):
            raise GS1Error(f"--{kind} {value}: that Digital Link names a {subject.split(':')[0]}")
        return subject
    prefix = kind + ":"
    return value if value.startswith(prefix) else prefix + value


def _members(args: argparse.Namespace, kind: EventKind) -> dict[str, str]:
    members: dict[str, str] = {}
    for member in kind.members:
        value = getattr(args, f"member_{member}")
        if value is None:
            continue
        members[member] = " ".join(value) if isinstance(value, list) else str(value)
    return members


def run(args: argparse.Namespace) -> int:
    """Build, check, sign, send; see the exit status in the command's help."""
    command = f"event {args.event}"
    kind = EVENT_KINDS[args.event]
    ts = now_ms() if args.ts is None else args.ts
    try:
        draft = draft_event(kind.name, _subjects(args, kind), _members(args, kind), ts)
        key = load_key(args.key)
        url = parse_mqtt_url(args.mqtt)
    except (ValueError, OSError, MalformedError) as exc:
        return fail(command, error_text(exc), 2)
    check_url = None if args.no_check else args.check_url
    if check_url is not None:
        try:
            _check(draft, ReadApiClient(check_url), key.id, key.public_key)
        except (AuthorizationError, UnknownSignerError, LifecycleError) as exc:
            return fail(command, f"refused, nothing signed: {exc}", 1)
        except (SourceError, MalformedError) as exc:
            return fail(
                command,
                f"cannot check the event against the log: {exc}\n  give --check-url with the "
                "read API of the gateway or a site, or --no-check to sign without checking",
                2,
            )
    before = rejections(args.check_url)  # to tell, if no receipt comes, what it rejected
    try:
        identity = operator_identity(args.state_dir, key)
    except (OSError, FarmtraceError) as exc:
        return fail(command, error_text(exc), 2)
    with identity:
        print(f"signing {_describe(draft)} as {key.id}")
        try:
            recorded = send_event(identity, draft, url, args.farm, timeout=args.timeout)
        except FarmtraceError as exc:  # nothing sent: the seq state could not be written
            return fail(command, error_text(exc), 2)
        except TimeoutError as exc:  # NoReceiptError: the seq is used
            why = rejections_text(before, rejections(args.check_url))
            return fail(command, f"{exc}. {why}", 1)
        except PermissionError as exc:
            return fail(command, str(exc), 1)
    print(f"signed seq {recorded.seq}")
    print_receipt(recorded.receipt, recorded.seq, key.id)
    return 0


def _check(draft: EventDraft, client: ReadApiClient, signer: str, public_key: bytes) -> None:
    """Raise unless the log lets ``signer`` (with ``public_key``) record ``draft`` now."""
    grant = operator_grant(client, signer, draft.ts, public_key)
    precheck(draft, signer, client.subject_events, roles=grant.roles)


def _describe(draft: EventDraft) -> str:
    shown = ", ".join(draft.subjects[:3]) + (" ..." if len(draft.subjects) > 3 else "")
    return f"{draft.event} event of {len(draft.subjects)} subject(s) ({shown})"
