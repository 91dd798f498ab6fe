"""Shared pieces of the staff JSON API: error bodies (`{"error", "message", "fields"}`), request
parsing that answers bad input with 400/422 instead of 500, and the JSON shapes of tasks,
instances, audit rows, deployments and incidents (ids of tasks as strings, ISO 8601 with offset)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import (
    AuditView,
    BundleInvalid,
    DeploymentInfo,
    Engine,
    EngineError,
    InstanceView,
    TaskView,
    TimerView,
)

from .errors import engine_error_response
from .request_numbers import LARGEST_ID
from .storable import PROBLEM, unstorable_in_json

if TYPE_CHECKING:
    from .users import Accounts

TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


class ApiError(Exception):
    """A refusal the API itself decides (auth, bad input); becomes the standard error body."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def invalid(field: str, message: str) -> NoReturn:
    raise ApiError(422, "invalid_data", f"{field}: {message}", {field: [message]})


def error_response(err: ApiError):
    body = {"error": err.error, "message": err.message, "fields": err.fields}
    return jsonify(body), err.status, err.headers


def _engine_error(err: EngineError):
    response, status = engine_error_response(err)
    body = response.get_json()
    body.setdefault("fields", {})
    if isinstance(err, BundleInvalid):
        # A client form can show the problems beside each uploaded file.
        by_file: dict[str, list[str]] = {}
        for problem in err.problems:
            where = f"line {problem.line}: " if problem.line is not None else ""
            where += f"[{problem.element}] " if problem.element else ""
            by_file.setdefault(problem.file, []).append(where + problem.message)
        body["fields"] = by_file
    return jsonify(body), status


def _http_error(err: HTTPException):
    body = {
        "error": (err.name or "error").lower().replace(" ", "_"),
        "message": err.description,
        "fields": getattr(err, "fields", {}),
    }
    return jsonify(body), err.code


def register_error_handlers(bp: Blueprint) -> None:
    """Every staff blueprint answers its errors in the one JSON shape."""
    bp.register_error_handler(ApiError, error_response)
    bp.register_error_handler(EngineError, _engine_error)
    bp.register_error_handler(HTTPException, _http_error)


# ------------------------------------------------------------ services of the app


def the_engine() -> Engine:
    return current_app.extensions["complaints.engine"]


def the_accounts() -> Accounts:
    return current_app.extensions["complaints.accounts"]


# ------------------------------------------------------------ request parsing


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object whatever the Content-Type says; an empty body is `{}` when
    the endpoint needs none."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "the request needs a JSON object as its body")
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ApiError(
            422,
            "invalid_data",
            "the body must be a JSON object",
            {"body": [f"must be a JSON object, not {_json_type(value)}"]},
        )
    unstorable = unstorable_in_json(value)
    if unstorable is not None:
        invalid(unstorable, PROBLEM)
    return value


def string_field(
    body: Mapping[str, Any], name: str, *, max_length: int = 200, required: bool = True
) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            invalid(name, "required")
        return None
    if not isinstance(value, str):
        invalid(name, f"must be a string, not {_json_type(value)}")
    if len(value) > max_length:
        invalid(name, f"at most {max_length} characters")
    return value


def arg_bool(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    invalid(name, "must be true or false")


def arg_int(
    name: str, default: int | None, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        invalid(name, "must be an integer")
    if minimum is not None and value < minimum:
        invalid(name, f"must be at least {minimum}")
    maximum = LARGEST_ID if maximum is None else maximum
    if value > maximum:
        invalid(name, f"must be at most {maximum}")
    return value


def arg_str(name: str, max_length: int = 200) -> str | None:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > max_length:
        invalid(name, f"at most {max_length} characters")
    return raw.strip()


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "an object")


# ------------------------------------------------------------ response shapes


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the offset always written out; stored datetimes are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def jsonable(value: Any) -> Any:
    """Process data as JSON: datetimes as ISO 8601, sets and tuples as arrays, the rest as text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclass_fields(value)}
    return str(value)


def task_json(task: TaskView) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "instance_id": int(task.instance_id),
        "process_id": task.process_id,
        "business_key": task.business_key,
        "element_id": task.element_id,
        "name": task.name,
        "form_key": task.form_key,
        "candidate_groups": list(task.candidate_groups),
        "assignee": task.assignee,
        "status": task.status,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
        "owner": task.owner,
        "delegation": task.delegation,
    }


def timer_json(timer: TimerView) -> dict[str, Any]:
    return {
        "id": int(timer.id),
        "instance_id": int(timer.instance_id),
        "element_id": timer.element_id,
        "due_at": iso(timer.due_at),
        "status": timer.status,
        "attempts": timer.attempts,
        "last_error": timer.last_error,
    }


def instance_summary_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "process_id": row["process_id"],
        "business_key": row["business_key"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "completed_at": iso(row["completed_at"]),
    }


def instance_json(instance: InstanceView) -> dict[str, Any]:
    return {
        "id": int(instance.id),
        "process_id": instance.process_id,
        "deployment_version": instance.deployment_version,
        "business_key": instance.business_key,
        "status": instance.status,
        "created_at": iso(instance.created_at),
        "updated_at": iso(instance.updated_at),
        "completed_at": iso(instance.completed_at),
        "data": jsonable(instance.data),
        "tasks": [task_json(t) for t in instance.tasks],
        "timers": [timer_json(t) for t in instance.timers],
        "completed_elements": list(instance.completed_elements),
    }


def audit_json(event: AuditView) -> dict[str, Any]:
    return {
        "id": int(event.id),
        "at": iso(event.at),
        "actor": event.actor,
        "event": event.event,
        "instance_id": event.instance_id,
        "business_key": event.business_key,
        "task_id": event.task_id,
        "element_id": event.element_id,
        "data_before": jsonable(event.data_before),
        "data_after": jsonable(event.data_after),
        "reason": event.reason,
        "detail": jsonable(event.detail),
    }


def deployment_json(info: DeploymentInfo) -> dict[str, Any]:
    return {
        "id": int(info.id),
        "version": info.version,
        "content_hash": info.content_hash,
        "process_ids": list(info.process_ids),
        "created_at": iso(info.created_at),
        "created_by": info.created_by,
        "files": list(info.files),
    }
