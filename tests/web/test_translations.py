# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""The site's gettext catalogues: complete, up to date with the code, placeholders intact."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po
from flask.testing import FlaskClient

from chain.errors import MalformedError
from consumer_web._i18n import (
    LANGUAGES,
    LOCALES,
    compile_catalogue,
    format_ago,
    translate,
    translate_word,
    translations,
)
from consumer_web._messages import WORDS

PACKAGE = Path(__file__).resolve().parents[2] / "consumer_web"
TEMPLATE = PACKAGE / "translations" / "messages.pot"
ZH = PACKAGE / "translations" / LOCALES["zh-CN"] / "LC_MESSAGES" / "messages.po"

Key = tuple[str | None, str | tuple[str, ...]]


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _messages(catalog: Catalog) -> dict[Key, Message]:
    return {(m.context, m.id): m for m in catalog if m.id}


def _placeholders(text: str) -> set[str]:
    braces = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    return braces | set(re.findall(r"%\(\w+\)[sdifr]", text))


def test_the_template_is_up_to_date_with_the_code_and_templates() -> None:
    with (PACKAGE / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        (context, message)
        for _file, _line, message, _comments, context in extract_from_dir(
            str(PACKAGE), method_map, options_map
        )
    }
    assert len(extracted) > 200
    in_template = set(_messages(_read(TEMPLATE)))
    assert extracted - in_template == set(), "run pybabel extract (docs/consumer-site.md)"
    assert in_template - extracted == set(), "run pybabel extract (docs/consumer-site.md)"


def test_every_message_has_a_reviewed_chinese_translation() -> None:
    template, zh = _messages(_read(TEMPLATE)), _messages(_read(ZH))
    assert set(zh) == set(template), "run pybabel update (docs/consumer-site.md)"
    for key, message in zh.items():
        assert not message.fuzzy, key
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert strings and all(s.strip() for s in strings), key
    assert not _read(ZH).obsolete


def test_placeholders_are_the_same_in_every_language() -> None:
    for (_context, msgid), message in _messages(_read(ZH)).items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*map(_placeholders, ids))
        for text in strings:
            assert _placeholders(text) == expected, (msgid, text)
        assert ("python-brace-format" in message.flags) == bool(expected), msgid


def test_chinese_plurals_have_the_forms_the_locale_asks_for() -> None:
    zh = _read(ZH)
    assert zh.num_plurals == 1
    plurals = [m for m in zh if m.pluralizable]
    assert len(plurals) == 13
    assert all(len(m.string) == zh.num_plurals for m in plurals)


@pytest.mark.parametrize(
    ("minutes", "en", "zh"),
    [
        (0, "just now", "刚刚"),
        (1, "1 minute ago", "1 分钟前"),
        (59, "59 minutes ago", "59 分钟前"),
        (60, "1 hour ago", "1 小时前"),
        (47 * 60, "47 hours ago", "47 小时前"),
        (48 * 60, "2 days ago", "2 天前"),
        (24 * 60 * 400, "400 days ago", "400 天前"),
    ],
)
def test_ago_takes_the_plural_form_for_its_number(minutes: int, en: str, zh: str) -> None:
    now = 1_767_300_000_000
    assert format_ago("en", now - minutes * 60_000, now) == en
    assert format_ago("zh-CN", now - minutes * 60_000, now) == zh


def test_one_english_word_may_have_several_translations_by_context() -> None:
    assert translate("zh-CN", "Entries") == "记录"
    assert translations("zh-CN").pgettext("count", "Entries") == "记录数"
    assert translate("zh-CN", "Packed") == "包装时间"
    assert translate_word("zh-CN", "event", "packed") == "包装"
    assert translate_word("zh-CN", "event", "received") == "收货"
    assert translate_word("en", "event", "received") == "Received"
    assert translate_word("zh-CN", "kind", "weight") == "体重"
    assert translate_word("zh-CN", "event", "not-a-known-event") == "not-a-known-event"


def test_every_word_of_the_log_is_translated() -> None:
    zh = translations("zh-CN")
    for (context, _value), message in WORDS.items():
        assert zh.pgettext(context, message) != message or message == "GTIN", message


def test_placeholders_are_filled_in_the_page_language() -> None:
    assert translate("en", "Bird {bird}", bird="0007") == "Bird 0007"
    assert translate("zh-CN", "Bird {bird}", bird="0007") == "鸡只 0007"
    assert translate("zh-CN", "Entry {entry} did NOT verify: {check}.") == (
        "记录 {entry} 未通过核验：{check}。"
    )  # left for the in-browser verifier to fill


def test_a_fuzzy_or_missing_translation_falls_back_to_english() -> None:
    catalog = Catalog(locale=LOCALES["zh-CN"])
    catalog.add("Timeline", "时间线")
    catalog.add("Proof", "证明", flags=("fuzzy",))
    po = BytesIO()
    write_po(po, catalog)
    compiled = compile_catalogue(BytesIO(po.getvalue()), LOCALES["zh-CN"])
    assert compiled.gettext("Timeline") == "时间线"
    assert compiled.gettext("Proof") == "Proof"
    assert compiled.gettext("Details") == "Details"


@pytest.mark.parametrize(
    "source",
    [b'msgid "Proof"\nmsgid "Details"\nmsgstr ""\n', b"not a catalogue\n", b'msgid "x"\n'],
)
def test_a_broken_catalogue_is_a_malformed_error(source: bytes) -> None:
    with pytest.raises(MalformedError):
        compile_catalogue(BytesIO(source), LOCALES["zh-CN"])


def test_unknown_language_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        translations("fr")
    assert set(LANGUAGES) == {"en", *LOCALES}


def test_pages_keep_the_public_language_tag(client: FlaskClient) -> None:
    html = client.get("/bird/0001?lang=zh-CN").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "全部经过" in html and "zh_Hans" not in html
    assert 'data-msg-fail="记录 {entry} 未通过核验：{check}。"' in html
    assert 'data-check-entry-signature="记录签名"' in html
