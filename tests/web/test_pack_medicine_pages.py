# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""What a pack's, a lot's and a bird's pages say of the product, its best-before date and the
bird's medicine, read from the story farm's log (its first bird had an antibiotic course)."""

from __future__ import annotations

import re
from html import unescape

from conftest import StoryLog
from flask.testing import FlaskClient

from demo.story_farm import PRODUCT, PRODUCT_LOT, best_before


def _text(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, spaces squeezed)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|span|strong|p)>', html, re.S)
    assert found is not None, element_id
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_the_first_screen_names_the_product_and_its_best_before_date(
    client: FlaskClient, story: StoryLog
) -> None:
    pack = story.manifest.packs[0]
    html = client.get(pack.link.path).get_data(as_text=True)
    assert _text(html, "fact-product") == PRODUCT == "Whole chicken"
    bb = _text(html, "fact-best-before")
    assert re.fullmatch(r"best before [A-Z][a-z]{2} \d{1,2}, 20\d\d", bb), bb
    zh = client.get(f"{pack.link.path}?lang=zh-CN").get_data(as_text=True)
    assert re.fullmatch(r"保质期至 20\d\d年\d{1,2}月\d{1,2}日", _text(zh, "fact-best-before"))


def test_the_treated_birds_pack_shows_its_medicine_and_withdrawal(
    client: FlaskClient, story: StoryLog
) -> None:
    treated, other = story.manifest.packs[0], story.manifest.packs[1]
    html = client.get(treated.link.path).get_data(as_text=True)
    medicine = _text(html, "fact-treatments")
    assert re.fullmatch(
        r"Amoxicillin on [A-Z][a-z]{2} \d{1,2}, 20\d\d "
        r"\(1-day withdrawal period, ended before slaughter\)",
        medicine,
    ), medicine
    assert 'id="fact-treatments" class=""' in html  # no alert: the period was over
    zh = client.get(f"{treated.link.path}?lang=zh-CN").get_data(as_text=True)
    assert "用药记录" in zh
    assert _text(zh, "fact-treatments").endswith("使用Amoxicillin（休药期 1 天，屠宰前已结束）")
    html = client.get(f"{other.link.path}?lang=en").get_data(as_text=True)
    assert _text(html, "fact-treatments") == "none recorded"


def test_the_lot_page_names_the_product_and_best_before(
    client: FlaskClient, story: StoryLog
) -> None:
    lot = story.manifest.lots[0]
    html = client.get(lot.link.path).get_data(as_text=True)
    assert _text(html, "pack-product") == PRODUCT_LOT
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, 20\d\d", _text(html, "pack-best-before"))


def test_the_bird_page_timeline_shows_the_treatment(client: FlaskClient, story: StoryLog) -> None:
    bird = story.manifest.packs[0].bird
    html = client.get(f"/bird/{bird}").get_data(as_text=True)
    row = re.search(r'<tr class="entry event-treated".*?</tr>', html, re.S)
    assert row is not None
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", row.group(0))).split())
    assert "Given medicine" in words and "Amoxicillin" in words
    assert "Withdrawal period (days) 1" in words and "E. coli infection" in words
    assert _text(html, "fact-treatments").startswith("Amoxicillin on ")


def test_the_demo_best_before_is_a_week_after_packing() -> None:
    assert best_before(1_768_237_200_000) == "2026-01-19"  # packed 2026-01-12T17:00Z


def test_the_printable_label_carries_the_best_before_date_as_gs1_ai_15(
    client: FlaskClient, story: StoryLog
) -> None:
    pack = story.manifest.packs[0]
    html = client.get(f"/label{pack.link.path}").get_data(as_text=True)
    assert _text(html, "label-product") == PRODUCT
    found = re.search(r'id="label-best-before"><span class="ai">\(15\)</span> (\d{6})</p>', html)
    assert found is not None and re.fullmatch(r"2\d(0\d|1[0-2])[0-3]\d", found.group(1))
    assert "best before " in html
