"""Text no database can store, refused where it enters a request.

PostgreSQL refuses a NUL character in text and JSON, and no driver can encode a lone UTF-16
surrogate (JSON's "\\ud800"): either would fail deep inside a statement (a 500 after work was
done) or, on SQLite, be stored and break every page and export that later shows it. No honest
client sends them, so a request carrying one in its query, path, form or JSON body is refused
with a 4xx naming the field. The form is checked when a view first reads it, after its
blueprint has set the body's size limit, which parsing it any earlier would bypass."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Request, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import BadRequest

PROBLEM = "contains a character that cannot be stored (NUL or an unpaired surrogate)"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def unstorable_in_json(value: Any) -> str | None:
    """The path (`data.note`, `items[2]`) of a text in a parsed JSON value, key or string, that
    cannot be stored; None when all can. Walked without recursion: any nesting json.loads
    accepted must not fail here."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        where = path or "body"
        if isinstance(item, str):
            if unstorable(item):
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                if unstorable(key):
                    return where
                pending.append((f"{path}.{key}" if path else key, inner))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", inner) for index, inner in enumerate(item))
    return None


class UnstorableText(BadRequest):
    """400 naming the query argument, path part or form field at fault."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: {PROBLEM}")
        self.fields = {name: [PROBLEM]}


def refuse_unstorable_text() -> None:
    """`before_request` of the whole app: the query and the path."""
    _refuse_in(_fields("query", request.args))
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and unstorable(value):
            raise UnstorableText(name)


class CheckedRequest(Request):
    """The app's request: its form refuses unstorable text as it is parsed."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        try:
            _refuse_in(_fields("form", self.form))
        except UnstorableText:
            self.__dict__["form"] = ImmutableMultiDict()  # no later reader gets the text
            raise


def _fields(place: str, values: MultiDict[str, str]) -> Iterator[tuple[str, str]]:
    """(the field to name, a text), names included: a name that cannot be stored is named by
    where it stands."""
    for name, texts in values.lists():
        yield place, name
        for text in texts:
            yield name, text


def _refuse_in(texts: Iterator[tuple[str, str]]) -> None:
    for field, text in texts:
        if unstorable(text):
            raise UnstorableText(field)
