"""Staff authentication: `POST /api/auth/token` trades a password for a bearer token, and the
hooks every staff blueprint runs before its views (who calls, in which groups, admin or not)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from engine import Actor

from .json_api import ApiError, iso, json_body, register_error_handlers, string_field, the_accounts
from .users import MAX_PASSWORD, Account, LoginRefused, LoginThrottled

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
register_error_handlers(bp)

CHALLENGE = 'Bearer realm="complaints"'


@bp.post("/token")
def issue_token():
    body = json_body()
    username = string_field(body, "username", max_length=100)
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise ApiError(422, "invalid_data", "password: required", {"password": ["required"]})
    if len(password) > MAX_PASSWORD:
        raise ApiError(
            422,
            "invalid_data",
            f"password: at most {MAX_PASSWORD} characters",
            {"password": [f"at most {MAX_PASSWORD} characters"]},
        )
    try:
        issued = the_accounts().login(username, password, request.remote_addr)
    except LoginThrottled as err:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins for this user from this address; retry in {err.retry_after} s",
            headers={"Retry-After": str(err.retry_after)},
        ) from None
    except LoginRefused:
        raise ApiError(401, "invalid_credentials", "unknown user or wrong password") from None
    return jsonify(
        token=issued.token,
        token_type="Bearer",
        expires_at=iso(issued.expires_at),
        user=account_json(issued.account),
    )


@bp.delete("/token")
def revoke_token():
    authenticate()
    the_accounts().revoke(g.token)
    return "", 204


@bp.get("/me")
def me():
    authenticate()
    return jsonify(account_json(current_account()))


def account_json(account: Account) -> dict:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "groups": list(account.groups),
        "is_admin": account.is_admin,
    }


# ------------------------------------------------------------ hooks for staff blueprints


def authenticate() -> None:
    """`before_request` of every staff blueprint: a valid bearer token or 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            "a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    account = the_accounts().authenticate(token)
    if account is None:
        raise ApiError(
            401,
            "invalid_token",
            "the token is unknown, expired or revoked",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    g.account = account
    g.token = token


def authenticate_admin() -> None:
    """`before_request` of admin-only blueprints."""
    authenticate()
    require_admin()


def current_account() -> Account:
    return g.account


def current_actor() -> Actor:
    return g.account.actor()


def require_admin() -> None:
    if not current_account().is_admin:
        raise ApiError(403, "forbidden", "this needs an administrator")


def require_any_group(*groups: str) -> None:
    """Admins pass; everyone else needs one of `groups`."""
    account = current_account()
    if not account.is_admin and not account.in_any(groups):
        raise ApiError(403, "forbidden", f"this needs one of the groups: {', '.join(groups)}")
