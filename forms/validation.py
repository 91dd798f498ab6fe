"""The runtime side of a form: `Field`, `CompiledForm` and the marshmallow schema that cleans a
submission. Kept apart from the compiler so that checking a form file (once, at deploy time) and
validating submitted data (on every task completion) read and change independently.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, pre_load
from marshmallow import fields as mm
from marshmallow import validate as mv

Text = dict[str, str]
"""Bilingual text: exactly the keys ``zh`` and ``en``."""

# The messages this module adds to marshmallow's own; the README lists them all so the web layer
# can translate them.
UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "Read-only field."
CONTROL_CHARACTERS = "Contains control characters."
INVALID_DATE = "Not a valid date (YYYY-MM-DD)."
INVALID_DATE_TIME = "Not a valid date and time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])."
INVALID_FILE = "Not a valid attachment reference."
PATTERN_MISMATCH = "Does not match the required pattern."
DUPLICATE_VALUES = "Contains duplicate values."
TOO_FEW_ITEMS = "Choose at least {min}."
TOO_MANY_ITEMS = "Choose at most {max}."
ITEM_COUNT = "Choose between {min} and {max}."

# C0 controls other than tab and newline, and DEL: PostgreSQL's JSONB refuses NUL outright, and
# none of them can be typed into a form honestly; nor can a lone UTF-16 surrogate (JSON's
# "\ud800"), which no database driver can encode and which would break every page showing it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
# Browsers submit textarea line breaks as CRLF but count them as one character for maxlength;
# normalising first keeps the server's length check in step with the browser's.
_LINE_BREAK = re.compile(r"\r\n?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
# An attachment reference is an id the upload endpoint issued, never a path: no slashes, no
# leading dot, so it cannot walk out of the attachment store.
_FILE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,30}")
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Field:
    """One input of a form, as the web layer renders it and the schema checks it.

    `default` is ``None`` when the form gives none (``null`` is never a valid value). `enum` pairs
    each allowed value with its bilingual title, in the order the form lists them; for an array it
    describes the items.
    """

    name: str
    type: str
    title: Text
    help: Text | None = None
    required: bool = False
    widget: str = "text"
    enum: list[tuple[str, Text]] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_items: int | None = None
    max_items: int | None = None
    format: str | None = None
    default: Any = None
    read_only: bool = False

    @property
    def enum_values(self) -> list[str] | None:
        """The allowed values without their titles, or None when the field is free input."""
        return None if self.enum is None else [value for value, _title in self.enum]


@dataclass(frozen=True)
class CompiledForm:
    """A checked form: its texts, its fields in display order and the schema that cleans input.

    Build it with `forms.compile_form` or `forms.load_form`; constructing it directly skips the
    checks of the form file.
    """

    key: str
    title: Text
    description: Text | None
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        # Built once per form, not per submission; kept off the dataclass fields so that
        # equality, repr and dataclasses.asdict see only the description of the form.
        object.__setattr__(self, "_schema", build_schema(self.key, self.fields))
        read_only = frozenset(field.name for field in self.fields if field.read_only)
        object.__setattr__(self, "_read_only", read_only)

    @property
    def schema(self) -> Schema:
        """The marshmallow schema instance behind `validate` (for OpenAPI generation, say)."""
        return self._schema  # type: ignore[attr-defined]

    def validate(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Clean submitted data: return ``(clean, errors)``; act on `clean` only if no errors.

        `errors` maps a field name to its messages (``"_schema"`` when `data` is not a mapping);
        on errors `clean` holds just the fields that passed, for redisplay. Clean values are
        JSON types only: dates stay ISO strings. Nothing in `data` is ever evaluated.
        """
        try:
            clean = self.schema.load(data)
        except ValidationError as error:
            errors = _errors_by_field(error.messages, self._read_only)  # type: ignore[attr-defined]
            valid = error.valid_data if isinstance(error.valid_data, Mapping) else {}
            # marshmallow keeps the good items of a bad list; a field with errors is not clean.
            return {name: value for name, value in valid.items() if name not in errors}, errors
        return dict(clean), {}


class _FormSchema(Schema):
    """Base of every generated form schema: unknown keys are errors, blank strings are absent."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _blank_is_absent(self, data: Any, **_kwargs: Any) -> Any:
        """Strip strings and drop blank ones and nulls, so an empty optional input is not given.

        An HTML form posts "" and a JSON client sends null for "nothing here"; both mean absent.
        Only writable fields are touched: a blank read-only or unknown key must still be refused.
        """
        if not isinstance(data, Mapping):
            return data  # marshmallow reports the wrong input type itself
        writable = {field.data_key for field in self.load_fields.values()}
        cleaned: dict[Any, Any] = {}
        for key, value in data.items():
            if key in writable and isinstance(value, str):
                value = value.strip()
            if key in writable and (value is None or value == ""):
                continue
            cleaned[key] = value
        return cleaned


class _Text(mm.String):
    """A string that must really be a str, with line breaks normalised and edges stripped."""

    default_error_messages = {"control": CONTROL_CHARACTERS}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):  # marshmallow's String would decode bytes
            raise self.make_error("invalid")
        text = _LINE_BREAK.sub("\n", value).strip()
        if _CONTROL.search(text):
            raise self.make_error("control")
        return text


class _IsoDate(_Text):
    """A calendar date, checked but returned as its ISO string so task data stays JSON."""

    default_error_messages = {"date": INVALID_DATE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _DATE.fullmatch(text):
            raise self.make_error("date")
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError as error:
            raise self.make_error("date") from error


class _IsoDateTime(_Text):
    """A date and time, returned as a canonical ISO string; an offset is kept if given."""

    default_error_messages = {"date_time": INVALID_DATE_TIME}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _DATE_TIME.fullmatch(text):
            raise self.make_error("date_time")
        try:
            return datetime.fromisoformat(text).isoformat()
        except ValueError as error:
            raise self.make_error("date_time") from error


class _FileRef(_Text):
    """The id of an uploaded attachment; the store that issued it checks that it exists."""

    default_error_messages = {"file": INVALID_FILE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _FILE_REF.fullmatch(text):
            raise self.make_error("file")
        return text


class _Integer(mm.Integer):
    """An integer from JSON or from form text; refuses booleans and silently truncated floats."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, str):
            text = value.strip()
            if not _INTEGER_TEXT.fullmatch(text):
                raise self.make_error("invalid", input=value)
            return int(text)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise self.make_error("invalid", input=value)


class _Number(mm.Float):
    """A finite number from JSON or from plain decimal text (no ``1_000``, no ``nan``)."""

    def _validated(self, value: Any) -> float:
        if isinstance(value, str):
            if not _NUMBER_TEXT.fullmatch(value.strip()):
                raise self.make_error("invalid", input=value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class _Choices(mm.List):
    """A list of enum strings; only a real JSON array is accepted, never a lone string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise self.make_error("invalid")
        return super()._deserialize(list(value), attr, data, **kwargs)


class _Pattern(mv.Validator):
    """JSON Schema ``pattern``: the expression may match anywhere; anchor it to match whole."""

    error = PATTERN_MISMATCH

    def __init__(self, pattern: str) -> None:
        self.regex = re.compile(pattern)

    def __call__(self, value: str) -> str:
        if self.regex.search(value) is None:
            raise ValidationError(self.error)
        return value


class _ItemCount(mv.Length):
    """Length of a choice list, in words a person choosing checkboxes understands."""

    message_min = TOO_FEW_ITEMS
    message_max = TOO_MANY_ITEMS
    message_all = ITEM_COUNT


def _distinct(values: list[str]) -> list[str]:
    """Refuse repeated choices: they would make minItems/maxItems count one choice twice."""
    if len(set(values)) != len(values):
        raise ValidationError(DUPLICATE_VALUES)
    return values


def _string_field(field: Field, **kwargs: Any) -> mm.Field:
    validators: list[Callable[[Any], Any]] = []
    if field.min_length is not None or field.max_length is not None:
        validators.append(mv.Length(min=field.min_length, max=field.max_length))
    if field.pattern is not None:
        validators.append(_Pattern(field.pattern))
    if field.enum is not None:
        validators.append(mv.OneOf(field.enum_values or []))
    if field.format == "email":
        validators.append(mv.Email())
    kind = {"date": _IsoDate, "date-time": _IsoDateTime, "file": _FileRef}.get(
        field.format or "", _Text
    )
    return kind(validate=validators, **kwargs)


def _number_field(field: Field, **kwargs: Any) -> mm.Field:
    validators = []
    if field.minimum is not None or field.maximum is not None:
        validators.append(mv.Range(min=field.minimum, max=field.maximum))
    kind = _Integer if field.type == "integer" else _Number
    return kind(validate=validators, **kwargs)


def _array_field(field: Field, **kwargs: Any) -> mm.Field:
    validators: list[Callable[[Any], Any]] = [_distinct]
    if field.min_items is not None or field.max_items is not None:
        validators.append(_ItemCount(min=field.min_items, max=field.max_items))
    inner = _Text(validate=mv.OneOf(field.enum_values or []))
    return _Choices(inner, validate=validators, **kwargs)


def _boolean_field(field: Field, **kwargs: Any) -> mm.Field:
    # marshmallow's truthy/falsy sets include "on", which an HTML checkbox sends.
    return mm.Boolean(**kwargs)


_BUILDERS: dict[str, Callable[..., mm.Field]] = {
    "string": _string_field,
    "integer": _number_field,
    "number": _number_field,
    "boolean": _boolean_field,
    "array": _array_field,
}


def marshmallow_field(field: Field) -> mm.Field:
    """The marshmallow field for `field`, keyed by its name in input and in output.

    A default fills in an absent optional field (so gateway conditions can rely on the variable);
    on a required field it only prefills the widget.
    """
    kwargs: dict[str, Any] = {
        "data_key": field.name,
        "attribute": field.name,
        "required": field.required and not field.read_only,
        "dump_only": field.read_only,
    }
    if field.default is not None and not field.required and not field.read_only:
        kwargs["load_default"] = functools.partial(copy.deepcopy, field.default)
    return _BUILDERS[field.type](field, **kwargs)


def build_schema(key: str, fields: Sequence[Field]) -> Schema:
    """A schema instance for one form; generated through `Schema.from_dict`.

    Class attributes are positional (``field_0``...) and the form's names go into ``data_key``:
    a property called ``load`` or ``validate`` must not shadow the Schema's own methods.
    """
    declared = {f"field_{index}": marshmallow_field(field) for index, field in enumerate(fields)}
    name = "".join(part.capitalize() for part in key.split("_")) + "Form"
    return _FormSchema.from_dict(declared, name=name)()


def clean_value(field: Field, value: Any) -> Any:
    """Run one value through the field's checks (the compiler uses it to check defaults).

    Raises `ValidationError` with the same messages a submission would get.
    """
    plain = replace(field, default=None, required=False, read_only=False)
    return marshmallow_field(plain).deserialize(value)


def flatten_messages(node: Any) -> list[str]:
    """marshmallow nests errors (list items by index); a form shows one flat list per field."""
    if isinstance(node, str):
        found = [node]
    elif isinstance(node, Mapping):
        found = [message for value in node.values() for message in flatten_messages(value)]
    elif isinstance(node, list | tuple):
        found = [message for value in node for message in flatten_messages(value)]
    else:
        found = [str(node)]
    return list(dict.fromkeys(found))


def _errors_by_field(messages: Any, read_only: frozenset[str]) -> dict[str, list[str]]:
    """Field name -> messages, naming a read-only field as such rather than as unknown."""
    if not isinstance(messages, Mapping):
        return {"_schema": flatten_messages(messages)}
    errors: dict[str, list[str]] = {}
    for key, node in messages.items():
        name = str(key)
        found = flatten_messages(node)
        if name in read_only:
            found = [READ_ONLY_FIELD if message == UNKNOWN_FIELD else message for message in found]
        errors[name] = found
    return errors
