"""``farmtrace event <kind> ...``: an operator records a lifecycle event from a terminal.

The event goes the one way every operator's event goes (the web form's too,
:mod:`signer.operator_events`): built from text and validated, checked
against the log, signed with the operator's key and seq, published, receipted.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from chain.crosslog import REFERABLE, Referrer
from chain.errors import (
    AuthorizationError,
    FarmtraceError,
    LifecycleError,
    MalformedError,
    StorageError,
    UnknownSignerError,
)
from chain.keyfile import load_key
from farmtrace._events import (
    DEFAULT_CHECK_URL,
    add_signer_options,
    error_text,
    now_ms,
    sending_route,
)
from farmtrace._exits import fail
from readapi.client import ReadApiClient
from readapi.crosslog import ReferenceUnavailableError, load_pins, reference_to
from signer.checked_events import LogUnavailableError, sign_checked_event
from signer.event_text import MEMBER_HELP, SUBJECT_HELP, refs_from_text, subject_from_option
from signer.operator_events import EVENT_KINDS, EventKind, draft_event
from signer.registration import Sent, receipt_text

__all__ = ["add_parser"]

_HELP = f"""\
Record a lifecycle event as an operator: sign it with your own key and seq,
send it to the farm's gateway over MQTT (--mqtt, --farm), or to a gateway
taking entries over HTTP (--submit-url: an operator-only log), and wait until
the gateway's receipt says it is committed in the log.

Before anything is signed, the event is validated (a bad member: exit 2) and
checked against the log (exit 1, and no seq is used, when the log says no):
  - your key is the one registered for your id, not revoked, and one of
    your roles may sign this kind of event;
  - the event fits the lifecycle the log records: a bird is hatched once,
    placed before it is moved, not slaughtered twice or after it died; only
    what a slaughter produced is packed; a pack is shipped before it is
    received, and not shipped once recalled; no event predates the latest
    one about the same item. (A slaughter inside a treatment's withdrawal
    period is not refused: the audit and the pack's page report it.)
The log is read from --check-url (default: the --submit-url gateway, else
{DEFAULT_CHECK_URL}: the gateway's read API on this machine; a consumer site
serves the same API). If it cannot
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
    "treated": (
        "vet",
        "--bird 0003 --medicine Amoxicillin --reason 'E. coli infection' --dose '15 mg/kg, 5 days' "
        "--withdrawal-days 1",
    ),
    "inspected": ("vet", '--barn b1 --result pass --note "weekly welfare check"'),
    "died": ("farm", '--bird 0002 --cause "heat stress"'),
    "slaughtered": ("plant", '--bird 0001 --plant "Riverside" --output carcass:0001'),
    "packed": (
        "plant",
        "--carcass 0001 --gtin 09506000134352 --serial S0001 --weight-g 1850 "
        "--product 'Whole chicken' --best-before 2026-01-19 --ts 2026-01-12T16:00:00Z",
    ),
    "shipped": ("plant", "--pack 09506000134352.S0001 --destination 'ColdChain DC North'"),
    "received": ("distributor", "--pack /01/09506000134352/21/S0001 --location 'DC North'"),
    "recalled": ("plant", "--pack 09506000134352.S0001 --reason 'cold chain break'"),
}
_SIGNER = (
    "--key {op}.key --state-dir st/{op} --mqtt mqtt://{op}:PW@127.0.0.1 --farm farm1 \\\n"
    "      --check-url http://127.0.0.1:8080"
)
_ANY_KINDS = ("bird", "carcass", "cut", "pack", "lot", "barn")


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
            help=SUBJECT_HELP[subject_kind],
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
            "help": MEMBER_HELP.get(member, "")
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
    if kind.name in REFERABLE:
        _add_refs_options(sub, kind)
    checking = sub.add_argument_group("checking against the log")
    checking.add_argument(
        "--check-url",
        help=f"a gateway's or site's read API (default: the --submit-url gateway, else "
        f"{DEFAULT_CHECK_URL})",
    )
    checking.add_argument(
        "--no-check", action="store_true", help="sign without checking against the log"
    )
    add_signer_options(sub, "the operator", submit=True)


def _add_refs_options(sub: argparse.ArgumentParser, kind: EventKind) -> None:
    refs = sub.add_argument_group(
        "entries of other logs it concerns (cross-log references, docs/supply-chain.md)",
        f"a {kind.name} event may reference: {', '.join(sorted(REFERABLE[kind.name]))}. "
        "--ref-to finds the latest such entry about SUBJECT in the log ORIGIN, as "
        "--pins pins it, and checks it before signing; --ref and --refs-file are "
        "only checked for their format here (the gateway checks them all).",
    )
    refs.add_argument(
        "--ref-to",
        action="append",
        default=[],
        metavar="ORIGIN=SUBJECT",
        help="reference the latest entry about SUBJECT (one of this event's subjects, "
        "e.g. bird:0001) in the log ORIGIN (repeatable; needs --pins)",
    )
    refs.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="the logs --ref-to may name, each pinned (docs/supply-chain.md section 4)",
    )
    refs.add_argument(
        "--ref", action="append", default=[], metavar="JSON", help=MEMBER_HELP["refs"]
    )
    refs.add_argument(
        "--refs-file", type=Path, metavar="FILE", help="a JSON list of such references"
    )


def _refs(args: argparse.Namespace) -> list[dict[str, object]]:
    path = getattr(args, "refs_file", None)
    return refs_from_text(getattr(args, "ref", []), None if path is None else path.read_bytes())


def _ref_to_specs(args: argparse.Namespace, subjects: list[str]) -> list[tuple[str, str]]:
    """``(origin, subject)`` of each ``--ref-to ORIGIN=SUBJECT``.

    Raises:
        ValueError: a malformed one, one without --pins, or one naming a
            subject the event does not list.
    """
    specs: list[str] = getattr(args, "ref_to", [])
    if specs and args.pins is None:
        raise ValueError("--ref-to needs --pins: the file pinning the logs it names")
    wanted = []
    for spec in specs:
        origin, _, subject = spec.rpartition("=")
        if not origin or not subject:
            raise ValueError(f"--ref-to: expected ORIGIN=SUBJECT, found {spec!r}")
        if subject not in subjects:
            listed = ", ".join(subjects) or "none"
            raise ValueError(
                f"--ref-to {spec}: {subject} is not one of the event's subjects ({listed})"
            )
        wanted.append((origin, subject))
    return wanted


def _refs_to(
    wanted: list[tuple[str, str]], pins_file: Path, referrer: Referrer
) -> list[dict[str, object]]:
    """The checked references to ``wanted`` ``(origin, subject)``s, each told to the operator.

    Raises:
        FarmtraceError: the pins file, or a reference (see
            :func:`readapi.crosslog.reference_to`).
    """
    pins = load_pins(pins_file)
    found = []
    for origin, subject in wanted:
        checked = reference_to(origin, subject, pins, referrer)
        party = pins.party(origin)
        who = origin if party is None else f"{party.name} ({origin})"
        vouch = ", ".join(checked.cosigners) or "no witnesses"
        print(
            f"references {who} entry {checked.ref.index}: its {checked.entry.payload['event']} "
            f"of {subject}, in its checkpoint of size {checked.ref.size} (cosigned by {vouch})"
        )
        found.append(checked.ref.to_json())
    return found


def _subjects(args: argparse.Namespace, kind: EventKind) -> list[str]:
    found = [
        subject_from_option(subject_kind, value)
        for subject_kind in kind.subject_kinds or _ANY_KINDS
        for value in getattr(args, f"subject_{subject_kind}")
    ]
    return found + list(getattr(args, "subject_any", []))


def _members(args: argparse.Namespace, kind: EventKind) -> dict[str, str]:
    values = {member: getattr(args, f"member_{member}") for member in kind.members}
    return {
        member: " ".join(value) if isinstance(value, list) else str(value)
        for member, value in values.items()
        if value is not None
    }


def run(args: argparse.Namespace) -> int:
    """Build, check, sign, send; see the exit status in the command's help."""
    command = f"event {args.event}"
    kind = EVENT_KINDS[args.event]
    ts = now_ms() if args.ts is None else args.ts
    try:
        subjects, members = _subjects(args, kind), _members(args, kind)
        refs = _refs(args)
        draft = draft_event(kind.name, subjects, members, ts, refs=refs)
        wanted = _ref_to_specs(args, subjects)
        key = load_key(args.key)
        url, farm = sending_route(args)
    except (ValueError, OSError, MalformedError) as exc:
        return fail(command, error_text(exc), 2)
    try:  # after the input's checks: this asks the other logs
        if wanted:
            checked = _refs_to(wanted, args.pins, Referrer(kind.name, tuple(subjects), ts))
            draft = draft_event(kind.name, subjects, members, ts, refs=refs + checked)
    except (ValueError, MalformedError, StorageError, ReferenceUnavailableError) as exc:
        return fail(command, error_text(exc), 2)
    except FarmtraceError as exc:  # a reference that does not hold, or nothing to name
        return fail(command, f"refused, nothing signed: {exc}", 1)
    check_url = args.check_url or (DEFAULT_CHECK_URL if farm else str(url))
    log = None if args.no_check else ReadApiClient(check_url)
    try:
        recorded = sign_checked_event(
            draft,
            key,
            args.state_dir,
            url,
            farm,
            log=log,
            metrics_url=check_url,
            timeout=args.timeout,
            say=print,
        )
    except (AuthorizationError, UnknownSignerError, LifecycleError) as exc:
        return fail(command, f"refused, nothing signed: {exc}", 1)
    except LogUnavailableError as exc:
        return fail(
            command,
            f"cannot check the event against the log: {exc}\n  give --check-url with the "
            "read API of the gateway or a site, or --no-check to sign without checking",
            2,
        )
    except (TimeoutError, PermissionError) as exc:
        return fail(command, str(exc), 1)
    except (OSError, FarmtraceError) as exc:
        return fail(command, error_text(exc), 2)
    print(f"signed seq {recorded.seq}")
    print(receipt_text(Sent(recorded.seq, recorded.receipt), key.id))
    return 0
