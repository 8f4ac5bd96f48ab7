"""The read API's endpoints (design.md section 5), as a blueprint over one log.

Proofs are only ever given for tree sizes up to the latest signed checkpoint:
an unsigned tree head proves nothing. Blocks are served as soon as they are
committed. What a height or a fixed tree size names never changes, so it is
cacheable for good, except that a checkpoint note may still gain witness
cosignatures; what follows the latest checkpoint must be revalidated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from flask import Blueprint, Response, abort, jsonify, request

from chain.proof_bundle import build_entry_proof
from readapi._source import LogSource

__all__ = ["create_read_api"]

_IMMUTABLE = "public, max-age=31536000, immutable"
_LIVE = "no-cache"
# An entry proof at a fixed size may still gain witness cosignatures on its note.
_COSIGNABLE = "public, max-age=60"

_UINT = re.compile(r"0|[1-9][0-9]{0,18}")


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


def _cached(response: Response, policy: str) -> Response:
    response.headers["Cache-Control"] = policy
    return response


def create_read_api(source: LogSource, name: str = "readapi") -> Blueprint:
    """Return a blueprint serving the log of ``source`` at ``/checkpoint`` and ``/api/v1/``.

    Pair it with :func:`readapi.install_json_errors` on the app, so that
    unknown routes and wrong methods under the API also answer in JSON.
    """
    api = Blueprint(name, __name__)

    def checkpoint_size() -> int:
        latest = source.store.latest_checkpoint()
        if latest is None:
            abort(404, "the log has no checkpoint yet")
        return latest[0]

    def tree_size(name: str, given: int | None) -> int:
        """``given`` (default: the latest checkpoint's size), if a checkpoint covers it."""
        latest = checkpoint_size()
        if given is None:
            return latest
        if given > latest:
            abort(400, f"{name} {given} is beyond the latest checkpoint (size {latest})")
        return given

    @api.get("/checkpoint")
    def checkpoint() -> Response:
        latest = source.store.latest_checkpoint()
        if latest is None:
            abort(404, "the log has no checkpoint yet")
        response = Response(latest[1], mimetype="text/plain")
        return _cached(response, _LIVE)

    @api.get("/api/v1/log")
    def log() -> Response:
        body = {
            "origin": source.origin,
            "vkey": source.verifier_key,
            "witnesses": list(source.witnesses),
        }
        return _cached(jsonify(body), _LIVE)

    @api.get("/api/v1/blocks/<height>")
    def block(height: str) -> Response:
        number = _uint(height, "height")
        store = source.store
        try:
            raw = store.block_raw(number)
            entries = store.block_entries(number)
        except KeyError:
            abort(404, f"no block {number} (the log has {store.size} blocks)")
        body = {
            "hash": hashlib.sha256(raw).hexdigest(),
            "header": json.loads(raw),
            "header_b64": _b64(raw),
            "entries": [e.decode("ascii") for e in entries],
        }
        return _cached(jsonify(body), _IMMUTABLE)

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
        if given is not None:
            tree_size("tree_size", given)
        try:
            proof = build_entry_proof(source.store, number, given)
        except KeyError as exc:
            abort(404, str(exc.args[0]))
        response = Response(proof.to_json(), mimetype="application/json")
        return _cached(response, _LIVE if given is None else _COSIGNABLE)

    return api
