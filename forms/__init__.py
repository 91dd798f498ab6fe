"""User-task forms: one JSON file per BPMN ``formKey``, compiled into a field list for the web
layer and a marshmallow schema that cleans what a person submits. Pure data in, data out: no
Flask, no database, no engine.

A form file ``forms/<form_key>.json`` is a JSON Schema subset with bilingual texts and UI hints::

    {"title": {"zh": "受理投诉", "en": "Accept complaint"},
     "description": {"zh": "...", "en": "..."},
     "type": "object",
     "required": ["decision", "reason"],
     "properties": {
       "decision": {"type": "string", "enum": ["accept", "reject"],
                    "enumTitles": {"accept": {"zh": "受理", "en": "Accept"},
                                   "reject": {"zh": "不予受理", "en": "Reject"}},
                    "title": {"zh": "决定", "en": "Decision"}, "widget": "radio"},
       "reason": {"type": "string", "minLength": 2, "maxLength": 2000, "widget": "textarea",
                  "title": {"zh": "理由", "en": "Reason"}, "help": {"zh": "...", "en": "..."}}}}

- Root: ``type`` must be ``"object"``; ``title`` (required) and ``description`` are bilingual
  (``{"zh": ..., "en": ...}``, both non-blank); ``properties`` (display order) and ``required``.
- Every property: ``type``, bilingual ``title``; optional bilingual ``help``, ``widget``,
  ``default``, ``readOnly``, ``$comment``. Names are snake_case: they become process variables.
- ``string``: ``minLength``, ``maxLength``, ``pattern`` (searched, as in JSON Schema), ``enum``
  with ``enumTitles`` for every value, or ``format`` one of date, date-time, email, file.
- ``integer`` / ``number``: ``minimum``, ``maximum``. ``boolean``: nothing more.
- ``array``: ``items`` = ``{"type": "string", "enum": [...], "enumTitles": {...}}``,
  ``minItems``, ``maxItems``.
- Anything else (unknown keyword or type, a missing title, an enum value without a title,
  ``required`` naming no property, malformed JSON) is a `FormError` naming form and JSON path.

Validation (`CompiledForm.validate`) strips strings, treats blank strings and nulls as absent,
fills defaults of absent optional fields, refuses unknown and read-only keys per field, and keeps
every clean value a JSON type (dates stay ISO strings). ``forms/README.md`` has the full reference.
"""

from forms.compiler import FormError, compile_form, load_form
from forms.validation import READ_ONLY_FIELD, UNKNOWN_FIELD, CompiledForm, Field

__all__ = [
    "READ_ONLY_FIELD",
    "UNKNOWN_FIELD",
    "CompiledForm",
    "Field",
    "FormError",
    "compile_form",
    "load_form",
]
