"""Process instances under `/api/instances`: the list for admins; one instance and its history
for admins and for staff who have or had a task on it."""

from __future__ import annotations

from flask import Blueprint, jsonify

from engine import Forbidden

from .auth import authenticate, current_account, current_actor, require_admin
from .json_api import (
    arg_int,
    arg_str,
    audit_json,
    instance_json,
    instance_summary_json,
    register_error_handlers,
    the_engine,
)

bp = Blueprint("api_instances", __name__, url_prefix="/api/instances")
register_error_handlers(bp)
bp.before_request(authenticate)

MAX_LIMIT = 200


@bp.get("")
def list_instances():
    require_admin()
    limit = arg_int("limit", 50, 1, MAX_LIMIT)
    offset = arg_int("offset", 0, 0)
    found = the_engine().instances(
        process_id=arg_str("process"),
        business_key=arg_str("business_key"),
        status=arg_str("status"),
        limit=limit + 1,
        offset=offset,
    )
    page = found[:limit]
    return jsonify(
        items=[instance_summary_json(r) for r in page],
        count=len(page),
        limit=limit,
        offset=offset,
        has_more=len(found) > limit,
    )


@bp.get("/<int:instance_id>")
def get_instance(instance_id: int):
    _may_read(instance_id)
    return jsonify(instance_json(the_engine().instance(instance_id)))


@bp.get("/<int:instance_id>/history")
def history(instance_id: int):
    _may_read(instance_id)
    events = the_engine().history(instance_id)
    return jsonify(items=[audit_json(e) for e in events], count=len(events))


def _may_read(instance_id: int) -> None:
    """Admins read every instance; others one on which a task of theirs (their groups' or
    assigned to them, open or done) exists. A missing instance is 404 for everyone."""
    if current_account().is_admin:
        return
    engine = the_engine()
    if engine.tasks(actor=current_actor(), instance_id=instance_id, status=None, limit=1):
        return
    engine.history(instance_id)  # raises NotFound for an instance that does not exist
    raise Forbidden("you have no task on this instance")
