"""The read API's endpoints (design.md section 5), as a blueprint over one log.

``/checkpoint`` serves the source's published checkpoint (see
:class:`readapi.LogSource`: on a gateway with witnesses, the newest one
enough witnesses cosigned), and proofs default to its size (an entry it does
not cover yet is proven against the latest signed checkpoint). Proofs may be
asked for any size up to the latest signed checkpoint, never beyond: an
unsigned tree head proves nothing. Blocks are served as soon as they are
committed. What a height or a fixed tree size names never changes, so it is
cacheable for good, except that a checkpoint note may still gain witness
cosignatures; what follows the latest checkpoint must be revalidated. A
block hash names one block for good; a signer's grants and a subject's
events may grow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from chain.entries import parse_entry
from chain.jws import ID_PATTERN
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from readapi._cors import allow_any_origin
from readapi._registry_proof import RegistryProofs
from readapi._source import LogSource, published_checkpoint, source_admins

__all__ = ["create_read_api"]

_IMMUTABLE = "public, max-age=31536000, immutable"
_LIVE = "no-cache"
# An entry proof at a fixed size may still gain witness cosignatures on its note.
_COSIGNABLE = "public, max-age=60"

_UINT = re.compile(r"0|[1-9][0-9]{0,18}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(ID_PATTERN)
# The pattern of an event payload's subjects (chain._payloads), e.g. bird:0001.
_SUBJECT = re.compile(rf"[a-z][a-z0-9_]{{0,31}}:{ID_PATTERN}")


def _uint(text: str | None, what: str) -> int:
    if text is None:
        abort(400, f"missing parameter {what}")
    if not _UINT.fullmatch(text):
        found = text[:40]
        abort(400, f"{what} must be a non-negative decimal integer (at most 19 digits): {found!r}")
    return int(text)


def _optional_uint(name: str) -> int | None:
    text = request.args.get(name)
    return None if text is None else _uint(text, name)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _cached(response: Response, policy: str) -> Response:
    response.headers["Cache-Control"] = policy
    return response


def _block_body(store: Store, height: int) -> dict[str, object]:
    """The JSON body of block ``height`` (KeyError if there is no such block)."""
    raw = store.block_raw(height)
    entries = store.block_entries(height)
    return {
        "hash": hashlib.sha256(raw).hexdigest(),
        "header": json.loads(raw),
        "header_b64": _b64(raw),
        "entries": [e.decode("ascii") for e in entries],
    }


def _grants(store: Store, signer: str) -> list[dict[str, Any]]:
    """Every registration and revocation of ``signer``, in log order.

    The store indexes each registration under the subject ``device:<id>`` or
    ``operator:<id>``; an event about such a subject is indexed there too, so
    only registrations of ``signer`` itself are kept.
    """
    indexes = {
        index
        for kind in ("device", "operator")
        for index in store.subject_entries(f"{kind}:{signer}")
    }
    grants: list[dict[str, Any]] = []
    for index in sorted(indexes):
        entry = parse_entry(store.entry(index))
        payload = entry.payload
        if entry.type not in ("device", "operator"):
            continue
        if payload["dev" if entry.type == "device" else "op"] != signer:
            continue
        grants.append(
            {
                "index": index,
                "kind": entry.type,
                "action": payload["action"],
                "pubkey": payload.get("pubkey"),
                "ts": entry.ts,
                "signer": entry.kid,
                "entry": entry.raw.decode("ascii"),
            }
        )
    return grants


def create_read_api(source: LogSource, name: str = "readapi") -> Blueprint:
    """Return a blueprint serving the log of ``source`` at ``/checkpoint`` and ``/api/v1/``.

    Its answers may be read from any origin (:mod:`readapi._cors`).

    Pair it with :func:`readapi.install_json_errors` on the app, so that
    unknown routes and wrong methods under the API also answer in JSON.
    """
    api = Blueprint(name, __name__)
    allow_any_origin(api)
    registry_proofs = RegistryProofs()

    def published() -> tuple[int, str]:
        found = published_checkpoint(source)
        if found is None:
            abort(404, "the log has no checkpoint yet")
        return found

    def newest_size() -> int:
        latest = source.store.latest_checkpoint()
        if latest is None:
            abort(404, "the log has no checkpoint yet")
        return latest[0]

    def tree_size(name: str, given: int | None) -> int:
        """``given`` (default: the published checkpoint's size) if a signed checkpoint covers it."""
        if given is None:
            return published()[0]
        latest = newest_size()
        if given > latest:
            abort(400, f"{name} {given} is beyond the latest checkpoint (size {latest})")
        return given

    @api.get("/checkpoint")
    def checkpoint() -> Response:
        response = Response(published()[1], mimetype="text/plain")
        return _cached(response, _LIVE)

    @api.get("/api/v1/log")
    def log() -> Response:
        body: dict[str, object] = {
            "origin": source.origin,
            "vkey": source.verifier_key,
            "witnesses": list(source.witnesses),
        }
        admins = source_admins(source)
        if admins:
            body["admins"] = {admin: _b64url(key) for admin, key in admins}
        return _cached(jsonify(body), _LIVE)

    @api.get("/api/v1/blocks/<height>")
    def block(height: str) -> Response:
        number = _uint(height, "height")
        store = source.store
        try:
            body = _block_body(store, number)
        except KeyError:
            abort(404, f"no block {number} (the log has {store.size} blocks)")
        return _cached(jsonify(body), _IMMUTABLE)

    @api.get("/api/v1/batches/<block_hash>")
    def batch(block_hash: str) -> Response:
        if not _HEX64.fullmatch(block_hash):
            found = block_hash[:80]
            abort(400, f"block hash must be 64 lowercase hex digits: {found!r}")
        store = source.store
        try:
            height = store.height_of(block_hash)
            body = _block_body(store, height)
        except KeyError:
            abort(404, f"no block with hash {block_hash} (the log has {store.size} blocks)")
        body["height"] = height
        return _cached(jsonify(body), _IMMUTABLE)

    @api.get("/api/v1/signers/<signer>")
    def signer(signer: str) -> Response:
        """Its grants and its registry proof (docs/registry-commitment.md).

        Without ``tree_size``: every grant so far, and the proof at the
        published checkpoint (whose blocks hold ``entry_count`` entries);
        with it: the grants in the tree of that size, and the proof there.
        """
        if not _ID.fullmatch(signer):
            found = signer[:80]
            abort(400, f"signer id must match {ID_PATTERN}: {found!r}")
        given = _optional_uint("tree_size")
        grants = _grants(source.store, signer)
        if given is not None:
            size = tree_size("tree_size", given)
        else:
            published_now = published_checkpoint(source)
            size = 0 if published_now is None or not grants else published_now[0]
        proof = None if size == 0 else registry_proofs.proof(source.store, signer, size)
        if given is not None:
            limit = 0 if proof is None else proof.entry_count
            grants = [g for g in grants if g["index"] < limit]
        if not grants:
            where = "this log" if given is None else f"the tree of size {given}"
            abort(404, f"signer {signer!r} was never registered in {where}")
        body = {
            "id": signer,
            "grants": grants,
            "registry_proof": None if proof is None else proof.to_json(),
        }
        return _cached(jsonify(body), _LIVE if given is None else _IMMUTABLE)

    @api.get("/api/v1/subjects/<subject>/events")
    def subject_events(subject: str) -> Response:
        """The committed events about ``subject`` (derived subjects too), in log order."""
        if not _SUBJECT.fullmatch(subject):
            found = subject[:80]
            abort(400, f"subject must be <kind>:<id> as in events, e.g. bird:0001: {found!r}")
        store = source.store
        events = [
            {"index": index, "entry": store.entry(index).decode("ascii")}
            for index in store.subject_events(subject)
        ]
        return _cached(jsonify({"subject": subject, "events": events}), _LIVE)

    @api.get("/api/v1/blocks/<height>/inclusion")
    def inclusion(height: str) -> Response:
        number = _uint(height, "height")
        given = _optional_uint("tree_size")
        size = tree_size("tree_size", given)
        if number >= size:
            if number >= source.store.size:
                abort(404, f"no block {number} (the log has {source.store.size} blocks)")
            abort(400, f"block {number} is not in the tree of size {size}")
        hashes = source.store.inclusion_proof(number, size)
        body = {"leaf_index": number, "tree_size": size, "hashes": [_b64(h) for h in hashes]}
        return _cached(jsonify(body), _LIVE if given is None else _IMMUTABLE)

    @api.get("/api/v1/consistency")
    def consistency() -> Response:
        first = _uint(request.args.get("first"), "first")
        second = tree_size("second", _uint(request.args.get("second"), "second"))
        if first > second:
            abort(400, f"first ({first}) must not exceed second ({second})")
        hashes = [] if first in (0, second) else source.store.consistency_proof(first, second)
        return _cached(jsonify({"hashes": [_b64(h) for h in hashes]}), _IMMUTABLE)

    @api.get("/api/v1/entries/<index>/proof")
    def entry_proof(index: str) -> Response:
        number = _uint(index, "index")
        given = _optional_uint("tree_size")
        size = tree_size("tree_size", given)
        if given is None:
            try:  # an entry newer than the published checkpoint: the newest signed one
                if source.store.block_of_entry(number) >= size:
                    size = newest_size()
            except KeyError:
                pass  # no such entry: build_entry_proof says so
        try:
            proof = build_entry_proof(source.store, number, size)
        except KeyError as exc:
            abort(404, str(exc.args[0]))
        response = Response(proof.to_json(), mimetype="application/json")
        return _cached(response, _LIVE if given is None else _COSIGNABLE)

    @api.get("/api/v1/refs/<origin_hash>/checkpoints/<size>")
    def ref_checkpoint(origin_hash: str, size: str) -> Response:
        """The other log's cosigned checkpoint note a cross-log reference was checked against.

        ``origin_hash``: hex SHA-256 of that log's origin (docs/supply-chain.md section 3).
        Only the log's own gateway keeps them: any other source (a replica, a
        site) answers 501, so that "none kept" (404) is the log's own word.
        """
        if not getattr(source, "keeps_ref_checkpoints", False):
            abort(
                501,
                "this source is not the log's gateway and keeps no reference checkpoints: "
                "ask the log's own gateway",
            )
        if not _HEX64.fullmatch(origin_hash):
            found = origin_hash[:80]
            abort(400, f"origin hash must be 64 lowercase hex digits (SHA-256): {found!r}")
        number = _uint(size, "size")
        note = source.store.ref_checkpoint_by_hash(bytes.fromhex(origin_hash), number)
        if note is None:
            abort(404, f"no checkpoint of size {number} of that log is kept here")
        return _cached(Response(note, mimetype="text/plain"), _COSIGNABLE)

    return api
