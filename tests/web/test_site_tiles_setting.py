"""TILES_URL: the pages tell the browser's verifier to read proofs from a tiles origin (issue 13).

The proof panel carries ``data-tiles-base``; the Content-Security-Policy's
``connect-src`` allows exactly that origin and nothing else changes; a URL
that is no tiles prefix stops the site (and ``farmtrace site run``) at once;
``farmtrace deploy --tiles-url`` hands it to the site's unit. The browser
side is tests/browser/test_pack_proofs_from_tiles.py.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import StoryLog
from web_site import StaticSiteData

from chain.errors import MalformedError
from consumer_web import CSP, create_app
from consumer_web._tiles_base import parse_tiles_url
from farmtrace.cli import main


def _directives(csp: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d for d in csp.split("; ")}


class _Panel(HTMLParser):
    """The attributes of the page's #verify-result."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str | None] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if dict(attrs).get("id") == "verify-result":
            self.attrs = dict(attrs)


def _get(story: StoryLog, tiles_url: str | None, path: str) -> tuple[str, dict[str, str | None]]:
    config = {"TESTING": True, "WARM_CACHE": False, "TILES_URL": tiles_url}
    app = create_app(config | {"SITE_DATA": StaticSiteData(story.store, story.manifest.trust)})
    try:
        with app.test_client().get(path) as response:
            assert response.status_code == 200
            panel = _Panel(response.get_data(as_text=True)).attrs
            assert panel is not None
            return response.headers["Content-Security-Policy"], panel
    finally:
        app.extensions["farmtrace_site"].close()


def test_the_panel_names_the_tiles_and_the_csp_allows_their_origin_only(story: StoryLog) -> None:
    pack, lot = story.manifest.packs[0], story.manifest.lots[0]
    for path in (pack.link.path, lot.link.path, f"/bird/{pack.bird}"):
        csp, panel = _get(story, "https://tiles.example:8443/farm/", path)
        assert panel["data-tiles-base"] == "https://tiles.example:8443/farm"
        directives, default = _directives(csp), _directives(CSP)
        assert directives["connect-src"] == "connect-src 'self' https://tiles.example:8443"
        assert {k: v for k, v in directives.items() if k != "connect-src"} == {
            k: v for k, v in default.items() if k != "connect-src"
        }


def test_without_tiles_nothing_changes(story: StoryLog) -> None:
    csp, panel = _get(story, None, story.manifest.packs[0].link.path)
    assert csp == CSP and "connect-src 'self';" in csp
    assert "data-tiles-base" not in panel


def test_the_tiles_scheme_of_sources_is_accepted_too() -> None:
    tiles = parse_tiles_url("tiles+https://CDN.Example/farm")
    assert (tiles.url, tiles.origin) == ("https://cdn.example/farm", "https://cdn.example")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cdn.example/farm",
        "ftp://cdn.example/farm",
        "javascript:alert(1)",
        "https://user:pw@cdn.example/farm",
        "https://cdn.example/farm?x=1",
        "https://cdn.example/farm#x",
        "https://cdn.example:99999/",
        "https://cdn.example; script-src */",
        "https://cdn.example/a'b",
        "https://cdn.example/a;b",
        "https://cdn.example/a b",
        "https://bücher.example/",
    ],
)
def test_a_url_that_is_no_tiles_prefix_is_refused(bad: str) -> None:
    with pytest.raises(MalformedError, match="TILES_URL"):
        create_app({"TESTING": True, "TILES_URL": bad, "SITE_DATA": object()})


def test_site_run_refuses_a_bad_tiles_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["site", "run", "--site-dir", str(tmp_path), "--tiles-url", "ftp://x/farm"])
    assert code == 2
    assert "--tiles-url): expected https://HOST" in capsys.readouterr().err


def test_deploy_hands_the_tiles_url_to_the_site(tmp_path: Path) -> None:
    url = "https://cdn.example/farm"
    args = ["deploy", "--out", str(tmp_path), "--part", "site", "--tiles-url", url]
    assert main(args) == 0
    unit = (tmp_path / "systemd" / "farmtrace-site.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert f" --tiles-url {url} " in f"{exec_start} "
    assert main(["deploy", "--out", str(tmp_path / "none"), "--part", "site"]) == 0
    assert (
        "--tiles-url" not in (tmp_path / "none" / "systemd" / "farmtrace-site.service").read_text()
    )
