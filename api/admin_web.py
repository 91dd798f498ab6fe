"""Administrators' pages under `/admin`: instances with their diagram and timeline, the audit
trail with filters and CSV, incidents to retry or skip, and processes: deployed versions, uploads
of new ones and migration of running instances between versions.

Sign-in is the staff web UI's session (`/login` keeps the token under `staff_token`). Until a
browser has that session, `?token=<bearer token>` on any admin page signs it in (the token moves
into the session and leaves the address bar) and an `Authorization: Bearer` header is accepted
as well. Forms of a session carry its CSRF token. The pages speak Chinese or English as the staff
pages do (api/i18n.py: `?lang=en`, kept in the session)."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from engine import AuditView, BundleInvalid, EngineError, InvalidData, NotFound
from engine.audit_query import AuditFilters
from handlers.times import EARLIEST_DAY, LATEST_DAY, OUT_OF_CALENDAR

from . import api_deployments, i18n
from .admin_api import diagram_json
from .admin_assets import STYLES, VIEWER, viewer_installed
from .admin_audit import (
    NOT_A_MOMENT,
    NOT_AN_INTEGER,
    NOT_BEFORE_TO,
    TOO_LONG,
    csv_response,
    filter_args,
    filters_from_args,
)
from .admin_diagram import instance_diagram
from .admin_present import display_zone, local_time, timeline_entry
from .admin_processes import (
    MigrationForm,
    bundle_from_uploads,
    bundle_problems,
    deployed_processes,
    migration_form,
)
from .errors import STATUS
from .json_api import ApiError, the_accounts, the_engine
from .request_numbers import whole_number
from .users import Account
from .web import language_url

log = logging.getLogger(__name__)

bp = Blueprint("admin_web", __name__, url_prefix="/admin")
bp.before_request(i18n.remember_language)  # first: a sign-in redirect keeps the choice too

SESSION_TOKEN = "staff_token"  # the key api/web.py keeps the signed-in token under
CSRF_KEY = "csrf"  # shared with api/web.py: one token per session
CSRF_FIELD = "csrf_token"
PAGE = 100
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
KNOWN_EVENTS = (
    "deployed",
    "instance_started",
    "instance_completed",
    "start_failed",
    "task_ready",
    "task_claimed",
    "task_unclaimed",
    "task_assigned",
    "task_completed",
    "task_cancelled",
    "task_failed",
    "message_received",
    "message_failed",
    "timer_scheduled",
    "timer_fired",
    "timer_cancelled",
    "timer_failed",
    "incident_opened",
    "incident_retried",
    "incident_skipped",
)


def configure(app: Flask) -> None:
    """Sessions need a key; without `COMPLAINTS_SECRET_KEY` (api/web.py does the same) one is
    made per process, so sign-ins last as long as the process. Languages as on the staff pages,
    set up here too in case an app has the admin pages without them."""
    if not app.config.get("SECRET_KEY"):
        log.warning("COMPLAINTS_SECRET_KEY is not set: admin sessions use a random per-process key")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if "babel" not in app.extensions:
        i18n.init_app(app)


# ------------------------------------------------------------ labels

# Instance statuses are codes in the data (and CSS classes); the pages show them translated.
STATUSES = {
    "running": _l("running"),
    "completed": _l("completed"),
}


def status_label(status: str) -> str:
    """An instance status in the reader's language; an unknown one as it is."""
    return str(STATUSES.get(status, status))


# ------------------------------------------------------------ sign-in, CSRF, headers


def _bearer() -> str | None:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@bp.before_request
def require_admin():
    accounts = the_accounts()
    account: Account | None = None
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str) and token:
        account = accounts.authenticate(token)
        if account is None:
            session.pop(SESSION_TOKEN, None)
    g.admin_via = "session"
    if account is None and (bearer := _bearer()):
        account, g.admin_via = accounts.authenticate(bearer), "bearer"
    query_token = request.args.get("token")
    if account is None and query_token:
        account = accounts.authenticate(query_token)
        if account is not None and request.method == "GET":
            session[SESSION_TOKEN] = query_token
            kept = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            return redirect(request.path + (f"?{urlencode(kept)}" if kept else ""))
    if account is None:
        if "web.login" in current_app.view_functions and request.method == "GET":
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return error_page(401, _("Sign in as an administrator first."), signed_in=False)
    if not account.is_admin:
        return error_page(403, _("These pages are for administrators."))
    g.account = account
    if request.method not in ("GET", "HEAD", "OPTIONS") and g.admin_via == "session":
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
        expected = session.get(CSRF_KEY) or ""
        if not (expected and sent and hmac.compare_digest(sent.encode(), expected.encode())):
            return error_page(400, _("The form has expired or was not sent from this site."))
    return None


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "admin_account": g.get("account"),
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "local_time": local_time,
        "has_logout": "web.logout" in current_app.view_functions,
        "language_url": language_url,
        "status_label": status_label,
    }


# ------------------------------------------------------------ error pages

TITLES = {
    400: _l("Bad request"),
    401: _l("Sign in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    409: _l("Changed meanwhile"),
    413: _l("Too large"),
    422: _l("Not accepted"),
}
# Werkzeug's own descriptions are English; these replace them (a description given on purpose,
# already in the reader's language, is kept).
HTTP_MESSAGES = {
    400: _l("The request could not be read."),
    404: _l("There is no such page."),
    405: _l("This page does not accept that request."),
    413: _l("The upload is too large."),
}


def error_page(status: int, message: str, signed_in: bool = True):
    headers = {} if signed_in else {"WWW-Authenticate": 'Bearer realm="complaints"'}
    title = str(TITLES.get(status, _l("Something went wrong")))
    body = render_template(
        "admin/error.html", status=status, title=title, message=message, signed_in=signed_in
    )
    return body, status, headers


@bp.errorhandler(HTTPException)
def http_error(err: HTTPException):
    message = err.description or ""
    if message == type(err).description:
        message = str(HTTP_MESSAGES.get(err.code or 500, ""))
    return error_page(err.code or 500, message)


@bp.errorhandler(EngineError)
def engine_error(err: EngineError):
    status = next((code for kind, code in STATUS.items() if isinstance(err, kind)), 400)
    return error_page(status, err.message)


@bp.errorhandler(ApiError)
def api_error(err: ApiError):
    return error_page(err.status, err.message)


# ------------------------------------------------------------ pages


@bp.get("/")
def home():
    return redirect(url_for("admin_web.instances"))


@bp.get("/instances")
def instances():
    offset = _int_arg("offset", 0)
    wanted = {k: (request.args.get(k) or "").strip() or None for k in ("process", "business_key")}
    status = (request.args.get("status") or "").strip() or None
    found = the_engine().instances(
        process_id=wanted["process"],
        business_key=wanted["business_key"],
        status=status,
        limit=PAGE + 1,
        offset=offset,
    )
    return render_template(
        "admin/instances.html",
        rows=found[:PAGE],
        has_more=len(found) > PAGE,
        offset=offset,
        page=PAGE,
        args={**{k: v for k, v in wanted.items() if v}, **({"status": status} if status else {})},
    )


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int):
    engine = the_engine()
    found = instance_diagram(engine, instance_id)
    names = found.model.names
    timeline = [timeline_entry(e, names) for e in engine.history(instance_id)]
    diagram = diagram_json(found)
    for shown, waiting in zip(diagram["waiting"], found.state["waiting"], strict=True):
        shown["due_label"] = local_time(waiting["due_at"])
    page_data = {"diagram": diagram, "events": timeline, "names": names, "labels": script_labels()}
    return render_template(
        "admin/instance.html",
        view=found.view,
        diagram=diagram,
        names=names,
        timeline=timeline,
        page_data=page_data,
        viewer_ready=viewer_installed(),
        viewer_script=VIEWER,
        viewer_styles=STYLES,
    )


def script_labels() -> dict[str, str]:
    """The words the instance page's script writes, in the page's language; `{}` marks where
    the script puts a value."""
    return {
        "removed": _("(removed)"),
        "reason": _("Reason: {}"),
        "in_timeline": _("in the timeline"),
        "events": _("{} audit events"),
        "no_events": _("No audit event names this element."),
        "due": _("due {}"),
        "incident": _("(incident)"),
        "message": _("message {}"),
        "no_viewer": _(
            "The diagram viewer did not load (bpmn-js). Run npm ci on the server and reload."
        ),
        "not_drawn": _("The diagram could not be drawn: {}"),
    }


# The audit filters answer in English (as the admin API does); the page says it in the
# reader's language, naming the field by its label on the form.
FILTER_LABELS = {
    "actor": _l("Actor"),
    "event": _l("Event"),
    "from": _l("From"),
    "to": _l("To"),
    "process": _l("Process"),
    "business_key": _l("Tracking number"),
    "tracking_number": _l("Tracking number"),
    "instance": _l("Instance"),
    "element": _l("Element"),
    "task": _l("Task"),
}
FILTER_PROBLEMS = {
    NOT_A_MOMENT: _l("Enter a date and time."),
    NOT_AN_INTEGER: _l("Enter a whole number."),
    NOT_BEFORE_TO: _l("Must be before the end time."),
    OUT_OF_CALENDAR: _l(
        "Must lie between %(first)s and %(last)s.",
        first=EARLIEST_DAY.isoformat(),
        last=LATEST_DAY.isoformat(),
    ),
}
_TOO_LONG = re.compile(TOO_LONG.replace("{}", r"(\d+)"))


def filter_problem(error: ApiError) -> str:
    """A refused audit filter, in the reader's language."""
    name, messages = next(iter(error.fields.items()))
    message = messages[0]
    too_long = _TOO_LONG.fullmatch(message)
    if too_long:
        problem = _("At most %(max)s characters.", max=too_long.group(1))
    else:
        problem = str(FILTER_PROBLEMS.get(message, message))
    return _("%(field)s: %(problem)s", field=str(FILTER_LABELS.get(name, name)), problem=problem)


@bp.get("/audit")
def audit():
    engine = the_engine()
    after = _int_arg("after", None)
    error = None
    try:
        filters = filters_from_args(request.args, zone=display_zone())
    except ApiError as err:
        filters, error = None, filter_problem(err)
    rows, has_more = [], False
    if filters is not None:
        found = engine.audit(filters, after_id=after, limit=PAGE + 1, newest_first=True)
        rows, has_more = found[:PAGE], len(found) > PAGE
    kept = filter_args(request.args)
    body = render_template(
        "admin/audit.html",
        rows=[_audit_row(e) for e in rows],
        has_more=has_more,
        next_after=rows[-1].id if has_more else None,
        args=kept,
        form=request.args,
        events=KNOWN_EVENTS,
        error=error,
        total=engine.audit_count(filters) if filters is not None else None,
    )
    return body, 422 if error else 200


@bp.get("/audit.csv")
def audit_csv():
    engine = the_engine()
    try:
        filters = filters_from_args(request.args, zone=display_zone())
    except ApiError as err:
        return error_page(err.status, filter_problem(err))
    bom = (request.args.get("bom") or "").lower() in ("1", "true", "yes", "on")
    return csv_response(engine.audit_stream(filters), engine.clock.now(), bom=bom)


@bp.get("/incidents")
def incidents():
    return _incidents_page()


def _incidents_page(error: str | None = None, status: int = 200, failed_id: int | None = None):
    engine = the_engine()
    handled = engine.audit(
        AuditFilters(events=("incident_opened", "incident_retried", "incident_skipped")),
        limit=20,
        newest_first=True,
    )
    body = render_template(
        "admin/incidents.html",
        incidents=engine.incidents(),
        handled=[_audit_row(e) for e in handled],
        error=error,
        failed_id=failed_id,
    )
    return body, status


@bp.post("/incidents/<int:timer_id>/retry")
def retry_incident(timer_id: int):
    the_engine().retry_incident(timer_id, g.account.actor())
    flash(_("Incident %(id)s: the timer fires again at the next worker round.", id=timer_id))
    return redirect(url_for("admin_web.incidents"), code=303)


@bp.post("/incidents/<int:timer_id>/skip")
def skip_incident(timer_id: int):
    reason = (request.form.get("reason") or "").strip()[:2000]
    try:
        the_engine().skip_incident(timer_id, g.account.actor(), reason)
    except InvalidData:
        return _incidents_page(_("Skipping needs a reason."), 422, timer_id)
    flash(_("Incident %(id)s skipped: the timer will not fire.", id=timer_id))
    return redirect(url_for("admin_web.incidents"), code=303)


@bp.get("/processes")
def processes():
    """Versions, the upload form and, once the migration form is filled in, its dry run."""
    form, error = migration_form(request.args)
    return _processes_page(form, migration_error=error, status=422 if error else 200)


@bp.post("/processes")
def deploy_bundle():
    """Deploys through `Engine.deploy`, the one check the API and the CLI go through too."""
    limit = api_deployments.MAX_UPLOAD
    if request.content_length is not None and request.content_length > limit:
        return error_page(413, _("A bundle may be at most %(size)s MiB.", size=limit // 2**20))
    request.max_content_length = limit  # also bounds chunked bodies without a length
    files, problems = bundle_from_uploads(request.files.getlist("files"))
    if not files and not problems:
        problems = [_("Choose at least one .bpmn, .dmn, form .json or .zip file.")]
    if problems:
        return _processes_page(None, problems=problems, status=422)
    try:
        info = the_engine().deploy(files, g.account.actor())
    except BundleInvalid as err:
        return _processes_page(None, problems=bundle_problems(err), status=422)
    if info.created:
        flash(
            _(
                "Deployed version %(version)s (%(files)s files).",
                version=info.version,
                files=len(info.files),
            )
        )
    else:
        flash(
            _(
                "This content is already deployed as version %(version)s: nothing new.",
                version=info.version,
            )
        )
    return redirect(url_for("admin_web.processes"), code=303)


@bp.get("/processes/<version:version>/files/<path:name>")
def deployment_file(version: int, name: str):
    """The API's download answer (same bytes, type and attachment name) behind the admin
    session, which the bearer-only API does not accept."""
    return api_deployments.download(version, name)


@bp.post("/processes/migrate")
def migrate():
    """Moves only the instances the dry run on screen listed as movable; the engine re-checks
    each and audits every move."""
    form, error = migration_form(request.form)
    ids = [n for v in request.form.getlist("instance_id") if (n := whole_number(v)) is not None]
    if form is None or not ids:
        return _processes_page(form, migration_error=error or _("Nothing to move."), status=422)
    moved = the_engine().migrate_instances(
        form.process, form.source, form.target, g.account.actor(), ids
    )
    flash(
        _(
            "Moved %(moved)s of %(asked)s instances of %(process)s "
            "from version %(source)s to version %(target)s.",
            moved=len(moved),
            asked=len(ids),
            process=form.process,
            source=form.source,
            target=form.target,
        )
    )
    return redirect(url_for("admin_web.processes", **_migration_args(form)), code=303)


def _processes_page(
    form: MigrationForm | None,
    *,
    problems: list[str] | None = None,
    migration_error: str | None = None,
    status: int = 200,
):
    """One renderer for the page and its refusals, so a 422 keeps the versions and the forms."""
    engine = the_engine()
    deployments = engine.deployments()
    checks = None
    if form is not None and migration_error is None:
        try:
            checks = engine.migration_plan(form.process, form.source, form.target)
        except (NotFound, InvalidData) as err:
            migration_error, status = err.message, STATUS[type(err)]
    body = render_template(
        "admin/processes.html",
        deployments=deployments,
        process_ids=deployed_processes(deployments),
        problems=problems or [],
        form=form,
        args=request.values,
        checks=checks,
        movable=[c for c in checks or [] if c.movable],
        migration_error=migration_error,
    )
    return body, status


def _migration_args(form: MigrationForm) -> dict[str, str | int]:
    """The dry-run query of `form` (`from` is a keyword, hence a dict)."""
    return {"process": form.process, "from": form.source, "to": form.target}


def _audit_row(event: AuditView) -> dict[str, Any]:
    row = timeline_entry(event, {})
    row.update(instance_id=event.instance_id, business_key=event.business_key)
    return row


def _int_arg(name: str, default: int | None) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    value = whole_number(raw)
    if value is None:
        raise ApiError(422, "invalid_data", _("%(name)s: must be a whole number", name=name))
    return value
