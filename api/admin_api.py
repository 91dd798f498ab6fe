"""Administrators' JSON under `/api`: the audit trail (`/api/audit`, keyset pages, and its CSV
export), an instance's diagram state, and skipping an incident. Audit rows have no route that
changes them: the trail is append-only here and, by trigger, in the database."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from .admin_audit import csv_response, filters_from_args
from .admin_diagram import instance_diagram
from .auth import authenticate_admin, current_actor
from .json_api import (
    ApiError,
    arg_bool,
    arg_int,
    audit_json,
    iso,
    json_body,
    register_error_handlers,
    string_field,
    the_engine,
)

bp = Blueprint("admin_api", __name__, url_prefix="/api")
register_error_handlers(bp)
bp.before_request(authenticate_admin)

MAX_LIMIT = 1000


@bp.get("/audit")
def audit():
    filters = filters_from_args(request.args)
    limit = arg_int("limit", 100, 1, MAX_LIMIT)
    after = arg_int("after", None, 0)
    order = (request.args.get("order") or "asc").strip().lower()
    if order not in ("asc", "desc"):
        raise ApiError(422, "invalid_data", "order: asc or desc", {"order": ["asc or desc"]})
    found = the_engine().audit(
        filters, after_id=after, limit=limit + 1, newest_first=order == "desc"
    )
    page = found[:limit]
    has_more = len(found) > limit
    return jsonify(
        items=[audit_json(e) for e in page],
        count=len(page),
        limit=limit,
        order=order,
        has_more=has_more,
        next_after=page[-1].id if has_more else None,
    )


@bp.get("/audit.csv")
def audit_csv():
    engine = the_engine()
    filters = filters_from_args(request.args)
    bom = arg_bool("bom")
    return csv_response(engine.audit_stream(filters), engine.clock.now(), bom=bom)


@bp.get("/instances/<int:instance_id>/diagram")
def diagram(instance_id: int):
    return jsonify(diagram_json(instance_diagram(the_engine(), instance_id)))


def diagram_json(found) -> dict[str, Any]:
    view = found.view
    state = found.state
    return {
        "instance_id": int(view.id),
        "process_id": view.process_id,
        "business_key": view.business_key,
        "status": view.status,
        "deployment_version": view.deployment_version,
        "file": found.file,
        "bpmn_xml": found.bpmn_xml,
        "completed_elements": state["completed_elements"],
        "completed_flows": state["completed_flows"],
        "active_elements": state["active_elements"],
        "waiting": [{**w, "due_at": iso(w["due_at"])} for w in state["waiting"]],
    }


@bp.post("/incidents/<int:incident_id>/skip")
def skip_incident(incident_id: int):
    reason = string_field(json_body(), "reason", max_length=2000)
    the_engine().skip_incident(incident_id, current_actor(), reason)
    return jsonify(id=incident_id, status="skipped")


# ------------------------------------------------------------ OpenAPI entries of these routes

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or _ERROR}},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


FILTER_PARAMETERS = [
    _query("actor", {"type": "string"}, "who acted (user name, `timer`, `engine`)"),
    _query("event", {"type": "string"}, "event type; repeat or comma-separate for any of"),
    _query("from", {"type": "string"}, "ISO 8601 with offset, or a date; inclusive"),
    _query("to", {"type": "string"}, "ISO 8601 with offset (exclusive), or a date (included)"),
    _query("process", {"type": "string"}, "process id of the instance"),
    _query("business_key", {"type": "string"}, "tracking number"),
    _query("tracking_number", {"type": "string"}, "the same as business_key"),
    _query("instance", {"type": "integer"}, "instance id"),
    _query("element", {"type": "string"}, "BPMN element id"),
    _query("task", {"type": "string"}, "task id"),
]
DENIED = {
    "401": _answer("no, unknown, expired or revoked bearer token"),
    "403": _answer("administrators only"),
}
WAITING = {
    "type": "object",
    "properties": {
        "element_id": {"type": "string"},
        "kind": {"enum": ["timer", "message"]},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "status": {"type": "string"},
        "label": {"type": ["string", "null"]},
        "timer_id": {"type": ["integer", "null"]},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/audit": {
        "get": {
            "summary": "The audit trail, filtered, in keyset pages by id (admins)",
            "parameters": [
                *FILTER_PARAMETERS,
                _query("after", {"type": "integer"}, "last id of the previous page"),
                _query("order", {"enum": ["asc", "desc"], "default": "asc"}, "by id"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, ""),
            ],
            "responses": {
                "200": _answer(
                    "one page; `next_after` is the `after` of the next",
                    {
                        "type": "object",
                        "properties": {
                            "items": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/AuditEvent"},
                            },
                            "count": {"type": "integer"},
                            "limit": {"type": "integer"},
                            "order": {"enum": ["asc", "desc"]},
                            "has_more": {"type": "boolean"},
                            "next_after": {"type": ["integer", "null"]},
                        },
                    },
                ),
                **DENIED,
                "422": _answer("a filter is invalid; `fields` names it"),
            },
        }
    },
    "/api/audit.csv": {
        "get": {
            "summary": "The filtered audit trail as CSV, streamed oldest first (admins)",
            "parameters": [
                *FILTER_PARAMETERS,
                _query("bom", {"type": "boolean"}, "start with a UTF-8 byte order mark (Excel)"),
            ],
            "responses": {
                "200": {
                    "description": "header row, then one row per event",
                    "headers": {
                        "X-Total-Count": {
                            "schema": {"type": "integer"},
                            "description": "rows that follow the header",
                        }
                    },
                    "content": {"text/csv": {}},
                },
                **DENIED,
                "422": _answer("a filter is invalid; `fields` names it"),
            },
        }
    },
    "/api/instances/{instance_id}/diagram": {
        "get": {
            "summary": "The instance's BPMN and what to mark on it (admins)",
            "parameters": [
                {
                    "name": "instance_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "responses": {
                "200": _answer(
                    "the diagram state",
                    {
                        "type": "object",
                        "properties": {
                            "bpmn_xml": {"type": ["string", "null"]},
                            "file": {"type": ["string", "null"]},
                            "completed_elements": {"type": "array", "items": {"type": "string"}},
                            "completed_flows": {"type": "array", "items": {"type": "string"}},
                            "active_elements": {"type": "array", "items": {"type": "string"}},
                            "waiting": {"type": "array", "items": WAITING},
                        },
                    },
                ),
                **DENIED,
                "404": _answer("no such instance"),
            },
        }
    },
    "/api/incidents/{incident_id}/skip": {
        "post": {
            "summary": "Give up on a failed timer: it never fires; the reason is audited (admins)",
            "parameters": [
                {
                    "name": "incident_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["reason"],
                            "properties": {"reason": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {
                "200": _answer(
                    "skipped",
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "status": {"const": "skipped"},
                        },
                    },
                ),
                "400": _answer("the body is not JSON"),
                **DENIED,
                "404": _answer("no such incident"),
                "422": _answer("the reason is missing"),
            },
        }
    },
}
