"""The Chinese catalog of the staff and administrators' pages is complete: every text the pages
and their Python code mark for translation has a Chinese entry with the same placeholders, and no
entry is left over."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Message
from babel.messages.extract import extract, extract_python
from babel.messages.pofile import read_po
from flask import Flask
from jinja2.ext import babel_extract

from api import i18n

API = Path(__file__).resolve().parents[1] / "api"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_messages(
    modules: tuple[str, ...] = ("i18n.py", "web*.py", "admin_*.py"),
    templates: tuple[str, ...] = ("staff", "admin"),
) -> set[str]:
    """Msgids marked in those modules and template folders; a plural by its singular."""
    found: list[str | tuple[str, ...]] = []
    for path in sorted(p for pattern in modules for p in API.glob(pattern)):
        with path.open("rb") as source:
            found.extend(m for _, m, _, _ in extract(extract_python, source, keywords=KEYWORDS))
    options = {"extensions": "jinja2.ext.i18n"}
    for folder in templates:
        for path in sorted((API / "templates" / folder).glob("*.html")):
            with path.open("rb") as source:
                found.extend(
                    m for _, m, _, _ in extract(babel_extract, source, KEYWORDS, options=options)
                )
    return {m if isinstance(m, str) else m[0] for m in found}


def zh_catalog():
    with (i18n.TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale="zh")


def test_every_text_of_the_staff_pages_has_a_chinese_translation() -> None:
    catalog = zh_catalog()
    used = used_messages()
    assert len(used) > 100
    missing = sorted(m for m in used if not catalog.get(m) or not all(texts(catalog.get(m))))
    assert missing == []
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert fuzzy == []


def test_the_chinese_catalog_has_no_left_over_entries() -> None:
    used = used_messages()
    ids = [m.id if isinstance(m.id, str) else m.id[0] for m in zh_catalog() if m.id]
    assert sorted(i for i in ids if i not in used) == []


def texts(message: Message) -> tuple[str, ...]:
    """The translation, or each plural form of it."""
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_translations_keep_their_placeholders() -> None:
    for message in zh_catalog():
        if message.id:
            singular = message.id if isinstance(message.id, str) else message.id[0]
            for translated in texts(message):
                assert sorted(PLACEHOLDER.findall(singular)) == sorted(
                    PLACEHOLDER.findall(translated)
                ), message.id


def test_form_messages_of_the_forms_package_are_all_read_in_chinese() -> None:
    """forms/README.md lists the English messages; the pages show each in Chinese."""
    readme = (API.parent / "forms" / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Messages", 1)[1].split("## API", 1)[0]
    listed = re.findall(r"`([A-Z][^`]*\.)`", section)
    assert len(listed) > 25
    samples = {"{min}": "2", "{max}": "9", "{choices}": "high, low"}
    app = Flask(__name__)
    i18n.init_app(app)
    with app.test_request_context("/?lang=zh"):
        for message in listed:
            for name, value in samples.items():
                message = message.replace(name, value)
            shown = i18n.form_message(message)
            assert re.search(r"[\u4e00-\u9fff]", shown), (message, shown)
            assert "{" not in shown and "%(" not in shown
    with app.test_request_context("/?lang=en"):
        assert i18n.form_message("Longer than maximum length 200.") == "At most 200 characters."
        assert i18n.form_message("Something new.") == "Something new."
