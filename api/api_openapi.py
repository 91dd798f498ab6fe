"""`GET /api/openapi.json`: the OpenAPI 3.1 description of the staff JSON API, written by hand
here beside the blueprints it describes (a test holds every route to an entry)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from flask import Blueprint, jsonify

from . import admin_api
from .json_api import register_error_handlers

bp = Blueprint("api_openapi", __name__, url_prefix="/api")
register_error_handlers(bp)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "count"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "count": {"type": "integer", "description": "items in this answer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "has_more": {"type": "boolean", "description": "another page follows"},
        },
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


DATETIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}
TASK_ID = _path("task_id", {"type": "string"})
INSTANCE_ID = _path("instance_id", {"type": "integer"})
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "")
OFFSET = _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "")

UNAUTHORIZED = _error("no, unknown, expired or revoked bearer token")
FORBIDDEN = _error("the caller's groups do not allow this")
NOT_FOUND = _error("no such object")
INVALID = _error("invalid input; `fields` names each field at fault")
BAD_JSON = _error("the body is not JSON")
CONFLICT = _error("the task is no longer open or changed meanwhile")

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "fields"],
        "properties": {
            "error": {"type": "string", "description": "stable code, e.g. not_found"},
            "message": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "messages by field (by file name for a refused bundle)",
            },
            "problems": {
                "type": "array",
                "items": _ref("Problem"),
                "description": "only for a refused deployment bundle",
            },
        },
    },
    "Problem": {
        "type": "object",
        "properties": {
            "file": {"type": "string"},
            "line": {"type": ["integer", "null"]},
            "element": NULLABLE_STRING,
            "message": {"type": "string"},
        },
    },
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "properties": {
            "token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_at": DATETIME,
            "user": _ref("Account"),
        },
    },
    "Account": {
        "type": "object",
        "properties": {
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "groups": {"type": "array", "items": {"type": "string"}},
            "is_admin": {"type": "boolean"},
        },
    },
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "instance_id": {"type": "integer"},
            "process_id": {"type": "string"},
            "business_key": NULLABLE_STRING,
            "element_id": {"type": "string"},
            "name": {"type": "string"},
            "form_key": NULLABLE_STRING,
            "candidate_groups": {"type": "array", "items": {"type": "string"}},
            "assignee": NULLABLE_STRING,
            "status": {"enum": ["open", "completed", "cancelled"]},
            "created_at": DATETIME,
            "due_at": NULLABLE_DATETIME,
            "completed_at": NULLABLE_DATETIME,
            "completed_by": NULLABLE_STRING,
            "owner": {
                "type": ["string", "null"],
                "description": "who delegated the task and completes it once resolved",
            },
            "delegation": {"enum": [None, "pending", "resolved"]},
        },
    },
    "TaskWithData": {
        "allOf": [
            _ref("Task"),
            {"type": "object", "properties": {"data": {"type": "object"}}},
        ]
    },
    "Complainant": {
        "type": "object",
        "required": ["anonymous", "name", "phone", "email", "address"],
        "properties": {
            "anonymous": {"type": "boolean"},
            "name": NULLABLE_STRING,
            "phone": NULLABLE_STRING,
            "email": NULLABLE_STRING,
            "address": NULLABLE_STRING,
        },
    },
    "Timer": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "element_id": {"type": "string"},
            "due_at": DATETIME,
            "status": {"type": "string"},
            "attempts": {"type": "integer"},
            "last_error": NULLABLE_STRING,
        },
    },
    "InstanceSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "process_id": {"type": "string"},
            "business_key": NULLABLE_STRING,
            "status": {"type": "string"},
            "created_at": DATETIME,
            "updated_at": DATETIME,
            "completed_at": NULLABLE_DATETIME,
        },
    },
    "Instance": {
        "allOf": [
            _ref("InstanceSummary"),
            {
                "type": "object",
                "properties": {
                    "deployment_version": {"type": "integer"},
                    "data": {"type": "object"},
                    "tasks": {"type": "array", "items": _ref("Task")},
                    "timers": {"type": "array", "items": _ref("Timer")},
                    "completed_elements": {"type": "array", "items": {"type": "string"}},
                },
            },
        ]
    },
    "AuditEvent": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": DATETIME,
            "actor": {"type": "string"},
            "event": {"type": "string"},
            "instance_id": {"type": ["integer", "null"]},
            "business_key": NULLABLE_STRING,
            "task_id": NULLABLE_STRING,
            "element_id": NULLABLE_STRING,
            "data_before": {"type": ["object", "null"]},
            "data_after": {"type": ["object", "null"]},
            "reason": NULLABLE_STRING,
            "detail": {"type": ["object", "null"]},
        },
    },
    "Deployment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "version": {"type": "integer"},
            "content_hash": {"type": "string"},
            "process_ids": {"type": "array", "items": {"type": "string"}},
            "created_at": DATETIME,
            "created_by": {"type": "string"},
            "files": {"type": "array", "items": {"type": "string"}},
            "created": {"type": "boolean", "description": "only in the answer to an upload"},
        },
    },
}


def _task_action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [TASK_ID],
        "responses": {
            "200": _json(_ref("Task"), "the task after the action"),
            "400": BAD_JSON,
            "401": UNAUTHORIZED,
            "403": FORBIDDEN,
            "404": NOT_FOUND,
            "409": CONFLICT,
            "422": INVALID,
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return {"post": operation}


PATHS: dict[str, Any] = {
    "/api/auth/token": {
        "post": {
            "summary": "Trade username and password for a bearer token",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TokenRequest")}},
            },
            "responses": {
                "200": _json(_ref("Token"), "a new token"),
                "400": BAD_JSON,
                "401": _error("unknown user or wrong password"),
                "422": INVALID,
                "429": _error(
                    "5 failed logins for this username from this address within 15 minutes; "
                    "see Retry-After"
                ),
            },
        },
        "delete": {
            "summary": "Revoke the token of this request",
            "responses": {"204": {"description": "revoked"}, "401": UNAUTHORIZED},
        },
    },
    "/api/auth/me": {
        "get": {
            "summary": "The caller's account and groups",
            "responses": {"200": _json(_ref("Account"), "the account"), "401": UNAUTHORIZED},
        }
    },
    "/api/tasks": {
        "get": {
            "summary": "Tasks of the caller's groups or assigned to the caller",
            "parameters": [
                _query("mine", {"type": "boolean"}, "only tasks assigned to the caller"),
                _query("group", {"type": "string"}, "candidate group; repeat or comma-separate"),
                _query("overdue", {"type": "boolean"}, "only tasks past their due date"),
                _query("process", {"type": "string"}, "process id"),
                _query("instance", {"type": "integer"}, "instance id"),
                _query("business_key", {"type": "string"}, ""),
                _query(
                    "status",
                    {"enum": ["open", "completed", "cancelled", "all"], "default": "open"},
                    "",
                ),
                LIMIT,
                OFFSET,
            ],
            "responses": {
                "200": _json(_page("Task"), "one page of tasks"),
                "401": UNAUTHORIZED,
                "422": INVALID,
            },
        }
    },
    "/api/tasks/{task_id}": {
        "get": {
            "summary": "A task and the data it sees",
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("TaskWithData"), "the task"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/tasks/{task_id}/claim": _task_action("Claim the task for the caller"),
    "/api/tasks/{task_id}/unclaim": _task_action("Give the task back to its groups"),
    "/api/tasks/{task_id}/assign": _task_action(
        "Hand the task to a colleague in one of its candidate groups",
        {
            "type": "object",
            "required": ["assignee", "reason"],
            "properties": {"assignee": {"type": "string"}, "reason": {"type": "string"}},
        },
    ),
    "/api/tasks/{task_id}/delegate": _task_action(
        "Ask a colleague for their answer; the task comes back to the caller (its assignee)",
        {
            "type": "object",
            "required": ["user", "reason"],
            "properties": {"user": {"type": "string"}, "reason": {"type": "string"}},
        },
    ),
    "/api/tasks/{task_id}/resolve": _task_action(
        "The delegate's answer: checked like a completion, kept on the task, which goes back "
        "to its owner still open",
        {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "object", "description": "the form's fields"}},
        },
    ),
    "/api/tasks/{task_id}/complete": _task_action(
        "Complete the task with its form's data",
        {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "object", "description": "the form's fields"}},
        },
    ),
    "/api/tasks/{task_id}/complainant": {
        "post": {
            "summary": "Reveal the complainant of the task's matter (audited: identity_viewed)",
            "description": "Only for staff who see the task through their groups or assignment "
            "and are in COMPLAINTS_IDENTITY_GROUPS (being an admin gives no right to it); never "
            "for an accusation. A POST because every call writes an audit row; not cached.",
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("Complainant"), "the complainant's identity"),
                "401": UNAUTHORIZED,
                "403": _error(
                    "outside the task's groups, outside the identity groups, or an accusation"
                ),
                "404": _error("no such task, or no complainant recorded for its matter"),
            },
        }
    },
    "/api/instances": {
        "get": {
            "summary": "Process instances (admins)",
            "parameters": [
                _query("process", {"type": "string"}, "process id"),
                _query("business_key", {"type": "string"}, ""),
                _query("status", {"type": "string"}, "running, completed, ..."),
                LIMIT,
                OFFSET,
            ],
            "responses": {
                "200": _json(_page("InstanceSummary"), "one page of instances"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "422": INVALID,
            },
        }
    },
    "/api/instances/{instance_id}": {
        "get": {
            "summary": "One instance (admins, or staff with a task on it)",
            "parameters": [INSTANCE_ID],
            "responses": {
                "200": _json(_ref("Instance"), "the instance"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/instances/{instance_id}/history": {
        "get": {
            "summary": "The audit trail of one instance, oldest first",
            "parameters": [INSTANCE_ID],
            "responses": {
                "200": _json(_page("AuditEvent"), "the events"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/deployments": {
        "get": {
            "summary": "Deployed versions, newest first",
            "responses": {
                "200": _json(_page("Deployment"), "the deployments"),
                "401": UNAUTHORIZED,
            },
        },
        "post": {
            "summary": "Deploy a bundle (designers, admins): .bpmn, .dmn, form .json or a .zip",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "files": {
                                    "type": "array",
                                    "items": {
                                        "type": "string",
                                        "contentMediaType": "application/octet-stream",
                                    },
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": _json(_ref("Deployment"), "a new version"),
                "200": _json(_ref("Deployment"), "identical content: the existing version"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "413": _error("the upload is too large"),
                "422": _error("refused: `problems` lists file, line, element and message"),
            },
        },
    },
    "/api/deployments/{version}/files/{name}": {
        "get": {
            "summary": "Download one file of a deployed version",
            "parameters": [
                _path("version", {"type": "integer"}),
                _path("name", {"type": "string"}),
            ],
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {
                        "application/xml": {},
                        "application/json": {},
                        "application/octet-stream": {},
                    },
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/incidents": {
        "get": {
            "summary": "Timers that failed too often (admins)",
            "responses": {
                "200": _json(_page("Timer"), "the incidents"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
            },
        }
    },
    "/api/incidents/{incident_id}/retry": {
        "post": {
            "summary": "Fire the timer again (admins)",
            "parameters": [_path("incident_id", {"type": "integer"})],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "status": {"const": "pending"}},
                    },
                    "scheduled again",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}

# ------------------------------------------------------------ public intake and tracking
# (api/public_intake.py, api/public_tracking.py; Open311 and the public pages are not /api)

REFUSED = _error(
    "refused: the process does not take this request now; `reason` is a stable code and "
    "`reason_text` says why in Chinese and English"
)
TRACKING_NUMBER = _path("tracking_number", {"type": "string", "examples": ["HB-2026-000001"]})
PUBLIC_NOT_FOUND = _error("unknown number or wrong access token (the same answer for both)")
TOO_MANY = _error("over COMPLAINTS_PUBLIC_RATE_LIMIT for this address; see Retry-After")
BILINGUAL = {
    "type": "object",
    "required": ["zh", "en"],
    "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
}
NULLABLE_TEXT = {"type": ["string", "null"]}
NULLABLE_FLAG = {"type": ["boolean", "null"]}

SCHEMAS.update(
    {
        "ComplaintSubmission": {
            "type": "object",
            "required": ["channel", "category", "description", "location"],
            "additionalProperties": False,
            "properties": {
                "channel": {
                    "enum": [
                        "web",
                        "hotline",
                        "letter",
                        "visit",
                        "email",
                        "wechat",
                        "weibo",
                        "mailbox",
                        "platform",
                    ],
                    "description": "`web` is public; every other channel needs a staff token",
                },
                "category": {
                    "enum": [
                        "air",
                        "water",
                        "noise",
                        "soil",
                        "solid_waste",
                        "radiation",
                        "ecology",
                        "other",
                    ]
                },
                "title": {"type": ["string", "null"], "maxLength": 300},
                "description": {"type": "string", "maxLength": 4000},
                "location": {
                    "type": "object",
                    "required": ["region_code"],
                    "additionalProperties": False,
                    "properties": {
                        "region_code": {
                            "type": "string",
                            "pattern": "^[0-9]{6}$",
                            "description": "GB/T 2260 administrative division code",
                        },
                        "address": {"type": ["string", "null"], "maxLength": 500},
                        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
                        "lon": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
                    },
                },
                "respondent": {"type": ["string", "null"], "maxLength": 300},
                "requested_outcome": {"type": ["string", "null"], "maxLength": 2000},
                "urgent": NULLABLE_FLAG,
                "addressed_to_leader": NULLABLE_FLAG,
                "complainant": {
                    "type": ["object", "null"],
                    "additionalProperties": False,
                    "description": (
                        "kept apart from the complaint and never shown on the public side; "
                        "null means anonymous; not anonymous needs a name and a phone, e-mail "
                        "or postal address"
                    ),
                    "properties": {
                        "anonymous": {"type": "boolean", "default": False},
                        "name": {"type": ["string", "null"], "maxLength": 100},
                        "phone": {"type": ["string", "null"], "maxLength": 30},
                        "email": {"type": ["string", "null"], "maxLength": 254},
                        "address": {"type": ["string", "null"], "maxLength": 500},
                    },
                },
                "written_reply": NULLABLE_FLAG,
                "reward_interest": NULLABLE_FLAG,
            },
        },
        "ComplaintReceipt": {
            "type": "object",
            "required": ["tracking_number", "access_token", "status"],
            "properties": {
                "tracking_number": {"type": "string"},
                "access_token": {
                    "type": "string",
                    "description": "shown this once; only its hash is stored",
                },
                "status": {"type": "string"},
                "status_text": BILINGUAL,
            },
        },
        "PublicComplaint": {
            "type": "object",
            "description": "what the complainant sees: never identity, staff names or notes",
            "properties": {
                "tracking_number": {"type": "string"},
                "status": {
                    "enum": [
                        "registered",
                        "routed",
                        "transferred",
                        "diverted",
                        "accepted",
                        "investigating",
                        "extended",
                        "replied",
                        "in_review",
                        "forwarded",
                        "merged",
                        "final",
                        "closed",
                    ]
                },
                "status_text": BILINGUAL,
                "category": {"type": "string"},
                "category_text": BILINGUAL,
                "channel": {"type": "string"},
                "channel_text": BILINGUAL,
                "title": NULLABLE_TEXT,
                "description": {"type": "string"},
                "submitted_at": DATETIME,
                "updated_at": DATETIME,
                "deadline_at": {**NULLABLE_DATETIME, "description": "the current deadline"},
                "agency": {"anyOf": [BILINGUAL, {"type": "null"}]},
                "satisfaction": NULLABLE_TEXT,
                "timeline": {
                    "type": "array",
                    "description": "notices to the complainant, oldest first",
                    "items": {
                        "type": "object",
                        "properties": {
                            "at": DATETIME,
                            "kind": {"type": "string"},
                            "title": {"type": "string"},
                            "text": {"type": "string", "description": "the full notice"},
                        },
                    },
                },
                "actions": {
                    "type": "object",
                    "description": "requests the process takes now, and until when",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "open": {"type": "boolean"},
                            "until": NULLABLE_DATETIME,
                        },
                    },
                },
            },
        },
        "ReviewRequest": {
            "type": "object",
            "required": ["reason"],
            "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": 2000}},
        },
        "Evaluation": {
            "type": "object",
            "required": ["satisfaction"],
            "additionalProperties": False,
            "properties": {
                "satisfaction": {"enum": ["satisfied", "basically_satisfied", "dissatisfied"]},
                "comment": {"type": ["string", "null"], "maxLength": 2000},
            },
        },
    }
)


def _public_request(summary: str, body: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"access_token": []}, {"bearer": []}],
            "parameters": [TRACKING_NUMBER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(body)}},
            },
            "responses": {
                "200": _json(_ref("PublicComplaint"), "taken; the complaint as it is now"),
                "400": BAD_JSON,
                "401": UNAUTHORIZED,
                "404": PUBLIC_NOT_FOUND,
                "409": REFUSED,
                "422": INVALID,
                "429": TOO_MANY,
            },
        }
    }


PATHS.update(
    {
        "/api/complaints": {
            "post": {
                "summary": "Submit a complaint (public for channel web, staff for the others)",
                "security": [{}, {"bearer": []}],
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": (
                            "the same key, body and client register once: the answer repeats "
                            "the tracking number with a new access token (the old one stops "
                            "working) and the header Idempotent-Replayed: true"
                        ),
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ComplaintSubmission")}},
                },
                "responses": {
                    "201": _json(_ref("ComplaintReceipt"), "registered, process started"),
                    "400": BAD_JSON,
                    "401": _error("a channel other than web without a valid staff token"),
                    "409": _error("the same submission is still being registered; retry"),
                    "413": _error("the body is larger than 64 KiB"),
                    "422": INVALID,
                    "429": TOO_MANY,
                    "503": _error("the process could not start; nothing was kept"),
                },
            }
        },
        "/api/complaints/{tracking_number}": {
            "get": {
                "summary": "A complaint as its complainant sees it (X-Access-Token, or staff)",
                "security": [{"access_token": []}, {"bearer": []}],
                "parameters": [TRACKING_NUMBER],
                "responses": {
                    "200": _json(_ref("PublicComplaint"), "status, timeline and deadline"),
                    "401": UNAUTHORIZED,
                    "404": PUBLIC_NOT_FOUND,
                    "429": TOO_MANY,
                },
            }
        },
        "/api/complaints/{tracking_number}/review-request": _public_request(
            "Request review of the written opinion (message review_requested)", "ReviewRequest"
        ),
        "/api/complaints/{tracking_number}/re-review-request": _public_request(
            "Request re-review of the review opinion (message re_review_requested)",
            "ReviewRequest",
        ),
        "/api/complaints/{tracking_number}/evaluation": _public_request(
            "Evaluate the handling (message evaluation_submitted)", "Evaluation"
        ),
    }
)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Complaints staff API",
        "version": "1",
        "description": (
            "Staff JSON API of the complaint-process orchestrator. Errors are "
            '`{"error": code, "message": text, "fields": {...}}`; datetimes are ISO 8601 with '
            "offset; task ids are strings, instance ids integers."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "a token from POST /api/auth/token",
            },
            "access_token": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Access-Token",
                "description": "the access token a submission answered with",
            },
        },
    },
}


def document() -> dict[str, Any]:
    return deepcopy(DOCUMENT)


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


PATHS.update(admin_api.OPENAPI_PATHS)
PATHS.update(
    {
        "/api/migrations/plan": {
            "get": {
                "summary": "Dry run: which running instances of a process can move to a version",
                "parameters": [
                    _query("process", {"type": "string"}, "process id"),
                    _query("from", {"type": "integer"}, "deployment version they run on"),
                    _query("to", {"type": "integer"}, "target deployment version"),
                ],
                "responses": {"200": {"description": "one check per running instance"}},
            }
        },
        "/api/migrations": {
            "post": {
                "summary": "Move the movable instances (or the listed ones); each move is audited",
                "responses": {"200": {"description": "the instances moved"}},
            }
        },
    }
)

STATS_FILTERS = [
    _query("from", {"type": "string", "format": "date"}, "first Beijing day received"),
    _query("to", {"type": "string", "format": "date"}, "last Beijing day received"),
    _query("region", {"type": "string"}, "region code or its prefix"),
    _query("category", {"type": "string"}, "pollution category code"),
    _query("channel", {"type": "string"}, "intake channel code"),
]
STATS_GROUPS_ONLY = _error("statistics need the petition office, a leader or an admin")
PATHS.update(
    {
        "/api/stats": {
            "get": {
                "summary": "Figures of the complaints received in a window (definitions inside)",
                "parameters": STATS_FILTERS,
                "responses": {
                    "200": {"description": "counts, rates, days to close, monthly series"},
                    "401": UNAUTHORIZED,
                    "403": STATS_GROUPS_ONLY,
                    "422": INVALID,
                },
            }
        },
        "/api/stats.csv": {
            "get": {
                "summary": "The same figures as CSV (UTF-8 with BOM)",
                "parameters": STATS_FILTERS,
                "responses": {
                    "200": {"description": "text/csv"},
                    "401": UNAUTHORIZED,
                    "403": STATS_GROUPS_ONLY,
                    "422": INVALID,
                },
            }
        },
        "/api/stats/spot-check": {
            "get": {
                "summary": "A reproducible sample of the complaints closed in a month",
                "parameters": [
                    _query("period", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, ""),
                    _query("size", {"type": "integer", "minimum": 1, "maximum": 200}, ""),
                ],
                "responses": {
                    "200": {"description": "the sampled complaints"},
                    "401": UNAUTHORIZED,
                    "403": STATS_GROUPS_ONLY,
                    "422": INVALID,
                },
            }
        },
    }
)
