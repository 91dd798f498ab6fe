"""Staff web pages, the shared part: sign-in (`/login`) and sign-out (`/logout`), the session that
holds the staff token, the CSRF token every form posts, HTML error pages and security headers.
`setup_staff_blueprint` gives the other staff blueprints the same hooks."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine import Conflict, EngineError, Forbidden, InvalidData, NotFound

from . import i18n
from .json_api import the_accounts
from .stats_api import may_read_statistics
from .users import MAX_PASSWORD, Account, LoginRefused, LoginThrottled

log = logging.getLogger(__name__)

bp = Blueprint("web", __name__)

TOKEN_KEY = "staff_token"
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"
ACTION_SUFFIX = re.compile(r"/(claim|unclaim|assign|contact)$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def configure(app: Flask) -> None:
    """Session cookie, languages and template helpers of the staff pages. The cookie is Secure
    by default; tests over plain http set `SESSION_COOKIE_SECURE` to False after create_app."""
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="complaints_session",
    )
    if not app.config.get("SECRET_KEY"):
        # Sessions then last as long as this process and are not shared between workers.
        log.warning("COMPLAINTS_SECRET_KEY is not set: staff sessions use a random per-process key")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    i18n.init_app(app)
    app.jinja_env.globals.update(
        csrf_token=csrf_token, csrf_field=CSRF_FIELD, language_url=language_url
    )


# ------------------------------------------------------------ hooks of every staff blueprint


def setup_staff_blueprint(bp: Blueprint, *, login_required: bool) -> None:
    bp.before_request(i18n.remember_language)
    if login_required:
        bp.before_request(require_login)
    bp.before_request(check_csrf)
    bp.after_request(security_headers)
    bp.register_error_handler(HTTPException, http_error_page)
    bp.register_error_handler(EngineError, engine_error_page)
    bp.context_processor(staff_context)


def staff_context() -> dict[str, object]:
    """What the staff pages' header needs: the account, and whether it may open the figures."""
    account = g.get("account")
    return {
        "staff_account": account,
        "reads_statistics": account is not None and may_read_statistics(account),
    }


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every POST carries the session's token (form field or `X-CSRF-Token`), or it is a 400."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_KEY) or ""
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description=_("The form has expired or was not sent from this site. Reload it."))


def signed_in_account() -> Account | None:
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    return the_accounts().authenticate(token)


def require_login():
    """Signed-in staff only: anyone else goes to the sign-in page, and comes back after."""
    account = signed_in_account()
    if account is None:
        session.pop(TOKEN_KEY, None)
        if request.method in ("GET", "HEAD"):
            code, target = 302, request.full_path.rstrip("?")
        else:  # after sign-in the person lands on the page the action was sent from
            code, target = 303, ACTION_SUFFIX.sub("", request.path)
        return redirect(url_for("web.login", next=target), code=code)
    g.account = account
    return None


def current_account() -> Account:
    return g.account


def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def language_url(language: str) -> str:
    """This page in another language: the same path and query, `lang` replaced."""
    args = {k: request.args.getlist(k) for k in request.args if k != "lang"}
    args["lang"] = [language]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def safe_next(target: str | None, default: str) -> str:
    """Only a path of this site: never another host, scheme or protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# ------------------------------------------------------------ error pages


def error_page(status: int, message: str, headers: dict | None = None):
    titles = {
        400: _("Bad request"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Changed meanwhile"),
        429: _("Too many attempts"),
    }
    title = titles.get(status, _("Something went wrong"))
    body = render_template("staff/error.html", status=status, title=title, message=message)
    return body, status, headers or {}


def http_error_page(err: HTTPException):
    if err.code == 404:
        message = _("There is no such page or task.")
    elif err.code == 403:
        message = _("This belongs to groups you are not a member of.")
    elif err.code == 400 and err.description:
        message = err.description
    else:
        message = err.description or ""
    return error_page(err.code or 500, message)


def engine_error_page(err: EngineError):
    if isinstance(err, NotFound):
        return error_page(404, _("There is no such task."))
    if isinstance(err, Forbidden):
        return error_page(403, _("This task belongs to groups you are not a member of."))
    if isinstance(err, Conflict):
        return error_page(409, _("The task was changed by someone else meanwhile. Reload it."))
    if isinstance(err, InvalidData):
        return error_page(422, _("The data was refused."))
    log.error("engine error on a staff page: %s", err)
    return error_page(500, _("The process could not continue. An administrator has been told."))


# ------------------------------------------------------------ sign in and out

setup_staff_blueprint(bp, login_required=False)


@bp.get("/login")
def login():
    if signed_in_account() is not None:
        return redirect(safe_next(request.args.get("next"), url_for("web_tasks.task_list")))
    return render_template("staff/login.html", next=request.args.get("next", ""), username="")


@bp.post("/login")
def login_post():
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"), url_for("web_tasks.task_list"))
    form = {"next": request.form.get("next", ""), "username": username}
    if not username or not password:
        error = _("Enter your user name and password.")
        return render_template("staff/login.html", error=error, **form), 422
    if len(password) > MAX_PASSWORD:
        error = _("Wrong user name or password.")
        return render_template("staff/login.html", error=error, **form), 401
    try:
        issued = the_accounts().login(username, password, request.remote_addr)
    except LoginThrottled as err:
        error = _(
            "Too many failed sign-ins. Try again in %(minutes)s minutes.",
            minutes=max(1, (err.retry_after + 59) // 60),
        )
        headers = {"Retry-After": str(err.retry_after)}
        return render_template("staff/login.html", error=error, **form), 429, headers
    except LoginRefused:
        error = _("Wrong user name or password.")
        return render_template("staff/login.html", error=error, **form), 401
    language = session.get(i18n.SESSION_KEY)
    session.clear()  # a fresh session and CSRF token for the signed-in user
    if language:
        session[i18n.SESSION_KEY] = language
    session[TOKEN_KEY] = issued.token
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    token = session.get(TOKEN_KEY)
    if isinstance(token, str) and token:
        the_accounts().revoke(token)
    language = session.get(i18n.SESSION_KEY)
    session.clear()
    if language:
        session[i18n.SESSION_KEY] = language
    return redirect(url_for("web.login"), code=303)
