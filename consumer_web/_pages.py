"""The shopper's pages: search, a bird's story, GS1 Digital Link resolution, batches, labels.

Every page is HTML rendered from templates with autoescaping; every failure
is a friendly page in the reader's language (:mod:`consumer_web._errors`).
"""

from __future__ import annotations

import re
from typing import NoReturn
from urllib.parse import quote

from flask import Blueprint, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from chain.gs1 import AI_LOT, AI_SERIAL, DigitalLink, labelled_uri, pack_subject
from chain.jws import ID_PATTERN
from consumer_web._batch import batch_view
from consumer_web._charts import chart_view
from consumer_web._errors import not_found
from consumer_web._facts import bird_facts, parties_of
from consumer_web._farm_facts import FarmGroup, farm_accounts, farm_groups, farm_page, with_farm
from consumer_web._federation import current_federation
from consumer_web._journey import JOURNEY_HEIGHT, JOURNEY_WIDTH, journey_of
from consumer_web._links import label_key_id, link_of
from consumer_web._messages import N_
from consumer_web._qr import label_log_key, public_url
from consumer_web._search import resolve
from consumer_web._site import current_site
from consumer_web._stitch import page_root, stitched_for
from consumer_web._story import BirdStory, PackStory
from consumer_web._summaries import install_summaries
from consumer_web._welfare import HUMIDITY_LIMITS_RH, TEMPERATURE_MARGIN_C

__all__ = ["bp"]

bp = Blueprint("pages", __name__)
install_summaries(bp)

_ID = re.compile(ID_PATTERN)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SEARCH_EMPTY = N_("Type a bird id, a pack serial or a batch hash.")
_SEARCH_NONE = N_("Nothing in the log matches “{q}”.")
_UNKNOWN_BIRD = N_("No bird “{bird}” is in the log.")


def _unknown(link: DigitalLink) -> NoReturn:
    if link.serial is not None:
        message = N_("No pack with this code is in the log (GTIN {gtin}, serial {value}).")
        not_found("unknown_pack", message, gtin=link.gtin, value=link.serial)
    message = N_("No lot with this code is in the log (GTIN {gtin}, lot {value}).")
    not_found("unknown_pack", message, gtin=link.gtin, value=link.lot)


def _bird_page(story: BirdStory, pack: PackStory | None = None, subject: str | None = None) -> str:
    rules = {
        "margin": TEMPERATURE_MARGIN_C,
        "low": HUMIDITY_LIMITS_RH[0],
        "high": HUMIDITY_LIMITS_RH[1],
    }
    key = ("charts", story.identity.bird, story.verification.entry_count)
    views = current_site().memo.get(key, lambda: [chart_view(c) for c in story.charts])
    # A pack's parts are those of its own making (the slaughter of its carcass),
    # not of every bird this log knows by the bird's id.
    stitched = stitched_for(story.timeline if pack is None else pack.timeline, subject)
    federation = current_federation()
    farm = None
    if stitched is not None and federation is not None:
        farm = farm_page(federation, stitched, story.identity.bird)
        if farm.account is None and not farm.failed:
            farm = None  # no farm's part: the page is as on a single-log site
    facts = bird_facts(story, pack)
    if farm is not None and farm.account is not None:
        facts = with_farm(facts, farm.account)
    life = current_site().lifecycle
    with life.cache.lock:
        roles = {p.signer: life.directory.operator_roles(p.signer) for p in facts.parties}
    rows = story.timeline
    if farm is not None and farm.account is not None:  # the farm's and hatchery's stops too
        rows = tuple(sorted((*farm.account.journey_rows, *rows), key=lambda row: row.ts))
    journey = journey_of(rows, lambda kid: roles.get(kid, frozenset()), facts.farm)
    return render_template(
        "bird.html",
        story=story,
        pack=pack,
        facts=facts,
        journey=journey,
        journey_size=(JOURNEY_WIDTH, JOURNEY_HEIGHT),
        charts=views,
        rules=rules,
        # A pack shows the recalls that concern it (its own, its lot's, its
        # carcass's, its bird's, its barns' during the bird's stays); a bird
        # every recall in its story, those of all its packs included.
        recalls=story.recalls if pack is None else pack.recalls,
        stitched=stitched,
        farm=farm,
    )


@bp.get("/")
def index() -> str:
    """The home page: a search box."""
    return render_template("index.html", query="", links=(), message=None)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The site's icon, for clients that ask for it at the conventional path."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/search")
def search() -> Response | tuple[str, int]:
    """Resolve the search box's query and redirect, list the choices, or say nothing matched."""
    query = request.args.get("q", "")[:200]
    if not query.strip():
        return render_template("index.html", query="", links=(), message=_SEARCH_EMPTY), 200
    site = current_site()
    store = site.data.store

    def known(bird: str) -> bool:
        return next(iter(store.subject_entries(f"bird:{bird}")), None) is not None

    found = resolve(query, store, known)
    if found.url is not None:
        return redirect(request.script_root + found.url, code=303)
    if found.links:
        page = render_template("index.html", query=query, links=found.links, message=None)
        return page, 200
    site.metrics.not_found.labels("no_match").inc()
    return render_template("index.html", query=query, links=(), message=_SEARCH_NONE), 404


@bp.get("/bird/<bird_id>")
def bird(bird_id: str) -> str:
    """A bird's lifecycle page."""
    if not _ID.fullmatch(bird_id):
        not_found("unknown_bird", _UNKNOWN_BIRD, bird=bird_id)
    story = current_site().lifecycle.bird(bird_id)
    if story is None:
        not_found("unknown_bird", _UNKNOWN_BIRD, bird=bird_id)
    return _bird_page(story)


def _pack_page(link: DigitalLink) -> Response | str:
    if request.path != link.path:  # e.g. a GTIN-13 in the path: send to the GTIN-14 form
        # keeps the label's lk, and the address's root (the resolver's, or a log's mount)
        return redirect(labelled_uri(page_root(), link, label_key_id()), code=301)
    life = current_site().lifecycle
    pack = life.pack(link)
    if pack is None:
        _unknown(link)
    if link.serial is not None and len(pack.birds) == 1:
        story = life.bird(pack.birds[0])
        if story is not None:
            return _bird_page(story, pack, pack_subject(link))
    stitched = stitched_for(pack.timeline, pack_subject(link))
    federation = current_federation()
    farms: tuple[FarmGroup, ...] = ()
    if stitched is not None and federation is not None:
        farms = farm_groups(farm_accounts(federation, stitched))
    return render_template(
        "pack.html",
        pack=pack,
        parties=parties_of(pack.timeline),
        stitched=stitched,
        farms=farms,
    )


@bp.get("/01/<gtin>/21/<serial>")
def packed_bird(gtin: str, serial: str) -> Response | str:
    """GS1 Digital Link of one pack: the bird in it."""
    return _pack_page(link_of(gtin, AI_SERIAL, serial))


@bp.get("/01/<gtin>/10/<lot>")
def lot(gtin: str, lot: str) -> Response | str:
    """GS1 Digital Link of a lot: its birds and what happened to it."""
    return _pack_page(link_of(gtin, AI_LOT, lot))


@bp.get("/batch/<block_hash>")
def batch(block_hash: str) -> Response | str:
    """A batch (block): header, entries, inclusion in the checkpoint."""
    if _HEX64.fullmatch(block_hash.lower()) and block_hash != block_hash.lower():
        return redirect(f"{request.script_root}/batch/{block_hash.lower()}", code=301)
    view = (
        batch_view(current_site().data.store, block_hash) if _HEX64.fullmatch(block_hash) else None
    )
    if view is None:
        not_found("unknown_batch", N_("No batch “{hash}” is in the log."), hash=block_hash)
    return render_template("batch.html", batch=view)


@bp.get("/label/01/<gtin>/21/<serial>")
@bp.get("/label/01/<gtin>/10/<lot>")
def label(gtin: str, serial: str | None = None, lot: str | None = None) -> str:
    """A printable label for a pack (or lot): its QR code and what it says."""
    link = link_of(gtin, AI_SERIAL if serial is not None else AI_LOT, serial or lot or "")
    pack = current_site().lifecycle.pack(link)
    if pack is None:
        _unknown(link)
    ai, value = (AI_SERIAL, link.serial) if link.serial else (AI_LOT, link.lot)
    qr = f"/qr/{link.gtin}/{ai}/{quote(value or '', safe='')}.svg"
    return render_template(
        "label.html", pack=pack, link=link, qr=qr, url=public_url(link), log_key=label_log_key()
    )
