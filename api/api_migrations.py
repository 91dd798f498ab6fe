"""Migration of running instances between deployed versions under `/api/migrations` (admins):
the dry run lists per instance whether it can move; applying moves exactly those. Like the admin
page, both refuse one version as source and target: such a "move" would only fill the audit."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify, request

from engine.migration import MigrationCheck

from .auth import authenticate, current_actor, require_admin
from .json_api import arg_int, invalid, json_body, register_error_handlers, string_field, the_engine

bp = Blueprint("api_migrations", __name__, url_prefix="/api/migrations")
register_error_handlers(bp)
bp.before_request(authenticate)


@bp.get("/plan")
def plan():
    """`?process=complaint&from=1&to=2`: nothing changes."""
    require_admin()
    process = request.args.get("process") or invalid("process", "required")
    source = arg_int("from", None, 1)
    target = arg_int("to", None, 1)
    if source is None or target is None:
        invalid("from" if source is None else "to", "required")
    if source == target:
        invalid("to", "must differ from 'from'")
    checks = the_engine().migration_plan(process, source, target)
    return jsonify(items=[_check_json(c) for c in checks], movable=sum(c.movable for c in checks))


@bp.post("")
def apply():
    """`{"process", "from_version", "to_version", "instance_ids"?}` -> the instances moved."""
    require_admin()
    body = json_body()
    process = string_field(body, "process")
    versions = [_version(body, name) for name in ("from_version", "to_version")]
    if versions[0] == versions[1]:
        invalid("to_version", "must differ from 'from_version'")
    ids = body.get("instance_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        invalid("instance_ids", "must be a list of instance ids")
    moved = the_engine().migrate_instances(process, *versions, current_actor(), ids)
    return jsonify(items=[_check_json(c) for c in moved], moved=len(moved))


def _version(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        invalid(name, "must be a deployment version number")
    return value


def _check_json(check: MigrationCheck) -> dict[str, Any]:
    return {**asdict(check), "movable": check.movable}
