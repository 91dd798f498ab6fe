"""Incidents under `/api/incidents` (admins): timers that failed too often, and their retry."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .auth import authenticate_admin, current_actor
from .json_api import json_body, register_error_handlers, the_engine, timer_json

bp = Blueprint("api_incidents", __name__, url_prefix="/api/incidents")
register_error_handlers(bp)
bp.before_request(authenticate_admin)


@bp.get("")
def list_incidents():
    found = the_engine().incidents()
    return jsonify(items=[timer_json(t) for t in found], count=len(found))


@bp.post("/<int:incident_id>/retry")
def retry(incident_id: int):
    json_body(required=False)
    the_engine().retry_incident(incident_id, current_actor())
    return jsonify(id=incident_id, status="pending")
