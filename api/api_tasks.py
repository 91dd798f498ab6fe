"""Staff task list and task actions under `/api/tasks`: list, read with data, claim, unclaim,
assign and complete. Visibility and permissions are the engine's (groups of the caller). Also the
rule for revealing a task's complainant (shared with the task pages) and its audited endpoint."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from engine import Actor, Forbidden, NotFound, TaskView
from handlers.complaints import identity_of, is_accusation
from handlers.times import OUT_OF_CALENDAR, within_calendar

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
# Query parameters that filter on the task attributes of the same name (Settings.task_attributes).
ATTRIBUTE_FILTERS = ("region", "channel", "category")
IDENTITY_VIEWED = "identity_viewed"


@bp.get("")
def list_tasks():
    """One page by due date; `total=true` adds the count over all pages (a second query)."""
    limit = arg_int("limit", 50, 1, MAX_LIMIT)
    offset = arg_int("offset", 0, 0)
    status = arg_str("status") or "open"
    if status not in STATUSES:
        invalid("status", f"one of {', '.join(STATUSES)}")
    groups = [g.strip() for raw in request.args.getlist("group") for g in raw.split(",")]
    groups = [g for g in groups if g]
    attributes = {name: value for name in ATTRIBUTE_FILTERS if (value := arg_str(name))}
    engine = the_engine()
    filters = {
        "actor": current_actor(),
        "mine": arg_bool("mine"),
        "groups": groups or None,
        "status": None if status == "all" else status,
        "process_id": arg_str("process"),
        "business_key": arg_str("business_key"),
        "instance_id": arg_int("instance", None, 1),
        "overdue": arg_bool("overdue"),
        "element_id": arg_str("element"),
        "attributes": attributes or None,
        "due_before": arg_time("due_before"),
        "due_after": arg_time("due_after"),
        "q": arg_str("q"),
    }
    want_total = arg_bool("total")
    # One more than asked tells whether another page exists without a count query.
    found = engine.tasks(**filters, limit=limit + 1, offset=offset)
    page = found[:limit]
    body = {
        "items": [task_body(t, engine.clock.now()) for t in page],
        "count": len(page),
        "limit": limit,
        "offset": offset,
        "has_more": len(found) > limit,
    }
    if want_total:
        # A last page (not beyond the end) already tells the total.
        last_page = len(found) <= limit and (found or offset == 0)
        body["total"] = offset + len(found) if last_page else engine.count_tasks(**filters)
    return jsonify(body)


def task_body(task: TaskView, now: datetime) -> dict:
    """A task as the list and the task page show it: with its attributes (title, region...) and
    whether it is overdue now."""
    return {
        **task_json(task),
        "attributes": dict(task.attributes),
        "overdue": task.status == "open" and task.due_at is not None and task.due_at < now,
    }


def arg_time(name: str) -> datetime | None:
    """An ISO 8601 date-time with offset (`2026-03-04T09:00:00+08:00`, `...Z`)."""
    raw = arg_str(name, max_length=40)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        invalid(name, "an ISO 8601 date-time with offset, e.g. 2026-03-04T09:00:00+08:00")
    if moment.tzinfo is None:
        invalid(name, "needs an offset, e.g. 2026-03-04T09:00:00+08:00 or ...Z")
    if not within_calendar(moment):
        invalid(name, OUT_OF_CALENDAR)
    return moment


@bp.get("/<task_id>")
def get_task(task_id: str):
    engine, actor = the_engine(), current_actor()
    task = engine.task(task_id, actor)
    body = task_body(task, engine.clock.now())
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


@bp.post("/<task_id>/delegate")
def delegate(task_id: str):
    """The assignee asks a colleague (any active user) for their answer, with a reason; the
    task comes back when the colleague resolves it (Camunda's delegate/resolve)."""
    body = json_body()
    user = string_field(body, "user", max_length=100).strip().lower()
    reason = string_field(body, "reason", max_length=2000)
    account = the_accounts().get(user)
    if account is None or not account.active:
        invalid("user", f"no active user '{user}'")
    engine, actor = the_engine(), current_actor()
    return jsonify(task_json(engine.delegate(task_id, user, actor, reason)))


@bp.post("/<task_id>/resolve")
def resolve(task_id: str):
    """Body: `{"data": {...form fields...}}`, checked like a completion; the task goes back to
    its owner, still open, with these values."""
    data = _form_data(json_body())
    return jsonify(task_json(the_engine().resolve_task(task_id, data, current_actor())))


@bp.post("/<task_id>/complete")
def complete(task_id: str):
    """Body: `{"data": {...form fields...}}`; form errors come back as 422 by field."""
    data = _form_data(json_body())
    return jsonify(task_json(the_engine().complete_task(task_id, data, current_actor())))


def _form_data(body: dict[str, Any]) -> dict[str, Any]:
    if "data" not in body:
        invalid("data", "required: the form's fields as an object")
    data = body["data"]
    if not isinstance(data, dict):
        raise ApiError(
            422, "invalid_data", "data: must be an object", {"data": ["must be an object"]}
        )
    return data


# ------------------------------------------------------------ the complainant's identity


class IdentityWithheld(Forbidden):
    """A 403 saying why the caller may not see who complained; `reason` is "groups" or
    "accusation", for pages that word it in their own language."""

    MESSAGES = {
        "groups": "the complainant's identity is shown only to the groups that need it "
        "(COMPLAINTS_IDENTITY_GROUPS); none of yours is among them",
        "accusation": "an accuser's identity is never passed on (accusation track)",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


def identity_task(task_id: str, actor: Actor) -> TaskView:
    """The task, if `actor` may reveal its complainant: they may see the task by the engine's
    rule (their groups or their assignment), are in an identity group, and the matter is not
    an accusation. Otherwise NotFound/Forbidden as for the task, or IdentityWithheld.

    Administrators have no right of their own here: running the system is no reason to know
    who complained, so the admin flag is dropped and only their groups count."""
    engine = the_engine()
    member = replace(actor, admin=False)
    task = engine.task(task_id, member)
    if not current_app.extensions["complaints.settings"].sees_identity(member.groups):
        raise IdentityWithheld("groups")
    if task.business_key is not None:
        with engine.sql.connect() as connection:
            if is_accusation(connection, task.business_key, task.process_id):
                raise IdentityWithheld("accusation")
    return task


def may_reveal_identity(task_id: str, actor: Actor) -> bool:
    try:
        identity_task(task_id, actor)
    except (Forbidden, NotFound):
        return False
    return True


def reveal_identity(task_id: str, actor: Actor) -> dict[str, Any] | None:
    """The complainant of the task's matter, None when none is recorded. Every reveal is
    audited (`identity_viewed`) before the answer leaves, so none goes unrecorded."""
    task = identity_task(task_id, actor)
    if task.business_key is None:
        return None
    engine = the_engine()
    with engine.sql.connect() as connection:
        identity = identity_of(connection, task.business_key)
    if identity is not None:
        engine.record_access(actor, task.id, IDENTITY_VIEWED)
    return identity


@bp.post("/<task_id>/complainant")
def complainant(task_id: str):
    """A POST because each call writes an audit row; the answer is never cached."""
    json_body(required=False)
    identity = reveal_identity(task_id, current_actor())
    if identity is None:
        raise NotFound("no complainant is recorded for this task's matter")
    return jsonify(identity), 200, {"Cache-Control": "no-store"}
