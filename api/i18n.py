"""Languages of the staff pages: Chinese by default, English on request (`?lang=en`, kept in the
session). Flask-Babel with catalogs read from `api/translations/*/LC_MESSAGES/messages.po`,
compiled in memory, so no binary `.mo` file has to be built or kept in step."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_babel import Babel, Domain, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SESSION_KEY = "lang"


class PoDomain(Domain):
    """Reads `messages.po` once per language and compiles it in memory (fuzzy entries skipped,
    as `pybabel compile` would)."""

    def __init__(self, directory: Path = TRANSLATIONS) -> None:
        super().__init__(translation_directories=[str(directory)])
        self._directory = directory
        self._lock = threading.Lock()

    def get_translations(self) -> support.NullTranslations:
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        name = str(locale)
        found = self.cache.get(name)
        if found is None:
            with self._lock:
                found = self.cache.get(name)
                if found is None:
                    found = self.cache[name] = load_catalog(self._directory, name)
        return found


def load_catalog(directory: Path, language: str) -> support.NullTranslations:
    path = directory / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return support.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return support.Translations(fp=compiled, domain="messages")


class StaffBabel(Babel):
    @property
    def domain_instance(self) -> Domain:  # type: ignore[override]
        domain = getattr(self, "_po_domain", None)
        if domain is None:
            domain = self._po_domain = PoDomain()
        return domain


def select_language() -> str:
    """`?lang=` of this request, else the one kept in the session, else Chinese."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = session.get(SESSION_KEY)
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


def remember_language() -> None:
    """`before_request` of the staff pages: a `?lang=` switch sticks for the session."""
    asked = request.args.get("lang")
    if asked in LANGUAGES and session.get(SESSION_KEY) != asked:
        session[SESSION_KEY] = asked


def current_language() -> str:
    locale = get_locale()
    language = locale.language if locale is not None else DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def text(value: Mapping[str, str] | None) -> str:
    """The current language's side of a bilingual `{"zh": ..., "en": ...}` text."""
    if not value:
        return ""
    return value.get(current_language()) or value.get(DEFAULT_LANGUAGE) or ""


def init_app(app: Flask) -> None:
    StaffBabel(
        app,
        default_locale=DEFAULT_LANGUAGE,
        default_timezone="Asia/Shanghai",
        locale_selector=select_language,
    )
    app.jinja_env.globals.update(
        tr=text,
        current_language=current_language,
        html_lang=lambda: HTML_LANG[current_language()],
        group_label=group_label,
        channel_label=channel_label,
        category_label=category_label,
    )


# ------------------------------------------------------------ labels of domain codes

GROUPS = {
    "intake": _l("Intake"),
    "petition_office": _l("Complaint office"),
    "enforcement": _l("Enforcement"),
    "department_head": _l("Department head"),
    "leader": _l("Leader"),
    "reviewer": _l("Reviewer"),
    "re_reviewer": _l("Re-reviewer"),
    "inspection_team": _l("Inspection team"),
    "discipline": _l("Discipline inspection"),
    "opinion_unit": _l("Opinion unit"),
    "admin": _l("Administrator"),
    "designer": _l("Process designer"),
}
CHANNELS = {
    "web": _l("Web"),
    "hotline": _l("12369 hotline"),
    "letter": _l("Letter"),
    "visit": _l("Visit"),
    "email": _l("E-mail"),
    "wechat": _l("WeChat"),
    "weibo": _l("Weibo"),
    "mailbox": _l("Leader's mailbox"),
    "platform": _l("Platform"),
}
CATEGORIES = {
    "air": _l("Air"),
    "water": _l("Water"),
    "noise": _l("Noise"),
    "soil": _l("Soil"),
    "solid_waste": _l("Solid waste"),
    "radiation": _l("Radiation"),
    "ecology": _l("Ecology"),
    "other": _l("Other"),
}
_BUREAU = re.compile(r"bureau:(\d{6})")


def group_label(group: str) -> str:
    if group in GROUPS:
        return str(GROUPS[group])
    bureau = _BUREAU.fullmatch(group)
    if bureau:
        return _("Bureau %(region)s", region=bureau.group(1))
    return group


def channel_label(code: object) -> str:
    return str(CHANNELS.get(code, code)) if isinstance(code, str) else ""


def category_label(code: object) -> str:
    return str(CATEGORIES.get(code, code)) if isinstance(code, str) else ""


# ------------------------------------------------------------ form validation messages

# The forms package answers in English (forms/README.md lists every message); the pages show
# them in the reader's language. Unknown messages pass through unchanged.
_FIXED = {
    "Missing data for required field.": _l("This field is required."),
    "Unknown field.": _l("This field is not part of the form."),
    "Read-only field.": _l("This field cannot be changed."),
    "Not a valid string.": _l("Not a valid text."),
    "Not a valid integer.": _l("Enter a whole number."),
    "Not a valid number.": _l("Enter a number."),
    "Number too large.": _l("The number is too large."),
    "Not a valid boolean.": _l("Choose yes or no."),
    "Not a valid list.": _l("Choose from the list."),
    "Not a valid email address.": _l("Enter a valid e-mail address."),
    "Field may not be null.": _l("Choose from the list."),
    "Special numeric values (nan or infinity) are not permitted.": _l("Enter a number."),
    "Invalid input type.": _l("The form could not be read."),
    "Contains control characters.": _l("Contains control characters."),
    "Not a valid date (YYYY-MM-DD).": _l("Enter a date (YYYY-MM-DD)."),
    "Not a valid date and time (YYYY-MM-DDTHH:MM[:SS][+HH:MM]).": _l("Enter a date and time."),
    "Not a valid attachment reference.": _l("Not a valid attachment reference."),
    "Does not match the required pattern.": _l("Does not match the required format."),
    "Contains duplicate values.": _l("Contains duplicate values."),
}
_PATTERNS = [
    (re.compile(r"Must be one of: .*\."), lambda m: _("Choose one of the offered values.")),
    (
        re.compile(r"Shorter than minimum length (\d+)\."),
        lambda m: _("At least %(min)s characters.", min=m.group(1)),
    ),
    (
        re.compile(r"Longer than maximum length (\d+)\."),
        lambda m: _("At most %(max)s characters.", max=m.group(1)),
    ),
    (
        re.compile(r"Length must be between (\d+) and (\d+)\."),
        lambda m: _("Between %(min)s and %(max)s characters.", min=m.group(1), max=m.group(2)),
    ),
    (
        re.compile(r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\."),
        lambda m: _("Between %(min)s and %(max)s.", min=m.group(1), max=m.group(2)),
    ),
    (
        re.compile(r"Must be greater than or equal to (\S+)\."),
        lambda m: _("At least %(min)s.", min=m.group(1)),
    ),
    (
        re.compile(r"Must be less than or equal to (\S+)\."),
        lambda m: _("At most %(max)s.", max=m.group(1)),
    ),
    (
        re.compile(r"Choose at least (\d+)\."),
        lambda m: _("Choose at least %(min)s.", min=m.group(1)),
    ),
    (re.compile(r"Choose at most (\d+)\."), lambda m: _("Choose at most %(max)s.", max=m.group(1))),
    (
        re.compile(r"Choose between (\d+) and (\d+)\."),
        lambda m: _("Choose between %(min)s and %(max)s.", min=m.group(1), max=m.group(2)),
    ),
]


def form_message(message: str) -> str:
    if message in _FIXED:
        return str(_FIXED[message])
    for pattern, render in _PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            return render(found)
    return message
