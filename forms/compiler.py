"""Compiles a form file (a JSON Schema subset with bilingual titles and UI hints) into a
`CompiledForm`. Every check of the file happens here, once, so that a bundle with a bad form is
refused at deploy time rather than when a clerk first opens the task.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from marshmallow import ValidationError

from forms.validation import CompiledForm, Field, Text, clean_value, flatten_messages

LANGUAGES = ("zh", "en")
FORMATS = ("date", "date-time", "email", "file")
TYPES = ("string", "integer", "number", "boolean", "array")

_ROOT_KEYWORDS = frozenset(
    {"$schema", "$comment", "title", "description", "type", "required", "properties"}
)
_COMMON_KEYWORDS = frozenset({"$comment", "type", "title", "help", "widget", "default", "readOnly"})
_TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "string": frozenset({"minLength", "maxLength", "pattern", "enum", "enumTitles", "format"}),
    "integer": frozenset({"minimum", "maximum"}),
    "number": frozenset({"minimum", "maximum"}),
    "boolean": frozenset(),
    "array": frozenset({"items", "minItems", "maxItems"}),
}
_ITEM_KEYWORDS = frozenset({"type", "enum", "enumTitles"})
# Form keys are file stems and BPMN formKey values; property names become process variables
# that gateway conditions read as Python names, so both are plain snake_case.
_SNAKE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ABSENT: Any = object()


class FormError(ValueError):
    """A form file that cannot be compiled; names the form and the JSON path of the problem.

    `path` is dotted, with list positions in brackets (``properties.days.minimum``,
    ``required[1]``); it is empty for problems with the file as a whole, where `line` and
    `column` locate malformed JSON.
    """

    def __init__(
        self,
        form: str,
        path: str,
        detail: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.form = form
        self.path = path
        self.detail = detail
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"form {self.form!r}"
        if self.path:
            where += f" at {self.path}"
        if self.line is not None:
            where += f" at line {self.line}, column {self.column}"
        return f"{where}: {self.detail}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments would otherwise be lost when the error crosses a process.
        return (_rebuild_error, (self.form, self.path, self.detail, self.line, self.column))


def _rebuild_error(
    form: str, path: str, detail: str, line: int | None, column: int | None
) -> FormError:
    return FormError(form, path, detail, line=line, column=column)


class _Problem(Exception):
    """Raised by the checks, which do not know the form key; `compile_form` adds it."""

    def __init__(
        self, path: str, detail: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(detail)
        self.path = path
        self.detail = detail
        self.line = line
        self.column = column


def compile_form(key: str, source: bytes | str | Mapping[str, Any]) -> CompiledForm:
    """Check a form document (file bytes, JSON text or an already parsed mapping) and compile it.

    Raises `FormError` on the first problem found, naming the form and the path.
    """
    try:
        if not isinstance(key, str) or not _SNAKE.fullmatch(key):
            raise _Problem("", "form key must be snake_case: a-z, digits and _, at most 64")
        return _compile(key, _parse(source))
    except _Problem as problem:
        raise FormError(
            str(key), problem.path, problem.detail, line=problem.line, column=problem.column
        ) from None


def load_form(path: Path) -> CompiledForm:
    """Compile ``forms/<form_key>.json``: the file stem is the form key BPMN refers to."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FormError(path.stem, "", f"cannot read {path}: {error.strerror}") from error
    return compile_form(path.stem, raw)


# Parsing ------------------------------------------------------------------------------------


def _parse(source: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, bytes | bytearray):
        try:
            text = bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _Problem("", f"not UTF-8 text (byte {error.start})") from None
    elif isinstance(source, str):
        text = source.removeprefix("\ufeff")
    else:
        raise _Problem("", f"cannot read a form from {type(source).__name__}")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise _Problem("", f"malformed JSON: {error.msg}", error.lineno, error.colno) from None
    if not isinstance(document, Mapping):
        raise _Problem("", "a form must be a JSON object")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of repeated keys silently; in a form that hides an edit."""
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise _Problem("", f"malformed JSON: key {name!r} appears twice in one object")
        document[name] = value
    return document


def _no_constant(name: str) -> NoReturn:
    raise _Problem("", f"malformed JSON: {name} is not a JSON number")


# The form as a whole --------------------------------------------------------------------------


def _compile(key: str, document: Mapping[str, Any]) -> CompiledForm:
    _known_keywords(document, _ROOT_KEYWORDS, "")
    _comments(document, "")
    if "$schema" in document and not isinstance(document["$schema"], str):
        raise _Problem("$schema", "must be a string")
    if document.get("type", _ABSENT) != "object":
        raise _Problem("type", 'a form must have "type": "object"')
    title = _text(document.get("title", _ABSENT), "title", "title")
    description = _optional_text(document, "description", "")
    properties = document.get("properties", _ABSENT)
    if not isinstance(properties, Mapping):
        raise _Problem("properties", "must be an object of fields (it may be empty)")
    required = _required_names(document.get("required", []))
    fields = tuple(
        _compile_field(name, spec, name in required, _at("properties", str(name)))
        for name, spec in properties.items()
    )
    _check_required(required, {field.name: field for field in fields})
    return CompiledForm(key=key, title=title, description=description, fields=fields)


def _required_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Problem("required", "must be a list of property names")
    for index, name in enumerate(value):
        if not isinstance(name, str):
            raise _Problem(_item("required", index), "must be a property name")
        if name in value[:index]:
            raise _Problem(_item("required", index), f"{name!r} is listed twice")
    return value


def _check_required(required: list[str], fields: Mapping[str, Field]) -> None:
    for index, name in enumerate(required):
        if name not in fields:
            raise _Problem(_item("required", index), f"names no property: {name!r}")
        if fields[name].read_only:
            raise _Problem(_item("required", index), f"{name!r} is readOnly: it cannot be required")


# One field ----------------------------------------------------------------------------------


def _compile_field(name: str, spec: Any, required: bool, path: str) -> Field:
    if not isinstance(name, str) or not _SNAKE.fullmatch(name) or keyword.iskeyword(name):
        raise _Problem(path, "property names must be snake_case identifiers (a-z, digits, _)")
    if not isinstance(spec, Mapping):
        raise _Problem(path, "must be an object describing the field")
    kind = spec.get("type", _ABSENT)
    if kind is _ABSENT:
        raise _Problem(_at(path, "type"), f"missing; use {_listing(TYPES)}")
    if kind not in TYPES:
        raise _Problem(_at(path, "type"), f"unsupported type {kind!r}; use {_listing(TYPES)}")
    _known_keywords(spec, _COMMON_KEYWORDS | _TYPE_KEYWORDS[kind], path)
    _comments(spec, path)
    constraints = _CONSTRAINTS[kind](spec, path)
    field = Field(
        name=name,
        type=kind,
        title=_text(spec.get("title", _ABSENT), _at(path, "title"), "title"),
        help=_optional_text(spec, "help", path),
        required=required,
        read_only=_flag(spec, "readOnly", path),
        **constraints,
    )
    field = replace(field, widget=_widget(spec, field, path))
    if "default" in spec:
        field = replace(field, default=_default(field, spec["default"], _at(path, "default")))
    return field


def _string(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    min_length = _count(spec, "minLength", path)
    max_length = _count(spec, "maxLength", path)
    _ordered(min_length, max_length, _at(path, "maxLength"), "minLength")
    fmt = spec.get("format")
    if "format" in spec and fmt not in FORMATS:
        raise _Problem(_at(path, "format"), f"unsupported format {fmt!r}; use {_listing(FORMATS)}")
    enum = _enum(spec, path)
    if enum is not None and fmt is not None:
        raise _Problem(_at(path, "format"), "an enum field takes no format")
    return {
        "min_length": min_length,
        "max_length": max_length,
        "pattern": _pattern(spec, path),
        "format": fmt,
        "enum": enum,
    }


def _integer(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    return _bounds(spec, path, integral=True)


def _number(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    return _bounds(spec, path, integral=False)


def _boolean(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {}


def _array(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    items_path = _at(path, "items")
    items = spec.get("items", _ABSENT)
    if not isinstance(items, Mapping):
        raise _Problem(items_path, 'an array needs "items": {"type": "string", "enum": [...]}')
    _known_keywords(items, _ITEM_KEYWORDS, items_path)
    if items.get("type", _ABSENT) != "string":
        raise _Problem(_at(items_path, "type"), 'array items must be of "type": "string"')
    if "enum" not in items:
        raise _Problem(_at(items_path, "enum"), "array items must list their allowed values")
    enum = _enum(items, items_path)
    assert enum is not None  # "enum" is present, so _enum returned the choices or raised
    min_items = _count(spec, "minItems", path)
    max_items = _count(spec, "maxItems", path)
    _ordered(min_items, max_items, _at(path, "maxItems"), "minItems")
    if min_items is not None and min_items > len(enum):
        raise _Problem(_at(path, "minItems"), f"more than the {len(enum)} values there are")
    return {"enum": enum, "min_items": min_items, "max_items": max_items}


_CONSTRAINTS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "array": _array,
}


def _enum(spec: Mapping[str, Any], path: str) -> list[tuple[str, Text]] | None:
    """Allowed values with their titles: a value a person cannot read is a value they guess."""
    if "enum" not in spec:
        if "enumTitles" in spec:
            raise _Problem(_at(path, "enumTitles"), "enumTitles without an enum")
        return None
    values = spec["enum"]
    enum_path = _at(path, "enum")
    if not isinstance(values, list) or not values:
        raise _Problem(enum_path, "must be a non-empty list of strings")
    for index, value in enumerate(values):
        # Input is stripped before comparison, so a value with edge spaces could never match.
        if not isinstance(value, str) or not value or value != value.strip():
            raise _Problem(_item(enum_path, index), "must be a non-blank string, no edge spaces")
        if value in values[:index]:
            raise _Problem(_item(enum_path, index), f"{value!r} is listed twice")
    titles_path = _at(path, "enumTitles")
    titles = spec.get("enumTitles", _ABSENT)
    if not isinstance(titles, Mapping):
        raise _Problem(titles_path, "an enum needs enumTitles: a bilingual title for every value")
    for value in titles:
        if value not in values:
            raise _Problem(_at(titles_path, value), "is not one of the enum values")
    return [
        (value, _text(titles.get(value, _ABSENT), _at(titles_path, value), "enum title"))
        for value in values
    ]


def _bounds(spec: Mapping[str, Any], path: str, *, integral: bool) -> dict[str, Any]:
    found: dict[str, int | float | None] = {}
    number_types = (int,) if integral else (int, float)
    for name in ("minimum", "maximum"):
        value = spec.get(name, _ABSENT)
        if value is _ABSENT:
            found[name] = None
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, number_types)
            or not math.isfinite(value)
        ):
            raise _Problem(_at(path, name), f"must be {'an integer' if integral else 'a number'}")
        found[name] = value
    _ordered(found["minimum"], found["maximum"], _at(path, "maximum"), "minimum")
    return found


def _pattern(spec: Mapping[str, Any], path: str) -> str | None:
    pattern = spec.get("pattern", _ABSENT)
    if pattern is _ABSENT:
        return None
    if not isinstance(pattern, str):
        raise _Problem(_at(path, "pattern"), "must be a regular expression string")
    try:
        re.compile(pattern)
    except re.error as error:
        raise _Problem(_at(path, "pattern"), f"not a valid regular expression: {error}") from None
    return pattern


def _widget_choices(field: Field) -> tuple[str, ...]:
    """Widgets that can render the field; the first is used when the form names none."""
    if field.type == "string":
        if field.enum is not None:
            return ("select", "radio")
        by_format = {"date": "date", "date-time": "datetime", "email": "email", "file": "file"}
        if field.format is not None:
            return (by_format[field.format],)
        return ("text", "textarea")
    return {
        "integer": ("number",),
        "number": ("number",),
        "boolean": ("checkbox", "radio"),
        "array": ("checkboxes", "multiselect"),
    }[field.type]


def _widget(spec: Mapping[str, Any], field: Field, path: str) -> str:
    choices = _widget_choices(field)
    widget = spec.get("widget", choices[0])
    if widget not in choices:
        raise _Problem(
            _at(path, "widget"), f"{widget!r} does not suit this field; use {_listing(choices)}"
        )
    return widget


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
}


def _default(field: Field, value: Any, path: str) -> Any:
    """A default must already be a valid value of the field: it may reach task data unchecked."""
    if not _JSON_TYPES[field.type](value):
        raise _Problem(path, f"must be a JSON {field.type}")
    if isinstance(value, str) and not value.strip():
        raise _Problem(path, "a blank default is no default; leave it out")
    try:
        return clean_value(field, value)
    except ValidationError as error:
        raise _Problem(path, " ".join(flatten_messages(error.messages))) from None


# Small shared checks ------------------------------------------------------------------------


def _text(value: Any, path: str, what: str) -> Text:
    """Bilingual text: both languages, each non-blank, nothing else."""
    if value is _ABSENT:
        raise _Problem(path, f'missing {what}: give {{"zh": "...", "en": "..."}}')
    if not isinstance(value, Mapping):
        raise _Problem(path, f'{what} must be an object {{"zh": "...", "en": "..."}}')
    for language in value:
        if language not in LANGUAGES:
            raise _Problem(_at(path, str(language)), "unknown language; use zh and en")
    for language in LANGUAGES:
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            raise _Problem(_at(path, language), f"missing {language} text of the {what}")
    return {language: value[language].strip() for language in LANGUAGES}


def _optional_text(spec: Mapping[str, Any], name: str, path: str) -> Text | None:
    if name not in spec:
        return None
    return _text(spec[name], _at(path, name), name)


def _known_keywords(spec: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    """Refuse what we do not understand: a misspelt "maxLenght" must not silently vanish."""
    for name in spec:
        if name not in allowed:
            raise _Problem(_at(path, str(name)), f"unknown keyword {name!r} here")


def _comments(spec: Mapping[str, Any], path: str) -> None:
    if "$comment" in spec and not isinstance(spec["$comment"], str):
        raise _Problem(_at(path, "$comment"), "must be a string")


def _flag(spec: Mapping[str, Any], name: str, path: str) -> bool:
    value = spec.get(name, False)
    if not isinstance(value, bool):
        raise _Problem(_at(path, name), "must be true or false")
    return value


def _count(spec: Mapping[str, Any], name: str, path: str) -> int | None:
    value = spec.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Problem(_at(path, name), "must be a non-negative integer")
    return value


def _ordered(low: float | None, high: float | None, path: str, low_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise _Problem(path, f"is less than {low_name}")


def _listing(names: tuple[str, ...]) -> str:
    return "one of: " + ", ".join(names)


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"
