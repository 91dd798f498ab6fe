"""The form compiler and submission validation: every type and constraint, every compile error."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from forms import (
    READ_ONLY_FIELD,
    UNKNOWN_FIELD,
    CompiledForm,
    Field,
    FormError,
    compile_form,
    load_form,
)

REQUIRED = "Missing data for required field."


def text(en: str, zh: str = "中文") -> dict[str, str]:
    return {"zh": zh, "en": en}


def titled(value: str) -> dict[str, dict[str, str]]:
    return {value: text(value.capitalize())}


def form_with(required: list[str] | None = None, **properties: dict[str, Any]) -> CompiledForm:
    """A minimal form around the given properties; each gets a title unless it has one."""
    for spec in properties.values():
        spec.setdefault("title", text("Field"))
    document = {
        "title": text("Test form"),
        "type": "object",
        "required": required or [],
        "properties": properties,
    }
    return compile_form("test_form", document)


def accepts(form: CompiledForm, data: dict[str, Any]) -> dict[str, Any]:
    clean, errors = form.validate(data)
    assert errors == {}, errors
    return clean


def refuses(form: CompiledForm, data: dict[str, Any], name: str) -> list[str]:
    clean, errors = form.validate(data)
    assert name in errors, (clean, errors)
    assert name not in clean
    return errors[name]


# Strings --------------------------------------------------------------------------------------


def test_a_string_is_stripped_and_its_line_breaks_normalised() -> None:
    form = form_with(note={"type": "string"})
    assert accepts(form, {"note": "  first\r\nsecond\r  "}) == {"note": "first\nsecond"}


def test_a_string_field_refuses_a_number() -> None:
    form = form_with(note={"type": "string"})
    assert refuses(form, {"note": 5}, "note") == ["Not a valid string."]


def test_a_string_with_control_characters_is_refused() -> None:
    form = form_with(note={"type": "string"})
    assert refuses(form, {"note": "a\x00b"}, "note") == ["Contains control characters."]
    # a lone surrogate no database driver can encode, as JSON's "\ud800" gives it
    assert refuses(form, {"note": "a\ud800b"}, "note") == ["Contains control characters."]
    assert accepts(form, {"note": "a😀b"}) == {"note": "a😀b"}
    assert accepts(form, {"note": "a\tb"}) == {"note": "a\tb"}


def test_min_length_counts_characters_after_stripping() -> None:
    form = form_with(reason={"type": "string", "minLength": 2})
    assert accepts(form, {"reason": "理由"}) == {"reason": "理由"}
    assert refuses(form, {"reason": " x "}, "reason") == ["Shorter than minimum length 2."]


def test_max_length_counts_a_crlf_line_break_as_one_character() -> None:
    form = form_with(reason={"type": "string", "maxLength": 3})
    assert accepts(form, {"reason": "a\r\nb"}) == {"reason": "a\nb"}
    assert refuses(form, {"reason": "abcd"}, "reason") == ["Longer than maximum length 3."]


def test_a_pattern_matches_anywhere_unless_anchored() -> None:
    form = form_with(
        loose={"type": "string", "pattern": "[0-9]{6}"},
        code={"type": "string", "pattern": "^[0-9]{6}$"},
    )
    assert accepts(form, {"loose": "region 420102", "code": "420102"})
    assert refuses(form, {"code": "region 420102"}, "code") == [
        "Does not match the required pattern."
    ]
    assert refuses(form, {"loose": "no digits"}, "loose")


def test_an_enum_accepts_a_listed_value_and_refuses_any_other() -> None:
    form = form_with(
        decision={
            "type": "string",
            "enum": ["accept", "reject"],
            "enumTitles": {**titled("accept"), **titled("reject")},
        }
    )
    assert accepts(form, {"decision": " accept "}) == {"decision": "accept"}
    assert refuses(form, {"decision": "Accept"}, "decision") == ["Must be one of: accept, reject."]


def test_an_email_is_checked() -> None:
    form = form_with(email={"type": "string", "format": "email"})
    assert accepts(form, {"email": "li.ming@example.cn"}) == {"email": "li.ming@example.cn"}
    assert refuses(form, {"email": "li.ming"}, "email") == ["Not a valid email address."]


def test_a_file_reference_is_an_id_never_a_path() -> None:
    form = form_with(attachment={"type": "string", "format": "file"})
    assert accepts(form, {"attachment": "att_01HV3.pdf"}) == {"attachment": "att_01HV3.pdf"}
    for bad in ("../etc/passwd", "a/b", ".hidden", "x" * 201):
        assert refuses(form, {"attachment": bad}, "attachment") == [
            "Not a valid attachment reference."
        ]


# Dates stay strings -------------------------------------------------------------------------


def test_a_date_is_checked_but_kept_as_an_iso_string() -> None:
    form = form_with(due={"type": "string", "format": "date"})
    clean = accepts(form, {"due": "2024-02-29"})
    assert clean == {"due": "2024-02-29"}
    assert isinstance(clean["due"], str)


def test_an_impossible_or_non_iso_date_is_refused() -> None:
    form = form_with(due={"type": "string", "format": "date"})
    for bad in ("2023-02-29", "20240105", "2024-W01-1", "05/01/2024", "2024-1-5"):
        assert refuses(form, {"due": bad}, "due") == ["Not a valid date (YYYY-MM-DD)."]


def test_a_date_time_is_returned_as_a_canonical_iso_string() -> None:
    form = form_with(at={"type": "string", "format": "date-time"})
    assert accepts(form, {"at": "2024-03-01T09:30+08:00"}) == {"at": "2024-03-01T09:30:00+08:00"}
    assert accepts(form, {"at": "2024-03-01 09:30:15Z"}) == {"at": "2024-03-01T09:30:15+00:00"}


def test_a_date_time_without_offset_stays_without_one() -> None:
    form = form_with(at={"type": "string", "format": "date-time"})
    assert accepts(form, {"at": "2024-03-01T09:30"}) == {"at": "2024-03-01T09:30:00"}


def test_an_invalid_date_time_is_refused() -> None:
    form = form_with(at={"type": "string", "format": "date-time"})
    for bad in ("2024-03-01", "2024-03-01T25:00", "tomorrow", "2024-03-01T09:30+8"):
        assert refuses(form, {"at": bad}, "at") == [
            "Not a valid date and time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])."
        ]


# Numbers and booleans -------------------------------------------------------------------------


def test_an_integer_accepts_json_numbers_and_form_text() -> None:
    form = form_with(days={"type": "integer"})
    assert accepts(form, {"days": 7}) == {"days": 7}
    assert accepts(form, {"days": " 7 "}) == {"days": 7}
    assert accepts(form, {"days": 7.0}) == {"days": 7}


def test_an_integer_refuses_fractions_booleans_and_odd_text() -> None:
    form = form_with(days={"type": "integer"})
    for bad in (2.5, True, "1_000", "7.0", "seven", [7]):
        assert refuses(form, {"days": bad}, "days") == ["Not a valid integer."]


def test_an_integer_outside_minimum_and_maximum_is_refused() -> None:
    form = form_with(days={"type": "integer", "minimum": 1, "maximum": 30})
    assert accepts(form, {"days": 1}) == {"days": 1}
    assert accepts(form, {"days": 30}) == {"days": 30}
    message = "Must be greater than or equal to 1 and less than or equal to 30."
    assert refuses(form, {"days": 0}, "days") == [message]
    assert refuses(form, {"days": 31}, "days") == [message]


def test_a_number_accepts_fractions_and_refuses_non_finite_values() -> None:
    form = form_with(ratio={"type": "number", "minimum": 0, "maximum": 1.5})
    assert accepts(form, {"ratio": 0.25}) == {"ratio": 0.25}
    assert accepts(form, {"ratio": "1.5"}) == {"ratio": 1.5}
    assert refuses(form, {"ratio": "nan"}, "ratio") == ["Not a valid number."]
    assert refuses(form, {"ratio": float("inf")}, "ratio")
    assert refuses(form, {"ratio": False}, "ratio") == ["Not a valid number."]
    assert refuses(form, {"ratio": 1.6}, "ratio")
    assert refuses(form, {"ratio": -0.1}, "ratio")


def test_a_boolean_accepts_json_and_checkbox_values() -> None:
    form = form_with(violation_found={"type": "boolean"})
    assert accepts(form, {"violation_found": True}) == {"violation_found": True}
    assert accepts(form, {"violation_found": "on"}) == {"violation_found": True}
    assert accepts(form, {"violation_found": False}) == {"violation_found": False}
    assert refuses(form, {"violation_found": "maybe"}, "violation_found") == [
        "Not a valid boolean."
    ]


# Arrays -------------------------------------------------------------------------------------


def units_field(**extra: Any) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "string",
            "enum": ["enforcement", "ecology", "water"],
            "enumTitles": {**titled("enforcement"), **titled("ecology"), **titled("water")},
        },
        **extra,
    }


def test_an_array_accepts_distinct_listed_values() -> None:
    form = form_with(units=units_field())
    assert accepts(form, {"units": ["water", "ecology"]}) == {"units": ["water", "ecology"]}


def test_an_array_refuses_an_unlisted_value_duplicates_and_a_lone_string() -> None:
    form = form_with(units=units_field())
    assert refuses(form, {"units": ["water", "air"]}, "units") == [
        "Must be one of: enforcement, ecology, water."
    ]
    assert refuses(form, {"units": ["water", "water"]}, "units") == ["Contains duplicate values."]
    assert refuses(form, {"units": "water"}, "units") == ["Not a valid list."]


def test_an_array_counts_its_items_against_min_and_max_items() -> None:
    form = form_with(units=units_field(minItems=1, maxItems=2))
    assert accepts(form, {"units": ["water"]})
    assert refuses(form, {"units": []}, "units") == ["Choose between 1 and 2."]
    assert refuses(form, {"units": ["water", "ecology", "enforcement"]}, "units") == [
        "Choose between 1 and 2."
    ]
    only_min = form_with(units=units_field(minItems=1))
    assert refuses(only_min, {"units": []}, "units") == ["Choose at least 1."]


# Presence, defaults, unknown and read-only ------------------------------------------------------


def test_a_missing_required_field_is_reported_under_its_name() -> None:
    form = form_with(required=["reason"], reason={"type": "string"})
    assert refuses(form, {}, "reason") == [REQUIRED]


def test_a_blank_required_string_counts_as_missing() -> None:
    form = form_with(required=["reason"], reason={"type": "string"})
    assert refuses(form, {"reason": "  \n "}, "reason") == [REQUIRED]


def test_a_blank_optional_string_becomes_absent() -> None:
    form = form_with(note={"type": "string", "minLength": 5}, days={"type": "integer"})
    assert accepts(form, {"note": "   ", "days": ""}) == {}


def test_a_null_counts_as_absent() -> None:
    form = form_with(required=["reason"], reason={"type": "string"}, days={"type": "integer"})
    assert refuses(form, {"reason": None, "days": None}, "reason") == [REQUIRED]
    assert accepts(form, {"reason": "ok", "days": None}) == {"reason": "ok"}


def test_a_default_fills_an_absent_optional_field() -> None:
    form = form_with(
        days={"type": "integer", "default": 15},
        violation_found={"type": "boolean", "default": False},
        units=units_field(default=["water"]),
    )
    clean = accepts(form, {"days": ""})
    assert clean == {"days": 15, "violation_found": False, "units": ["water"]}
    clean["units"].append("ecology")
    assert accepts(form, {})["units"] == ["water"], "each submission gets its own default"


def test_a_default_on_a_required_field_only_prefills_the_widget() -> None:
    form = form_with(required=["days"], days={"type": "integer", "default": 15})
    assert form.fields[0].default == 15
    assert refuses(form, {}, "days") == [REQUIRED]


def test_an_unknown_field_is_an_error_under_its_own_name() -> None:
    form = form_with(note={"type": "string"})
    clean, errors = form.validate({"note": "ok", "is_admin": True, "": "x"})
    assert errors == {"is_admin": [UNKNOWN_FIELD], "": [UNKNOWN_FIELD]}
    assert clean == {"note": "ok"}


def test_a_read_only_field_is_refused_as_read_only() -> None:
    form = form_with(tracking_number={"type": "string", "readOnly": True})
    assert refuses(form, {"tracking_number": "HB2024"}, "tracking_number") == [READ_ONLY_FIELD]
    assert refuses(form, {"tracking_number": ""}, "tracking_number") == [READ_ONLY_FIELD]
    assert accepts(form, {}) == {}


def test_a_read_only_default_is_for_display_and_never_enters_clean_data() -> None:
    form = form_with(status={"type": "string", "readOnly": True, "default": "open"})
    assert form.fields[0].default == "open"
    assert accepts(form, {}) == {}


def test_input_that_is_not_a_mapping_is_a_form_level_error() -> None:
    form = form_with(note={"type": "string"})
    assert form.validate(["note"]) == ({}, {"_schema": ["Invalid input type."]})  # type: ignore[arg-type]


def test_on_errors_clean_data_holds_only_the_fields_that_passed() -> None:
    form = form_with(note={"type": "string"}, units=units_field())
    clean, errors = form.validate({"note": "fine", "units": ["water", "air"]})
    assert clean == {"note": "fine"}
    assert list(errors) == ["units"]


def test_validation_never_evaluates_or_formats_the_data() -> None:
    form = form_with(note={"type": "string"}, days={"type": "integer"})
    payload = "__import__('os').system('false') {0.__class__} ${days} {{7*7}}"
    assert accepts(form, {"note": payload}) == {"note": payload}
    assert refuses(form, {"days": "__import__('os').getpid()"}, "days")
    assert refuses(form, {"days": "6*7"}, "days")


def test_validation_leaves_the_input_untouched() -> None:
    form = form_with(note={"type": "string"})
    data = {"note": "  padded  ", "extra": 1}
    before = copy.deepcopy(data)
    form.validate(data)
    assert data == before


def test_a_property_may_share_a_name_with_a_schema_method() -> None:
    form = form_with(load={"type": "integer"}, validate={"type": "string"})
    assert accepts(form, {"load": 3, "validate": "yes"}) == {"load": 3, "validate": "yes"}


def test_the_schema_is_generated_once_per_form() -> None:
    form = form_with(note={"type": "string"})
    schema = form.schema
    form.validate({"note": "a"})
    assert form.schema is schema
    assert type(schema).__name__ == "TestFormForm"


# Compile errors -----------------------------------------------------------------------------


def realistic_document() -> dict[str, Any]:
    """A form like the ones process designers write; tests break it one place at a time."""
    return {
        "$comment": "Triage after registration.",
        "title": text("Accept complaint", "受理投诉"),
        "description": text("Check whether the complaint can be accepted.", "审查是否受理。"),
        "type": "object",
        "required": ["decision", "reason"],
        "properties": {
            "tracking_number": {
                "type": "string",
                "readOnly": True,
                "title": text("Tracking number", "受理编号"),
            },
            "decision": {
                "type": "string",
                "enum": ["accept", "reject"],
                "enumTitles": {
                    "accept": text("Accept", "受理"),
                    "reject": text("Reject", "不予受理"),
                },
                "title": text("Decision", "决定"),
                "widget": "radio",
            },
            "reason": {
                "type": "string",
                "minLength": 2,
                "maxLength": 2000,
                "widget": "textarea",
                "title": text("Reason", "理由"),
                "help": text("State facts and grounds.", "写明事实和依据。"),
            },
            "due": {"type": "string", "format": "date", "title": text("Due date", "期限")},
            "days": {
                "type": "integer",
                "minimum": 1,
                "maximum": 30,
                "default": 15,
                "title": text("Days", "天数"),
            },
            "violation_found": {
                "type": "boolean",
                "default": False,
                "title": text("Violation found", "发现违法行为"),
            },
            "units": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "string",
                    "enum": ["enforcement", "ecology"],
                    "enumTitles": {
                        "enforcement": text("Enforcement", "执法支队"),
                        "ecology": text("Ecology", "生态处"),
                    },
                },
                "title": text("Units", "协办单位"),
            },
            "attachment": {
                "type": "string",
                "format": "file",
                "title": text("Attachment", "附件"),
            },
        },
    }


Mutation = Callable[[dict[str, Any]], Any]


def props(document: dict[str, Any]) -> dict[str, Any]:
    return document["properties"]


COMPILE_ERRORS: list[tuple[str, Mutation, str]] = [
    (
        "unknown root keyword",
        lambda d: d.update(additionalProperties=False),
        "additionalProperties",
    ),
    ("root type not object", lambda d: d.update(type="array"), "type"),
    ("root without type", lambda d: d.pop("type"), "type"),
    ("form without title", lambda d: d.pop("title"), "title"),
    ("form title without english", lambda d: d["title"].pop("en"), "title.en"),
    ("half description", lambda d: d["description"].update(zh=" "), "description.zh"),
    ("properties not an object", lambda d: d.update(properties=[]), "properties"),
    ("required not a list", lambda d: d.update(required="reason"), "required"),
    ("required names unknown", lambda d: d.update(required=["decision", "reasons"]), "required[1]"),
    ("required listed twice", lambda d: d.update(required=["reason", "reason"]), "required[1]"),
    (
        "required read-only",
        lambda d: d.update(required=["decision", "tracking_number"]),
        "required[1]",
    ),
    ("property name not snake", lambda d: props(d).update({"Due-Date": {}}), "properties.Due-Date"),
    ("property name a keyword", lambda d: props(d).update({"class": {}}), "properties.class"),
    ("property not an object", lambda d: props(d).update(due="date"), "properties.due"),
    ("property without type", lambda d: props(d)["due"].pop("type"), "properties.due.type"),
    ("unknown type", lambda d: props(d)["days"].update(type="float"), "properties.days.type"),
    ("object type", lambda d: props(d)["days"].update(type="object"), "properties.days.type"),
    (
        "unknown keyword",
        lambda d: props(d)["days"].update(multipleOf=5),
        "properties.days.multipleOf",
    ),
    (
        "keyword of another type",
        lambda d: props(d)["reason"].update(minimum=1),
        "properties.reason.minimum",
    ),
    (
        "misspelt keyword",
        lambda d: props(d)["reason"].update(maxLenght=5),
        "properties.reason.maxLenght",
    ),
    (
        "property without title",
        lambda d: props(d)["reason"].pop("title"),
        "properties.reason.title",
    ),
    (
        "property title without chinese",
        lambda d: props(d)["reason"]["title"].pop("zh"),
        "properties.reason.title.zh",
    ),
    (
        "property title in a third language",
        lambda d: props(d)["reason"]["title"].update(fr="Motif"),
        "properties.reason.title.fr",
    ),
    (
        "property title a plain string",
        lambda d: props(d)["reason"].update(title="Reason"),
        "properties.reason.title",
    ),
    (
        "half help",
        lambda d: props(d)["reason"]["help"].pop("en"),
        "properties.reason.help.en",
    ),
    (
        "integer minimum not an integer",
        lambda d: props(d)["days"].update(minimum=1.5),
        "properties.days.minimum",
    ),
    (
        "minimum a string",
        lambda d: props(d)["days"].update(minimum="1"),
        "properties.days.minimum",
    ),
    (
        "maximum below minimum",
        lambda d: props(d)["days"].update(maximum=0),
        "properties.days.maximum",
    ),
    (
        "negative min length",
        lambda d: props(d)["reason"].update(minLength=-1),
        "properties.reason.minLength",
    ),
    (
        "max length below min length",
        lambda d: props(d)["reason"].update(maxLength=1),
        "properties.reason.maxLength",
    ),
    (
        "pattern that does not compile",
        lambda d: props(d)["reason"].update(pattern="(unclosed"),
        "properties.reason.pattern",
    ),
    (
        "unknown format",
        lambda d: props(d)["due"].update(format="uri"),
        "properties.due.format",
    ),
    (
        "enum with a format",
        lambda d: props(d)["decision"].update(format="email"),
        "properties.decision.format",
    ),
    (
        "enum without enum titles",
        lambda d: props(d)["decision"].pop("enumTitles"),
        "properties.decision.enumTitles",
    ),
    (
        "enum value without a title",
        lambda d: props(d)["decision"]["enumTitles"].pop("reject"),
        "properties.decision.enumTitles.reject",
    ),
    (
        "enum title half translated",
        lambda d: props(d)["decision"]["enumTitles"]["reject"].pop("en"),
        "properties.decision.enumTitles.reject.en",
    ),
    (
        "enum title for no value",
        lambda d: props(d)["decision"]["enumTitles"].update(defer=text("Defer")),
        "properties.decision.enumTitles.defer",
    ),
    (
        "enum titles without enum",
        lambda d: props(d)["reason"].update(enumTitles={}),
        "properties.reason.enumTitles",
    ),
    ("empty enum", lambda d: props(d)["decision"].update(enum=[]), "properties.decision.enum"),
    (
        "enum value repeated",
        lambda d: props(d)["decision"].update(enum=["accept", "accept"]),
        "properties.decision.enum[1]",
    ),
    (
        "enum value with edge spaces",
        lambda d: props(d)["decision"].update(enum=["accept", "reject "]),
        "properties.decision.enum[1]",
    ),
    ("array without items", lambda d: props(d)["units"].pop("items"), "properties.units.items"),
    (
        "array of integers",
        lambda d: props(d)["units"]["items"].update(type="integer"),
        "properties.units.items.type",
    ),
    (
        "array items without enum",
        lambda d: props(d)["units"].update(items={"type": "string"}),
        "properties.units.items.enum",
    ),
    (
        "array item without a title",
        lambda d: props(d)["units"]["items"]["enumTitles"].pop("ecology"),
        "properties.units.items.enumTitles.ecology",
    ),
    (
        "array items with unknown keyword",
        lambda d: props(d)["units"]["items"].update(minLength=1),
        "properties.units.items.minLength",
    ),
    (
        "min items beyond the choices",
        lambda d: props(d)["units"].update(minItems=3),
        "properties.units.minItems",
    ),
    (
        "max items below min items",
        lambda d: props(d)["units"].update(maxItems=0),
        "properties.units.maxItems",
    ),
    (
        "widget that does not suit",
        lambda d: props(d)["days"].update(widget="radio"),
        "properties.days.widget",
    ),
    (
        "unknown widget",
        lambda d: props(d)["reason"].update(widget="richtext"),
        "properties.reason.widget",
    ),
    (
        "default outside the bounds",
        lambda d: props(d)["days"].update(default=45),
        "properties.days.default",
    ),
    (
        "default of the wrong json type",
        lambda d: props(d)["days"].update(default="15"),
        "properties.days.default",
    ),
    (
        "default not an enum value",
        lambda d: props(d)["decision"].update(default="maybe"),
        "properties.decision.default",
    ),
    (
        "date default that is no date",
        lambda d: props(d)["due"].update(default="2024-02-30"),
        "properties.due.default",
    ),
    (
        "blank default",
        lambda d: props(d)["reason"].update(default=" "),
        "properties.reason.default",
    ),
    (
        "read only not a boolean",
        lambda d: props(d)["tracking_number"].update(readOnly="yes"),
        "properties.tracking_number.readOnly",
    ),
    (
        "comment not a string",
        lambda d: props(d)["days"].update({"$comment": 1}),
        "properties.days.$comment",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [(mutate, path) for _name, mutate, path in COMPILE_ERRORS],
    ids=[name for name, _mutate, _path in COMPILE_ERRORS],
)
def test_every_compile_error_names_the_form_and_the_path(mutate: Mutation, path: str) -> None:
    document = realistic_document()
    mutate(document)
    with pytest.raises(FormError) as caught:
        compile_form("accept_complaint", document)
    error = caught.value
    assert (error.form, error.path) == ("accept_complaint", path)
    assert "'accept_complaint'" in str(error)
    assert f" at {path}:" in str(error)
    assert isinstance(error, ValueError)


def test_the_realistic_document_itself_compiles() -> None:
    assert compile_form("accept_complaint", realistic_document()).key == "accept_complaint"


def test_malformed_json_is_reported_with_line_and_column() -> None:
    source = '{\n  "title": {"zh": "受理", "en": "Accept"}\n  "type": "object"\n}'
    with pytest.raises(FormError) as caught:
        compile_form("accept_complaint", source)
    error = caught.value
    assert (error.form, error.path, error.line, error.column) == ("accept_complaint", "", 3, 3)
    assert "'accept_complaint' at line 3, column 3: malformed JSON" in str(error)


def test_a_key_repeated_in_one_object_is_refused() -> None:
    source = '{"type": "object", "type": "array"}'
    with pytest.raises(FormError, match="'type' appears twice"):
        compile_form("accept_complaint", source)


def test_nan_is_not_json() -> None:
    with pytest.raises(FormError, match="NaN is not a JSON number"):
        compile_form("accept_complaint", '{"type": "object", "x": NaN}')


def test_a_file_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(FormError, match="not UTF-8"):
        compile_form("accept_complaint", '{"title": "受理"}'.encode("gb18030"))


def test_a_json_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(FormError, match="must be a JSON object"):
        compile_form("accept_complaint", b"[]")


def test_a_form_key_that_is_not_snake_case_is_refused() -> None:
    with pytest.raises(FormError) as caught:
        compile_form("Accept-Complaint", realistic_document())
    assert caught.value.form == "Accept-Complaint"
    assert "snake_case" in str(caught.value)


def test_a_missing_form_file_is_a_form_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(FormError) as caught:
        load_form(tmp_path / "close_case.json")
    assert caught.value.form == "close_case"
    assert "cannot read" in str(caught.value)


def test_a_form_error_survives_pickling() -> None:
    error = FormError("accept_complaint", "", "malformed JSON: x", line=2, column=9)
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.form, copied.path, copied.line, copied.column) == ("accept_complaint", "", 2, 9)
    assert str(copied) == str(error)


# Round trip ---------------------------------------------------------------------------------


def test_a_realistic_form_round_trips_from_file_to_clean_json(tmp_path: Path) -> None:
    path = tmp_path / "accept_complaint.json"
    path.write_text(json.dumps(realistic_document(), ensure_ascii=False, indent=2), "utf-8")

    form = load_form(path)

    assert form.key == "accept_complaint"
    assert form.title == {"zh": "受理投诉", "en": "Accept complaint"}
    assert [field.name for field in form.fields] == [
        "tracking_number",
        "decision",
        "reason",
        "due",
        "days",
        "violation_found",
        "units",
        "attachment",
    ]
    by_name = {field.name: field for field in form.fields}
    assert by_name["decision"] == Field(
        name="decision",
        type="string",
        title={"zh": "决定", "en": "Decision"},
        required=True,
        widget="radio",
        enum=[
            ("accept", {"zh": "受理", "en": "Accept"}),
            ("reject", {"zh": "不予受理", "en": "Reject"}),
        ],
    )
    assert by_name["reason"].help == {"zh": "写明事实和依据。", "en": "State facts and grounds."}
    assert (by_name["reason"].min_length, by_name["reason"].max_length) == (2, 2000)
    assert by_name["tracking_number"].read_only
    assert {name: field.widget for name, field in by_name.items()} == {
        "tracking_number": "text",
        "decision": "radio",
        "reason": "textarea",
        "due": "date",
        "days": "number",
        "violation_found": "checkbox",
        "units": "checkboxes",
        "attachment": "file",
    }
    assert by_name["units"].enum_values == ["enforcement", "ecology"]
    assert by_name["units"].min_items == 1

    clean, errors = form.validate(
        {
            "decision": "accept",
            "reason": "  现场核实，情况属实。\r\n需执法支队介入。 ",
            "due": "2024-04-15",
            "days": "10",
            "violation_found": "on",
            "units": ["enforcement"],
            "attachment": "",
        }
    )
    assert errors == {}
    assert clean == {
        "decision": "accept",
        "reason": "现场核实，情况属实。\n需执法支队介入。",
        "due": "2024-04-15",
        "days": 10,
        "violation_found": True,
        "units": ["enforcement"],
    }
    assert json.loads(json.dumps(clean, ensure_ascii=False)) == clean

    description = json.loads(json.dumps(dataclasses.asdict(form), ensure_ascii=False))
    assert description["fields"][1]["enum"][0] == ["accept", {"zh": "受理", "en": "Accept"}]

    assert form.validate({})[1] == {"decision": [REQUIRED], "reason": [REQUIRED]}


def test_the_forms_package_imports_no_web_database_engine_or_handler_code() -> None:
    # A fresh interpreter: other tests may already have imported Flask into this one.
    probe = (
        "import sys, forms\n"
        "banned = ('flask', 'sqlalchemy', 'SpiffWorkflow', 'engine', 'handlers', 'api')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
