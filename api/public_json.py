"""What the public JSON blueprints share: who is calling (a complainant or, with a bearer token,
staff), the rate limit that staff calls skip, and the answers for refusals, for an intake that
could not start its process and for too many requests."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from engine import Actor

from .auth import authenticate
from .json_api import ApiError, register_error_handlers
from .public_limits import RateLimited, limit_this_request
from .public_service import Caller, IntakeUnavailable, Refused

MAX_BODY = 64 * 1024
PUBLIC_ACTOR = Actor("public")


def setup_public_json(bp: Blueprint) -> None:
    register_error_handlers(bp)
    bp.register_error_handler(Refused, refused_response)
    bp.register_error_handler(IntakeUnavailable, unavailable_response)
    bp.register_error_handler(RateLimited, rate_limited_response)
    bp.before_request(identify_and_limit)


def identify_and_limit() -> None:
    """A bearer token must be valid (401 otherwise) and makes the call staff's, which the
    public limit does not count; every other call is counted against its address."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body may have at most {MAX_BODY} bytes")
    g.public_staff = None
    if request.headers.get("Authorization"):
        authenticate()
        g.public_staff = g.account
        return
    limit_this_request()


def caller() -> Caller:
    account = g.get("public_staff")
    if account is not None:
        return Caller(actor=account.actor(), client=f"staff:{account.username}", staff=True)
    agent = request.headers.get("User-Agent", "")[:200]
    return Caller(actor=PUBLIC_ACTOR, client=f"address:{request.remote_addr}|agent:{agent}")


def refused_response(err: Refused):
    refusal = err.refusal
    body = {
        "error": "refused",
        "reason": refusal.reason,
        "message": refusal.message(),
        "reason_text": {"zh": refusal.zh, "en": refusal.en},
        "fields": {},
    }
    return jsonify(body), 409


def unavailable_response(err: IntakeUnavailable):
    body = {
        "error": "intake_unavailable",
        "message": "登记未能完成，未保存任何内容，请稍后重试 / The complaint could not be "
        "registered and nothing was kept; please try again later",
        "fields": {},
    }
    return jsonify(body), 503, {"Retry-After": "60"}


def rate_limited_response(err: RateLimited):
    body = {
        "error": "too_many_requests",
        "message": f"请求过于频繁，请{err.retry_after}秒后再试 / Too many requests; "
        f"retry in {err.retry_after} s",
        "fields": {},
    }
    return jsonify(body), 429, {"Retry-After": str(err.retry_after)}
