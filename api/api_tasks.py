"""Staff task list and task actions under `/api/tasks`: list, read with data, claim, unclaim,
assign and complete. Visibility and permissions are the engine's (groups of the caller)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .auth import authenticate, current_actor
from .json_api import (
    ApiError,
    arg_bool,
    arg_int,
    arg_str,
    invalid,
    json_body,
    jsonable,
    register_error_handlers,
    string_field,
    task_json,
    the_accounts,
    the_engine,
)

bp = Blueprint("api_tasks", __name__, url_prefix="/api/tasks")
register_error_handlers(bp)
bp.before_request(authenticate)

STATUSES = ("open", "completed", "cancelled", "all")
MAX_LIMIT = 200


@bp.get("")
def list_tasks():
    limit = arg_int("limit", 50, 1, MAX_LIMIT)
    offset = arg_int("offset", 0, 0)
    status = arg_str("status") or "open"
    if status not in STATUSES:
        invalid("status", f"one of {', '.join(STATUSES)}")
    groups = [g.strip() for raw in request.args.getlist("group") for g in raw.split(",")]
    groups = [g for g in groups if g]
    # One more than asked tells whether another page exists without a count query.
    found = the_engine().tasks(
        actor=current_actor(),
        mine=arg_bool("mine"),
        groups=groups or None,
        status=None if status == "all" else status,
        process_id=arg_str("process"),
        business_key=arg_str("business_key"),
        instance_id=arg_int("instance", None, 1),
        overdue=arg_bool("overdue"),
        limit=limit + 1,
        offset=offset,
    )
    page = found[:limit]
    return jsonify(
        items=[task_json(t) for t in page],
        count=len(page),
        limit=limit,
        offset=offset,
        has_more=len(found) > limit,
    )


@bp.get("/<task_id>")
def get_task(task_id: str):
    engine, actor = the_engine(), current_actor()
    task = engine.task(task_id, actor)
    body = task_json(task)
    body["data"] = jsonable(engine.task_data(task_id, actor))
    return jsonify(body)


@bp.post("/<task_id>/claim")
def claim(task_id: str):
    json_body(required=False)
    return jsonify(task_json(the_engine().claim(task_id, current_actor())))


@bp.post("/<task_id>/unclaim")
def unclaim(task_id: str):
    json_body(required=False)
    return jsonify(task_json(the_engine().unclaim(task_id, current_actor())))


@bp.post("/<task_id>/assign")
def assign(task_id: str):
    """Hand the task to a colleague who shares one of its candidate groups, with a reason."""
    body = json_body()
    assignee = string_field(body, "assignee", max_length=100).strip().lower()
    reason = string_field(body, "reason", max_length=2000)
    engine, actor = the_engine(), current_actor()
    task = engine.task(task_id, actor)
    account = the_accounts().get(assignee)
    if account is None or not account.active:
        invalid("assignee", f"no active user '{assignee}'")
    if not account.in_any(task.candidate_groups):
        groups = ", ".join(task.candidate_groups)
        invalid("assignee", f"'{assignee}' is in none of the task's groups ({groups})")
    return jsonify(task_json(engine.assign(task_id, assignee, actor, reason)))


@bp.post("/<task_id>/complete")
def complete(task_id: str):
    """Body: `{"data": {...form fields...}}`; form errors come back as 422 by field."""
    body = json_body()
    if "data" not in body:
        invalid("data", "required: the form's fields as an object")
    data = body["data"]
    if not isinstance(data, dict):
        raise ApiError(
            422, "invalid_data", "data: must be an object", {"data": ["must be an object"]}
        )
    return jsonify(task_json(the_engine().complete_task(task_id, data, current_actor())))
