"""The lifecycle JSON API: ``GET /api/v1/birds/<id>/lifecycle``.

The body is :meth:`consumer_web._story.BirdStory.to_json` plus ``bird`` and
``checkpoint`` (the tree size and entry count the story is told up to).
Errors are JSON (``{"error": ...}``), like the rest of the read API.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, abort

from chain.jws import ID_PATTERN
from consumer_web._site import current_site

__all__ = ["bp"]

bp = Blueprint("api", __name__)

_ID = re.compile(ID_PATTERN)


@bp.get("/api/v1/birds/<bird_id>/lifecycle")
def lifecycle(bird_id: str) -> Response:
    """A bird's story as JSON (404 if the log never mentions it)."""
    if not _ID.fullmatch(bird_id):
        abort(404, f"not a bird id: {bird_id[:80]!r}")
    site = current_site()
    story = site.lifecycle.bird(bird_id)
    if story is None:
        abort(404, f"no bird {bird_id!r} in the log")
    told = story.verification

    def body() -> bytes:
        head = {"size": told.checkpoint_size, "entry_count": told.entry_count}
        return json.dumps({"bird": bird_id, "checkpoint": head} | story.to_json()).encode()

    data = site.memo.get(("json", bird_id, told.entry_count), body)
    response = Response(data, mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response
