"""Following a complaint by tracking number and access token (`X-Access-Token`, or a staff
bearer token): its status in plain words, the notices sent to the complainant and the current
deadline; and the complainant's requests for review, re-review and evaluation."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from engine import NotFound

from .json_api import ApiError, json_body
from .public_json import caller, setup_public_json
from .public_service import check_request, normal_number, the_desk

bp = Blueprint("public_tracking", __name__, url_prefix="/api/complaints")
setup_public_json(bp)

NOT_FOUND = (
    "没有与该编号和查询码相符的事项 / no complaint with this tracking number and access token"
)


def opened(tracking_number: str) -> str:
    """The tracking number if the caller may see it, else the one 404 that an unknown number
    and a wrong token share (same body, same work: see PublicDesk.authorize)."""
    number = normal_number(tracking_number)
    if g.get("public_staff") is not None:
        if not the_desk().known(number):
            raise ApiError(404, "not_found", f"no complaint {number}")
        return number
    if not the_desk().authorize(number, request.headers.get("X-Access-Token")):
        raise ApiError(404, "not_found", NOT_FOUND)
    return number


def _view(number: str):
    try:
        body = the_desk().view(number)
    except NotFound:
        raise ApiError(404, "not_found", NOT_FOUND) from None
    return jsonify(body), 200, {"Cache-Control": "no-store"}


@bp.get("/<tracking_number>")
def show(tracking_number: str):
    return _view(opened(tracking_number))


def _request(tracking_number: str, action: str):
    number = opened(tracking_number)
    fields = check_request(action, json_body())
    who = caller()
    body = the_desk().request(number, action, fields, actor=who.actor, client=who.client)
    return jsonify(body), 200, {"Cache-Control": "no-store"}


@bp.post("/<tracking_number>/review-request")
def review_request(tracking_number: str):
    """Body `{"reason": text}`: asks the level above to review the written opinion."""
    return _request(tracking_number, "review_request")


@bp.post("/<tracking_number>/re-review-request")
def re_review_request(tracking_number: str):
    """Body `{"reason": text}`: asks the next level to re-review the review opinion."""
    return _request(tracking_number, "re_review_request")


@bp.post("/<tracking_number>/evaluation")
def evaluation(tracking_number: str):
    """Body `{"satisfaction": "satisfied"|"basically_satisfied"|"dissatisfied", "comment"}`."""
    return _request(tracking_number, "evaluation")
