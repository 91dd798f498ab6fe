"""Text no database can store, refused where it enters a request.

PostgreSQL refuses a NUL character in text and JSON, and no driver can encode a lone UTF-16
surrogate (JSON's "\\ud800"): either would fail deep inside a statement (a 500 after work was
done) or, on SQLite, be stored and break every page and export that later shows it. No honest
client sends them, so a request carrying one in its query, path, form or JSON body is refused
with a 4xx naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

PROBLEM = "contains a character that cannot be stored (NUL or an unpaired surrogate)"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def unstorable_in_json(value: Any, path: str = "") -> str | None:
    """The path (`data.note`, `items[2]`) of the first text in a parsed JSON value, key or
    string, that cannot be stored; None when all can."""
    if isinstance(value, str):
        return path or "body" if unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if unstorable(key):
                return path or "body"
            found = unstorable_in_json(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_in_json(item, f"{path or 'body'}[{index}]")
            if found is not None:
                return found
    return None


class UnstorableText(BadRequest):
    """400 naming the query argument, path part or form field at fault."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: {PROBLEM}")
        self.fields = {name: [PROBLEM]}


def refuse_unstorable_text() -> None:
    """`before_request` of the whole app: the query, the path and the form."""
    for name, text in _request_texts():
        if unstorable(text):
            raise UnstorableText(name if not unstorable(name) else "query")


def _request_texts() -> Iterator[tuple[str, str]]:
    for name, values in request.args.lists():
        yield name, name
        for value in values:
            yield name, value
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            yield name, value
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, values in request.form.lists():
            yield name, name
            for value in values:
                yield name, value
