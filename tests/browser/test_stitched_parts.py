"""static/verify/stitched.js marks each cross-log part of a page, in a real Chromium.

A farm's log and a plant's log are real LevelDB stores behind the real read
API, mounted as the resolver site mounts the logs it follows
(``/logs/<slug>/api/v1``); the page's parts carry the data attributes of
consumer_web/templates/_stitched.html. The plant's slaughter events name the
farm's placement: one reference that holds after the farm grew (the browser
fetches the consistency proof), one forged (a bird the farm never placed),
one to a tree the farm later rolls back from (its served checkpoint is
smaller than the one referenced), one to an entry the farm does not have,
and one to a log the site does not follow. A part whose referencing entry
does not carry its reference fails too; a part downstream reads its
referencing entry from the log its data-referrer-api-base names. A tapped
row inside a part is verified by verify.js from that part's log. The page
has the site's strict Content Security Policy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest
from browser_harness import ConsoleWatch, serve
from browser_site import CSP, STATIC
from crosslog_logs import FARM, OPERATOR, PLANT, T0, PartyLog
from flask import Flask, Response
from playwright.sync_api import Page

from chain.crosslog import LogReference
from chain.entries import sign_entry
from readapi import create_read_api, install_json_errors


@dataclass(frozen=True)
class Part:
    """One part of the page: ``ref`` checked in the log at ``slug``, carried by plant ``entry``."""

    name: str
    ref: LogReference
    slug: str
    entry: int
    referrer_api: str = ""  # data-referrer-api-base: a later holder's log (a part downstream)


@dataclass(frozen=True)
class Stitched:
    url: str
    farm: PartyLog
    parts: list[Part]
    placed: int


def _build(root: Path) -> tuple[PartyLog, PartyLog, list[Part], int, int]:
    farm, plant = PartyLog(root / "farm", FARM, "farm"), PartyLog(root / "plant", PLANT, "plant")
    (hatched,) = farm.commit(farm.event("hatched", T0, ["bird:0001"], breed="Ross 308"))
    (placed,) = farm.commit(farm.event("placed", T0 + 1000, ["bird:0001"], barn="b1"))
    held = farm.ref(placed, "bird:0001")
    farm.commit(farm.event("moved", T0 + 2000, ["bird:0001"], barn="b2"))
    later = farm.ref(hatched, "bird:0001")  # the farm will roll back from this
    farm.commit(farm.event("died", T0 + 3000, ["bird:0002"]))
    never = sign_entry(
        farm.event("placed", T0 + 1000, ["bird:0009"], barn="b1"), "op", OPERATOR.seed
    )
    forged = LogReference(
        FARM, placed, hashlib.sha256(never).hexdigest(), held.size, held.root, "bird:0009"
    )
    dangling = LogReference(FARM, 99, "ab" * 32, held.size, held.root, "bird:0042")
    unfollowed = LogReference("hatchery.example/log", 4, "cd" * 32, 2, "ef" * 32, "bird:0005")

    def slaughter(n: int, bird: str, ref: LogReference) -> dict[str, object]:
        outputs = [f"carcass:{n}"]
        fields = {"plant": "plant-1", "outputs": outputs, "refs": [ref.to_json()]}
        return plant.event("slaughtered", T0 + 10_000 + n, [bird], **fields)

    indexes = plant.commit(
        slaughter(1, "bird:0001", held),
        slaughter(2, "bird:0009", forged),
        slaughter(3, "bird:0001", later),
        slaughter(4, "bird:0042", dangling),
        slaughter(5, "bird:0005", unfollowed),
    )
    parts = [
        Part("held", held, "farm", indexes[0]),
        Part("forged", forged, "farm", indexes[1]),
        Part("rolled", later, "farm-rolled", indexes[2]),
        Part("dangling", dangling, "farm", indexes[3]),
        Part("unfollowed", unfollowed, "", indexes[4]),
        Part("not_carried", held, "farm", indexes[1]),
        Part("downstream", held, "farm", indexes[0], "/logs/plant-mirror/api/v1"),
    ]
    # The farm rolls back to the checkpoint before the one the third reference saw.
    return farm, plant, parts, later.size - 1, placed


def _part_html(part: Part, placed: int) -> str:
    base = f"/logs/{part.slug}/api/v1" if part.slug else ""
    row = f'<tr data-entry="{placed}" tabindex="0"><td>placed</td></tr>'
    return (
        f'<article data-part="{part.name}" data-log-origin="{part.ref.log}"'
        f' data-log-slug="{part.slug}" data-api-base="{base}"'
        f' data-ref="{escape(json.dumps(part.ref.to_json()))}" data-quorum="2"'
        f' data-referrer-log="{PLANT}" data-referrer-index="{part.entry}"'
        f' data-referrer-api-base="{part.referrer_api}">'
        f"<h3>{part.name}</h3>{'<table>' + row + '</table>' if part.name == 'held' else ''}"
        "</article>"
    )


def _app(farm: PartyLog, plant: PartyLog, parts: list[Part], rolled: int, placed: int) -> Flask:
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    mounts = {
        "farm": farm.source(),
        "farm-rolled": farm.source(rolled),
        "plant": plant.source(),
        "plant-mirror": plant.source(),
    }
    for slug, source in mounts.items():
        api = create_read_api(source, name=f"log_{slug.replace('-', '_')}")
        app.register_blueprint(api, url_prefix=f"/logs/{slug}")
    install_json_errors(app)

    @app.get("/logs/plant/pack")
    def pack() -> Response:
        items = "".join(_part_html(part, placed) for part in parts)
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pack</title>'
            '<script type="module" src="/static/verify.js"></script>'
            '<script type="module" src="/static/verify/stitched.js"></script></head><body>'
            '<section id="verify-result" data-api-base="/logs/plant/api/v1" data-quorum="2">'
            "</section>"
            f'<section data-ref-messages data-msg-ref-ref-rolled-back="ROLLED BACK">{items}'
            "</section></body></html>"
        )
        return Response(html, mimetype="text/html")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.after_request
    def csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        return response

    return app


@pytest.fixture(scope="module")
def stitched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stitched]:
    farm, plant, parts, rolled, placed = _build(tmp_path_factory.mktemp("stitched"))
    try:
        with serve(_app(farm, plant, parts, rolled, placed)) as url:
            yield Stitched(url, farm, parts, placed)
    finally:
        farm.store.close()
        plant.store.close()


def _open(page: Page, stitched: Stitched) -> None:
    page.goto(f"{stitched.url}/logs/plant/pack")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-ref]')].every("
        "(p) => ['ok', 'fail'].includes(p.dataset.refState))"
    )


def test_each_part_is_marked_with_the_verdict_of_its_own_log(
    page: Page, stitched: Stitched
) -> None:
    watch = ConsoleWatch(page)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    _open(page, stitched)
    found = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-ref]')].map((p) => [
            p.dataset.part,
            [p.dataset.refState, p.dataset.refReason ?? null,
             p.querySelector('[data-ref-message]').textContent],
        ]))"""
    )
    assert {name: v[:2] for name, v in found.items()} == {
        "held": ["ok", None],
        "forged": ["fail", "ref_entry_mismatch"],
        "rolled": ["fail", "ref_rolled_back"],
        "dangling": ["fail", "ref_unavailable"],
        "unfollowed": ["fail", "ref_unknown_log"],
        "not_carried": ["fail", "referrer_mismatch"],
        "downstream": ["ok", None],
    }
    size = stitched.farm.store.size
    assert found["held"][2] == (
        f"Verified in your browser: {FARM} entry {stitched.parts[0].ref.index}, "
        f"in its checkpoint of {size}, cosigned by w1.example/witness, w2.example/witness."
    )
    assert found["forged"][2] == "NOT verified: that log has another entry there."
    assert found["rolled"][2] == "ROLLED BACK"  # the page's own words for the reason
    assert found["not_carried"][2] == "NOT verified: referrer_mismatch."
    downstream = stitched.parts[-1]
    assert any(f"plant-mirror/api/v1/entries/{downstream.entry}/proof" in u for u in fetched)
    assert watch.csp_violations == []
    assert [m for m in watch.messages if "/logs/farm/api/v1/entries/99/proof" not in m] == []


def test_a_row_of_a_part_is_verified_from_that_parts_own_log(
    page: Page, stitched: Stitched
) -> None:
    _open(page, stitched)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.click(f"[data-part=held] [data-entry='{stitched.placed}']")
    panel = page.locator("#verify-result")
    page.wait_for_function(
        "() => ['ok', 'fail'].includes(document.getElementById('verify-result').dataset.state)"
    )
    assert panel.get_attribute("data-state") == "ok", panel.inner_text()
    proof = f"/logs/farm/api/v1/entries/{stitched.placed}/proof"
    assert proof in panel.locator("a").last.get_attribute("href")  # type: ignore[operator]
    assert not any("/logs/plant/api/v1/entries/" in url for url in fetched)
