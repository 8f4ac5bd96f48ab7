"""Verifying one block of a log through a read API, trusting only the pinned trust root.

:func:`verify_batch` asks a site (a gateway or a consumer_web replica) for a
block by its hash and for everything needed to check it, and checks it all
with :mod:`chain`: the checkpoint's signature, the header's hash, the entries
root, the block's inclusion in the checkpoint, the registrations of every
signer involved (each proven in the same checkpoint and authorised, back to
the trust root's administrators; their lists proven complete by the
checkpoint's registry line, :mod:`verify._registry`) and every entry's
signature and authority. Each step is a :class:`Check` in the :class:`BatchReport`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from chain import merkle
from chain.block import BlockHeader, verify_block_entries
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.entries import Entry, parse_entry, verify_entry
from chain.errors import FarmtraceError, ProofError, SourceError
from chain.proof_bundle import verify_entry_proof
from chain.registry import Registry
from chain.trust import TrustRoot
from readapi.client import FetchedBlock, ReadApiClient
from verify._registry import registry_history_problem

__all__ = ["CHECKS", "BatchReport", "Check", "SiteUnavailableError", "verify_batch"]

CHECKS = ("checkpoint", "block header", "entries root", "inclusion", "registrations", "signatures")
"""The checks of a report, in the order they run."""

_MAX_LISTED = 50
_T = TypeVar("_T")


class SiteUnavailableError(Exception):
    """The site could not be asked (unreachable, timed out, or a server error): no verdict."""


@dataclass(slots=True)
class Check:
    """One step: ``status`` is ``ok``, ``failed`` or ``skipped`` (an input it needs failed).

    ``expected``/``calculated`` hold the two values of a mismatch (hex hashes);
    ``problems`` lists what failed, one line per entry or registration.
    """

    name: str
    status: str
    message: str
    expected: str | None = None
    calculated: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BatchReport:
    """What :func:`verify_batch` found about one block at one site; ``ok`` if all passed."""

    url: str
    block_hash: str
    origin: str
    height: int | None = None
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check ran and passed."""
        return len(self.checks) == len(CHECKS) and all(c.status == "ok" for c in self.checks)

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it is not in the report)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_json(self) -> str:
        """The report as JSON (stable member names)."""
        return json.dumps(asdict(self) | {"ok": self.ok}, indent=2, sort_keys=True)

    def to_text(self) -> str:
        """The report for people: one line per check, then the result."""
        lines = [f"farmtrace verify-batch {self.block_hash}", f"  site        {self.url}"]
        lines.append(f"  log         {self.origin}")
        if self.checkpoint_size is not None:
            lines.append(f"  checkpoint  size {self.checkpoint_size}, root {self.checkpoint_root}")
        for check in self.checks:
            lines.append(f"  {check.status.upper():<7} {check.name:<14} {check.message}")
            if check.expected is not None or check.calculated is not None:
                lines.append(f"{'':<10}expected    {check.expected}")
                lines.append(f"{'':<10}calculated  {check.calculated}")
            lines.extend(f"{'':<10}{problem}" for problem in check.problems[:_MAX_LISTED])
            if len(check.problems) > _MAX_LISTED:
                more = len(check.problems) - _MAX_LISTED
                lines.append(f"{'':<10}... and {more} more (use --json)")
        if self.ok:
            lines.append(f"RESULT: OK: block {self.height} is in the log, signed as registered")
        else:
            failed = ", ".join(c.name for c in self.checks if c.status == "failed")
            lines.append(f"RESULT: FAILED: {failed}")
        return "\n".join(lines) + "\n"


def verify_batch(client: ReadApiClient, trust: TrustRoot, block_hash: str) -> BatchReport:
    """Verify the block whose hash is ``block_hash`` (64 lowercase hex) at ``client``'s site.

    A site that refuses a request (an HTTP 4xx: an unknown block, an unknown
    signer) or answers with something malformed fails the check that needed it.

    Raises:
        SiteUnavailableError: the site could not be reached, timed out, or
            answered with a server error (5xx); nothing can be said then.
    """
    return _Verifier(client, trust, block_hash).run()


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _at(index: int, exc: Exception) -> str:
    """``exc``'s message about entry ``index``, without repeating the index it may name."""
    prefix = f"entry {index}: "
    message = str(exc)
    return message[len(prefix) :] if message.startswith(prefix) else message


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


class _Verifier:
    def __init__(self, client: ReadApiClient, trust: TrustRoot, block_hash: str) -> None:
        self.client = client
        self.trust = trust
        self.report = BatchReport(client.base_url, block_hash, trust.origin)
        self.registry = Registry.from_trust_root(trust)

    def _fetch(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)``; SourceError if the site refused, SiteUnavailableError if it is down."""
        try:
            return call(*args)
        except SourceError as exc:
            if exc.reason == "unreachable" or (exc.status or 0) >= 500:
                raise SiteUnavailableError(str(exc)) from exc
            raise

    def _add(self, name: str, status: str, message: str, **details: Any) -> None:
        self.report.checks.append(Check(name, status, message, **details))

    def _skip_rest(self, why: str) -> BatchReport:
        for name in CHECKS[len(self.report.checks) :]:
            self._add(name, "skipped", why)
        return self.report

    def run(self) -> BatchReport:
        checkpoint = self._check_checkpoint()
        block = self._check_header()
        if block is None:
            return self._skip_rest("needs the block header")
        header, fetched = block
        self._check_entries_root(header, fetched)
        if checkpoint is None:
            return self._skip_rest("needs a verified checkpoint")
        if not self._check_inclusion(header, checkpoint):
            return self._skip_rest("needs the block's inclusion in the checkpoint")
        entries: dict[int, Entry] = {}
        malformed: list[str] = []
        for offset, raw in enumerate(fetched.entries):
            try:
                entries[header.first_index + offset] = parse_entry(raw)
            except FarmtraceError as exc:
                malformed.append(f"entry {header.first_index + offset}: {exc}")
        self._check_registrations(header, checkpoint, entries)
        self._check_signatures(entries, malformed)
        return self.report

    def _check_checkpoint(self) -> Checkpoint | None:
        try:
            checkpoint = open_checkpoint(self._fetch(self.client.checkpoint), self.trust.log_key)
        except FarmtraceError as exc:
            self._add(
                "checkpoint", "failed", str(exc), expected=f"a signature by {self.trust.log_key}"
            )
            return None
        self.report.checkpoint_size = checkpoint.size
        self.report.checkpoint_root = checkpoint.root_hash.hex()
        self._add("checkpoint", "ok", f"signed by the pinned log key of {self.trust.origin}")
        return checkpoint

    def _check_header(self) -> tuple[BlockHeader, FetchedBlock] | None:
        wanted = self.report.block_hash
        try:
            block = self._fetch(self.client.block_by_hash, wanted)
        except SourceError as exc:
            if exc.status == 404:
                message = f"the site has no block with this hash ({exc})"
            else:
                message = f"the site gave no valid block for this hash ({exc})"
            self._add("block header", "failed", message)
            return None
        self.report.height = block.height
        calculated = hashlib.sha256(block.header_raw).hexdigest()
        if calculated != wanted:
            message = "the header served does not hash to the block hash"
            self._add("block header", "failed", message, expected=wanted, calculated=calculated)
            return None
        try:
            header = BlockHeader.from_bytes(block.header_raw)
        except FarmtraceError as exc:
            self._add("block header", "failed", str(exc))
            return None
        expected = f"block {block.height} of {self.trust.origin}"
        found = f"block {header.height} of {header.log}"
        if found != expected:
            message = "the header is of another log or height"
            self._add("block header", "failed", message, expected=expected, calculated=found)
            return None
        last = header.next_index - 1
        message = (
            f"hashes to the block hash: block {header.height}, entries {header.first_index}..{last}"
        )
        self._add("block header", "ok", message)
        return header, block

    def _check_entries_root(self, header: BlockHeader, block: FetchedBlock) -> None:
        try:
            verify_block_entries(header, block.entries)
        except ProofError as exc:
            details = {"expected": _hex(exc.expected), "calculated": _hex(exc.calculated)}
            self._add("entries root", "failed", str(exc), **details)
            return
        entries = _count(header.count, "entry hashes", "entries hash")
        self._add("entries root", "ok", f"the {entries} to the header's entries_root")

    def _check_inclusion(self, header: BlockHeader, checkpoint: Checkpoint) -> bool:
        size = checkpoint.size
        if header.height >= size:
            message = f"block {header.height} is not covered by the checkpoint (size {size}) yet"
            self._add("inclusion", "failed", message + "; try again later")
            return False
        try:
            proof = self._fetch(self.client.inclusion, header.height, size)
            leaf = merkle.leaf_hash(header.raw)
            merkle.verify_inclusion(header.height, size, leaf, proof, checkpoint.root_hash)
        except ProofError as exc:
            details = {"expected": checkpoint.root_hash.hex(), "calculated": _hex(exc.calculated)}
            self._add("inclusion", "failed", str(exc), **details)
            return False
        except SourceError as exc:
            self._add("inclusion", "failed", f"the site gave no inclusion proof: {exc}")
            return False
        self._add("inclusion", "ok", f"the header is leaf {header.height} of the checkpoint's tree")
        return True

    def _check_registrations(
        self, header: BlockHeader, checkpoint: Checkpoint, entries: Mapping[int, Entry]
    ) -> None:
        """Fetch, prove and replay the grants of every signer the block needs, recursively."""
        problems: list[str] = []
        found: dict[int, Entry] = {}
        asked: set[str] = set()
        pending = sorted({entry.kid for entry in entries.values()}, reverse=True)
        while pending:
            signer = pending.pop()
            if signer in asked:
                continue
            asked.add(signer)
            try:
                body = self._fetch(self.client.signer, signer, checkpoint.size)
            except SourceError as exc:
                if exc.status != 404:  # a signer never registered fails its entries' signatures
                    problems.append(f"signer {signer!r}: {exc}")
                continue
            grants = body["grants"]
            incomplete = registry_history_problem(signer, body, checkpoint)
            if incomplete is not None:
                problems.append(incomplete)
            for grant in grants:
                index = grant.get("index")
                if type(index) is not int or index < 0:
                    problems.append(
                        f"signer {signer!r}: a grant without a valid index: {grant!r:.200}"
                    )
                elif index < header.next_index and index not in found:
                    entry = self._registration(signer, index, grant, checkpoint, problems)
                    if entry is not None:
                        found[index] = entry
                        pending.append(entry.kid)
        for index in sorted(found):  # replayed in log order, as an auditor does
            entry = found[index]
            try:
                verify_entry(entry, self.registry.authorize(entry, index))
                self.registry.apply(entry, index)
            except FarmtraceError as exc:
                problems.append(
                    f"registration entry {index} (signed by {entry.kid!r}): {_at(index, exc)}"
                )
        if problems:
            self._add("registrations", "failed", f"{len(problems)} failed", problems=problems)
            return
        message = (
            f"{_count(len(found), 'registration entry', 'registration entries')} of "
            f"{_count(len(asked), 'signer', 'signers')}, each in the checkpoint and "
            "signed by an authorised key"
        )
        self._add("registrations", "ok", message)

    def _registration(
        self,
        signer: str,
        index: int,
        grant: Mapping[str, Any],
        checkpoint: Checkpoint,
        problems: list[str],
    ) -> Entry | None:
        """Entry ``index``, proven in ``checkpoint``, if it registers or revokes ``signer``."""
        try:
            proof = self._fetch(self.client.entry_proof, index, checkpoint.size)
            if proof.index != index:
                raise ProofError(f"the site sent the proof of entry {proof.index}")
            proved = verify_entry_proof(proof, self.trust.log_key, origin=self.trust.origin)
            if proved.root_hash != checkpoint.root_hash:
                raise ProofError(
                    f"proven against a checkpoint of size {proved.size}, not the one of "
                    f"size {checkpoint.size}",
                    expected=checkpoint.root_hash,
                    calculated=proved.root_hash,
                )
            entry = parse_entry(proof.entry)
        except FarmtraceError as exc:
            problems.append(f"registration entry {index} of {signer!r}: {exc}")
            return None
        payload = entry.payload
        subject = payload.get("dev" if entry.type == "device" else "op")
        if entry.type not in ("device", "operator") or subject != signer:
            problems.append(f"entry {index} is not a registration of {signer!r}")
            return None
        says = {
            "kind": entry.type,
            "action": payload["action"],
            "pubkey": payload.get("pubkey"),
            "ts": entry.ts,
            "signer": entry.kid,
        }
        described = {name: grant.get(name) for name in says}
        if described != says:
            problems.append(f"the site describes entry {index} as {described}, it says {says}")
        return entry

    def _check_signatures(self, entries: Mapping[int, Entry], malformed: list[str]) -> None:
        problems = list(malformed)
        for index, entry in entries.items():
            try:
                verify_entry(entry, self.registry.authorize(entry, index))
            except FarmtraceError as exc:
                problems.append(f"entry {index}: {_at(index, exc)}")
        if problems:
            self._add("signatures", "failed", f"{len(problems)} failed", problems=problems)
            return
        signers = len({entry.kid for entry in entries.values()})
        count = _count(len(entries), "entry", "entries")
        message = f"{count} by {_count(signers, 'signer', 'signers')}, each signed as registered"
        self._add("signatures", "ok", message)
