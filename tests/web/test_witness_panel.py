# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""The witnesses panel, the waiting notice and the worded conflicts, through the Flask client.

A small story farm's log whose latest checkpoint two of three test witnesses
cosigned (five minutes and three hours ago); the site's policy asks for two.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from web_site import StaticSiteData

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.errors import MalformedError
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web import SiteConfig, create_app
from consumer_web._replica_state import Conflict, SourceStatus, WitnessWait
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir

NAMES = ("coop.example/witness", "retail.example/witness", "ngo.example/witness")
KEYS = [generate_cosigner_key(name, seed=bytes([n + 1]) * 32) for n, name in enumerate(NAMES)]
VKEYS = tuple(vkey for _, vkey in KEYS)
AGO_S = {NAMES[0]: 5 * 60 + 10, NAMES[1]: 3 * 3600 + 100}  # the third never cosigns


@dataclass(frozen=True)
class Witnessed:
    store: Store
    manifest: StoryManifest
    times: dict[str, int]  # name -> cosigning time (POSIX seconds)

    @property
    def size(self) -> int:
        return self.store.size


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Witnessed]:
    data_dir = DataDir(tmp_path_factory.mktemp("witnessed") / "farm")
    manifest = build_story_log(
        data_dir, StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=2, move_every=0)
    )
    now = int(time.time())
    times = {name: now - ago for name, ago in AGO_S.items()}
    with Store.open(data_dir.log) as store:
        size, signed = store.latest_checkpoint() or (0, "")
        text = note.parse(signed).text
        lines = [cosign(text, KEYS[NAMES.index(n)][0], t) for n, t in times.items()]
        store.put_checkpoint(size, signed + "".join(lines))
        yield Witnessed(store, manifest, times)


def _client(
    w: Witnessed, quorum: int = 2, vkeys: tuple[str, ...] = VKEYS, **extra: object
) -> FlaskClient:
    policy = WitnessPolicy(quorum, tuple(Witness(v) for v in vkeys))
    data = StaticSiteData(w.store, w.manifest.trust, witness_policy=policy)
    for name, value in extra.items():
        setattr(data, name, value)
    app = create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})
    return app.test_client()


class _Panel(HTMLParser):
    """The witnesses panel of a page: its attributes, and per witness its text and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str | None] = {}
        self.policy = ""
        self.rows: dict[str, dict[str, str | None]] = {}
        self.texts: dict[str, str] = {}
        self._depth = 0
        self._row: str | None = None
        self._in_policy = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") == "witnesses":
            self.attrs, self._depth = a, 1
        elif self._depth:
            if tag in ("div", "ul", "li", "p"):
                self._depth += 1
            if tag == "li":
                self._row = a["data-witness"] or ""
                self.rows[self._row], self.texts[self._row] = a, ""
            if tag == "time" and self._row:
                self.rows[self._row] = {**self.rows[self._row], "datetime": a.get("datetime")}
            self._in_policy = a.get("id") == "witness-policy"

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag in ("div", "ul", "li", "p"):
            self._depth -= 1
            if tag == "li":
                self._row = None
            if tag == "p":
                self._in_policy = False

    def handle_data(self, data: str) -> None:
        if self._in_policy:
            self.policy += data
        elif self._row is not None:
            self.texts[self._row] += data


def panel(html: str) -> _Panel:
    parsed = _Panel()
    parsed.feed(html)
    assert parsed.attrs, "no witnesses panel"
    parsed.policy = " ".join(parsed.policy.split())
    parsed.texts = {k: " ".join(v.split()) for k, v in parsed.texts.items()}
    return parsed


def _paths(w: Witnessed) -> list[str]:
    m = w.manifest
    return [m.packs[0].link.path, m.lots[0].link.path, f"/bird/{m.birds[0]}", _batch(w)]


def _batch(w: Witnessed) -> str:
    return f"/batch/{w.store.block(1).hash}"


def test_every_checkpoint_page_names_the_witnesses_when_and_the_policy(w: Witnessed) -> None:
    client = _client(w)
    for path in _paths(w):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        p = panel(html)
        assert p.attrs["data-quorum"] == "2" and p.attrs["data-total"] == "3", path
        assert p.attrs["data-cosigned"] == "2" and p.attrs["data-size"] == str(w.size)
        assert p.policy == (
            f"2 of 3 independent witnesses vouch for this record (checkpoint {w.size}); "
            "this site requires 2."
        )
        assert list(p.rows) == list(NAMES)  # in policy order
        for name, t in w.times.items():
            assert p.rows[name]["class"] == "witness cosigned"
            assert p.rows[name]["data-cosigned"] == str(t * 1000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            assert p.rows[name]["datetime"] == stamp
            assert time.strftime("cosigned %Y-%m-%d %H:%M UTC", time.gmtime(t)) in p.texts[name]
        assert "(5 minutes ago)" in p.texts[NAMES[0]]
        assert "(3 hours ago)" in p.texts[NAMES[1]]
        assert p.rows[NAMES[2]]["class"] == "witness missing"
        assert "has not cosigned this checkpoint" in p.texts[NAMES[2]]
        assert VKEYS[2] in p.texts[NAMES[2]]
        assert re.search(r'<section id="verify-result"[^>]*data-quorum="2"', html), path


def test_the_panel_in_chinese(w: Witnessed) -> None:
    client = _client(w)
    p = panel(client.get(_paths(w)[0], headers={"Accept-Language": "zh-CN"}).get_data(as_text=True))
    assert (
        p.policy == f"3 个独立见证方中有 2 个为此记录作证（检查点 {w.size}）；本站要求至少 2 个。"
    )
    assert "5 分钟前" in p.texts[NAMES[0]] and "3 小时前" in p.texts[NAMES[1]]
    assert "联署" in p.texts[NAMES[0]]
    assert "尚未联署此检查点" in p.texts[NAMES[2]]
    html = client.get(_batch(w) + "?lang=zh-CN").get_data(as_text=True)
    assert 'data-msg-witnesses-ok="{total} 个见证方中有 {count} 个联署' in html


def test_a_stricter_policy_than_the_checkpoint_meets_is_flagged(w: Witnessed) -> None:
    p = panel(_client(w, quorum=3).get(_paths(w)[1]).get_data(as_text=True))
    assert p.policy == (
        f"Only 2 of 3 witnesses have cosigned checkpoint {w.size}, fewer than the 3 "
        "this site now requires."
    )


def test_without_witnesses_the_panel_says_so(w: Witnessed) -> None:
    client = _client(w, quorum=0, vkeys=())
    p = panel(client.get(_paths(w)[2]).get_data(as_text=True))
    assert p.rows == {} and p.attrs["data-total"] == "0"
    assert p.policy == (
        "No independent witness is configured for this site: the record is signed by the "
        "farm's key alone."
    )
    optional = _client(w, quorum=0)
    p = panel(optional.get(_paths(w)[2]).get_data(as_text=True))
    assert p.policy.endswith("this site does not require them.") and len(p.rows) == 3
    assert optional.get("/api/v1/log").get_json()["witnesses"] == list(VKEYS)


def test_a_witness_only_the_site_knows_of_counts_as_not_cosigned(w: Witnessed) -> None:
    _, other_vkey = generate_cosigner_key("other.example/witness", seed=bytes([9]) * 32)
    client = _client(w, quorum=1, vkeys=(VKEYS[1], other_vkey))
    p = panel(client.get(_paths(w)[0]).get_data(as_text=True))
    assert [r["class"] for r in p.rows.values()] == ["witness cosigned", "witness missing"]
    assert p.policy.startswith("1 of 2 independent witnesses vouch")


def test_waiting_for_witnesses_is_a_mild_notice_on_every_page(w: Witnessed) -> None:
    wait = WitnessWait("http://gw.example", w.size + 3, 2, (NAMES[0],), 1_767_300_000_000)
    as_of = 1_767_300_000_000
    sources = (SourceStatus("http://gw.example", "witness_quorum", 5, 5, None, None, w.size + 3),)
    client = _client(w, waiting=wait, as_of_ms=as_of, sources=sources)
    for path in ["/", *_paths(w), "/no/such/page"]:
        html = client.get(path).get_data(as_text=True)
        notice = re.search(r'<p class="notice waiting" id="waiting"[^>]*>(.*?)</p>', html, re.S)
        assert notice is not None, path
        assert " ".join(unescape(notice.group(1)).split()) == (
            "The farm's newest data is waiting for independent witnesses to vouch for it "
            "(1 of 2 so far): this page shows the data as of 2026-01-01 20:40 UTC."
        )
        assert 'id="conflict"' not in html and 'id="as-of"' not in html  # not down, no alarm
    zh = client.get("/?lang=zh-CN").get_data(as_text=True)
    assert "正在等待独立见证方作证（已有 1 个，需要 2 个）" in zh
    never = _client(w, waiting=wait, sources=sources).get("/").get_data(as_text=True)
    assert f"this page shows the data checked earlier (checkpoint {w.size})" in never


def test_conflicts_are_worded_for_shoppers_with_the_technical_reason(w: Witnessed) -> None:
    conflicts = tuple(
        Conflict(f"http://{reason}.example", None, "x", reason, "detail", 1_767_300_000_000)
        for reason in ("something_new", "fork", "wrong_log", "bad_signature")
    )
    client = _client(w, conflicts=conflicts)
    html = client.get("/").get_data(as_text=True)
    section = unescape(html[html.index('id="conflict"') : html.index("<main>")])
    assert "two different versions of this farm" in section
    assert (
        "On 2026-01-01 20:40 UTC, http://fork.example showed a version of this farm's record "
        "that contradicts the one this site had already checked"
    ) in section
    assert "Records may have been changed or deleted after the fact." in section
    assert "http://wrong_log.example served a record that is not signed with this farm" in section
    assert "http://bad_signature.example served a record whose farm signature" in section
    assert "something_new" not in section  # the last three are shown
    other = _client(w, conflicts=conflicts[:1]).get("/").get_data(as_text=True)
    assert "contradicts the one this site already verified (something_new" in unescape(other)
    for reason in ("fork", "wrong_log", "bad_signature"):
        assert f"Technical reason: {reason}." in section
    zh = client.get("/?lang=zh-CN").get_data(as_text=True)
    assert "记录可能在事后被修改或删除" in zh and "技术原因：fork。" in zh


def test_the_site_dir_policy_file_is_loaded_and_not_given_twice(
    tmp_path: Path, w: Witnessed
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "trust.json").write_text(w.manifest.trust.to_json())
    policy = WitnessPolicy(2, tuple(Witness(v) for v in VKEYS))
    (site / "witnesses.json").write_text(policy.to_json())
    app = create_app(SiteConfig(site_dir=site, sync_in_background=False, warm_cache=False))
    try:
        assert app.extensions["farmtrace_site"].policy == policy
        assert app.test_client().get("/api/v1/log").get_json()["witnesses"] == list(VKEYS)
    finally:
        app.extensions["farmtrace_site"].close()
    for config in (
        {"WITNESSES": list(VKEYS[:1])},
        {"WITNESS_QUORUM": 1},
        {"WITNESS_POLICY": policy},
    ):
        with pytest.raises(ValueError, match="given twice"):
            create_app({"SITE_DIR": site, "SYNC_IN_BACKGROUND": False, **config})
    (site / "witnesses.json").write_text('{"quorum": 4, "witnesses": []}')
    with pytest.raises(MalformedError, match=r"witnesses\.json: witness quorum"):
        create_app({"SITE_DIR": site, "SYNC_IN_BACKGROUND": False})
    (site / "witnesses.json").unlink()
    config = SiteConfig(site_dir=site, sync_in_background=False, witnesses=VKEYS, witness_quorum=2)
    app = create_app(config)
    try:
        assert app.extensions["farmtrace_site"].policy == policy
    finally:
        app.extensions["farmtrace_site"].close()


def test_a_hostile_witness_name_is_text(w: Witnessed) -> None:
    hostile = '<script>alert(1)</script>"x'
    _, vkey = generate_cosigner_key(hostile, seed=bytes([7]) * 32)
    html = _client(w, quorum=0, vkeys=(vkey,)).get(_paths(w)[1]).get_data(as_text=True)
    assert hostile not in html and "<script>alert" not in html
    assert panel(html).rows[hostile]["class"] == "witness missing"
