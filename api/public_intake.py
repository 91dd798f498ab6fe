"""`POST /api/complaints`: a complaint comes in. Public for the web channel; the other channels
(hotline, letter, visit, ...) are entered by staff and need a bearer token. Answers 201 with the
tracking number and the access token, which is shown this once and stored only as a hash."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .json_api import ApiError, json_body
from .public_json import caller, setup_public_json
from .public_service import STAFF_CHANNELS, check_idempotency_key, check_submission, the_desk

bp = Blueprint("public_intake", __name__, url_prefix="/api/complaints")
setup_public_json(bp)


@bp.post("")
def submit():
    """Body as in ARCHITECTURE.md. `Idempotency-Key` (optional): repeating the same body with the
    same key from the same client registers nothing new and answers the same tracking number
    with a fresh access token (the earlier one stops working)."""
    key = check_idempotency_key(request.headers.get("Idempotency-Key"))
    submission = check_submission(json_body())
    who = caller()
    if submission.data["channel"] in STAFF_CHANNELS and not who.staff:
        raise ApiError(
            401,
            "unauthorized",
            f"channel '{submission.data['channel']}' is entered by staff: a bearer token is "
            "required (Authorization: Bearer <token>); the public channel is 'web'",
            headers={"WWW-Authenticate": 'Bearer realm="complaints"'},
        )
    receipt = the_desk().submit(submission, actor=who.actor, client=who.client, idempotency_key=key)
    headers = {"Cache-Control": "no-store"}
    if receipt.replayed:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(receipt.json()), 201, headers
