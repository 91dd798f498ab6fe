"""Staff task pages: `/tasks` (my tasks, my groups' unclaimed tasks, overdue; filters with counts,
sorting by due date, paging) and `/tasks/<id>` (the task's form, compiled from its deployment,
beside the complaint's context), with claim, unclaim, reassign and complete as CSRF-checked
POSTs. Who may see and act is the engine's rule: the caller's groups or their own assignment.
The complainant's contact details appear only on an audited POST (`/tasks/<id>/contact`)."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

import forms
from engine import Actor, Conflict, Engine, InvalidData, TaskView

from . import i18n
from .api_tasks import IdentityWithheld, may_reveal_identity, reveal_identity
from .json_api import the_accounts, the_engine
from .users import Account
from .web import current_account, error_page, safe_next, setup_staff_blueprint

log = logging.getLogger(__name__)

bp = Blueprint("web_tasks", __name__)
setup_staff_blueprint(bp, login_required=True)

PAGE_SIZE = 20
ENGINE_PAGE = 500  # the engine's list is paged through at this size to count and filter
MAX_TASKS = 20_000  # beyond this many visible open tasks the list says it is cut short
VIEWS = ("all", "mine", "unclaimed", "overdue")
LOCAL_TIME = ZoneInfo("Asia/Shanghai")
MAX_REASON = 2000
FORMS_KEY = "complaints.web.forms"


# ------------------------------------------------------------ forms of a task's deployment


class FormCache:
    """Compiled forms per deployment version (compiled once per version and form key) and the
    version each instance runs on (fixed for the instance's life, so it is cached too)."""

    MAX_INSTANCES = 10_000
    DEPLOYMENTS_TTL = 30.0  # seconds; new deployments show up in list titles after at most this

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._forms: dict[int, dict[str, forms.CompiledForm]] = {}
        self._versions: OrderedDict[int, int] = OrderedDict()
        self._deployments: tuple[float, list[tuple[int, frozenset[str]]]] | None = None

    def forms_of(self, version: int) -> dict[str, forms.CompiledForm]:
        with self._lock:
            found = self._forms.get(version)
        if found is not None:
            return found
        compiled: dict[str, forms.CompiledForm] = {}
        for name, content in self._engine.deployment_files(version).items():
            key = _form_key(name)
            if key is None:
                continue
            try:
                compiled[key] = forms.compile_form(key, content)
            except forms.FormError as err:  # deploy refuses such bundles; be safe all the same
                log.warning("deployment %s: %s", version, err)
        with self._lock:
            self._forms[version] = compiled
        return compiled

    def version_of(self, instance_id: int) -> int:
        with self._lock:
            version = self._versions.get(instance_id)
            if version is not None:
                self._versions.move_to_end(instance_id)
                return version
        version = self._engine.instance(instance_id).deployment_version
        with self._lock:
            self._versions[instance_id] = version
            while len(self._versions) > self.MAX_INSTANCES:
                self._versions.popitem(last=False)
        return version

    def known_version_of(self, instance_id: int) -> int | None:
        with self._lock:
            return self._versions.get(instance_id)

    def form_for(self, task: TaskView) -> forms.CompiledForm | None:
        if not task.form_key:
            return None
        return self.forms_of(self.version_of(task.instance_id)).get(task.form_key)

    def title_for(self, task: TaskView) -> Mapping[str, str] | None:
        """The form's title for the task list, without loading any workflow: the instance's own
        version when a page of it was opened already, else the newest deployment with the form."""
        if not task.form_key:
            return None
        version = self.known_version_of(task.instance_id)
        if version is None:
            version = self._newest_with(f"{task.form_key}.json", f"forms/{task.form_key}.json")
        if version is None:
            return None
        form = self.forms_of(version).get(task.form_key)
        return form.title if form is not None else None

    def _newest_with(self, *names: str) -> int | None:
        now = time.monotonic()
        with self._lock:
            cached = self._deployments
        if cached is None or now - cached[0] > self.DEPLOYMENTS_TTL:
            listed = [(d.version, frozenset(d.files)) for d in self._engine.deployments()]
            cached = (now, sorted(listed, reverse=True))
            with self._lock:
                self._deployments = cached
        return next((v for v, files in cached[1] if any(n in files for n in names)), None)


def _form_key(file_name: str) -> str | None:
    """`review.json` or `forms/review.json`, as the engine looks them up."""
    folder, _sep, base = file_name.rpartition("/")
    if folder not in ("", "forms") or not base.endswith(".json"):
        return None
    return base[: -len(".json")]


@bp.record_once
def _install_cache(state) -> None:
    state.app.extensions.setdefault(FORMS_KEY, FormCache(state.app.extensions["complaints.engine"]))


def form_cache() -> FormCache:
    return current_app.extensions[FORMS_KEY]


# ------------------------------------------------------------ times


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(moment: datetime | None) -> str:
    moment = aware(moment)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M") if moment else ""


def is_overdue(task: TaskView, now: datetime) -> bool:
    due = aware(task.due_at)
    return due is not None and due < now


# ------------------------------------------------------------ the task list


def visible_open_tasks(engine: Engine, actor: Actor) -> tuple[list[TaskView], bool]:
    """Every open task the actor may see, from the read model only (no workflow is loaded);
    True as second value when the list was cut at MAX_TASKS."""
    found: dict[str, TaskView] = {}
    offset = 0
    while True:
        batch = engine.tasks(actor=actor, status="open", limit=ENGINE_PAGE, offset=offset)
        for task in batch:
            found.setdefault(task.id, task)  # a task moving between pages is counted once
        if len(batch) < ENGINE_PAGE:
            return list(found.values()), False
        if len(found) >= MAX_TASKS:
            return list(found.values())[:MAX_TASKS], True
        offset += ENGINE_PAGE


@dataclass(frozen=True)
class ListQuery:
    view: str
    process: str | None
    group: str | None
    q: str
    sort: str
    page: int

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListQuery:
        view = args.get("view", "all")
        try:
            page = max(1, min(int(args.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        return cls(
            view=view if view in VIEWS else "all",
            process=(args.get("process") or "").strip()[:100] or None,
            group=(args.get("group") or "").strip()[:100] or None,
            q=(args.get("q") or "").strip()[:100],
            sort="-due" if args.get("sort") == "-due" else "due",
            page=page,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        values = {
            "view": self.view,
            "process": self.process,
            "group": self.group,
            "q": self.q,
            "sort": self.sort,
            "page": self.page,
        }
        values.update(changes)
        defaults = {"view": "all", "sort": "due", "page": 1}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}


def in_view(task: TaskView, view: str, actor: Actor, now: datetime) -> bool:
    if view == "mine":
        return task.assignee == actor.id
    if view == "unclaimed":
        return task.assignee is None
    if view == "overdue":
        return is_overdue(task, now)
    return True


def matches(task: TaskView, query: ListQuery, skip: str | None = None) -> bool:
    if skip != "process" and query.process and task.process_id != query.process:
        return False
    if skip != "group" and query.group and query.group not in task.candidate_groups:
        return False
    if query.q:
        return query.q.casefold() in (task.business_key or "").casefold()
    return True


def sort_tasks(tasks: list[TaskView], descending: bool) -> list[TaskView]:
    """By due date (tasks without one last, either way), then by age."""

    def stamp(moment: datetime | None) -> float:
        return aware(moment).timestamp()  # type: ignore[union-attr]

    sign = -1 if descending else 1
    with_due = sorted(
        (t for t in tasks if t.due_at is not None),
        key=lambda t: (sign * stamp(t.due_at), stamp(t.created_at), t.id),
    )
    without = sorted(
        (t for t in tasks if t.due_at is None), key=lambda t: (stamp(t.created_at), t.id)
    )
    return with_due + without


def may_act(actor: Actor, task: TaskView) -> bool:
    return actor.may_work_on(task.candidate_groups, None)


@bp.get("/tasks")
def task_list():
    engine, actor = the_engine(), current_account().actor()
    now = engine.clock.now()
    query = ListQuery.from_args(request.args)
    tasks, cut_short = visible_open_tasks(engine, actor)

    def in_current_view(task: TaskView) -> bool:
        return in_view(task, query.view, actor, now)

    counts = {
        view: sum(1 for t in tasks if in_view(t, view, actor, now) and matches(t, query))
        for view in VIEWS
    }
    by_process = Counter(
        t.process_id for t in tasks if in_current_view(t) and matches(t, query, skip="process")
    )
    by_group = Counter(
        g
        for t in tasks
        if in_current_view(t) and matches(t, query, skip="group")
        for g in t.candidate_groups
    )
    own_groups = [] if actor.admin else sorted(actor.groups)
    for group in own_groups:
        by_group.setdefault(group, 0)
    if query.process:
        by_process.setdefault(query.process, 0)
    if query.group:
        by_group.setdefault(query.group, 0)

    chosen = sort_tasks(
        [t for t in tasks if in_current_view(t) and matches(t, query)], query.sort == "-due"
    )
    pages = max(1, math.ceil(len(chosen) / PAGE_SIZE))
    page = min(query.page, pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cache = form_cache()
    rows = [
        {
            "task": t,
            "title": i18n.text(cache.title_for(t)) or t.name,
            "groups": [i18n.group_label(g) for g in t.candidate_groups],
            "created": local_time(t.created_at),
            "due": local_time(t.due_at),
            "overdue": is_overdue(t, now),
            "can_claim": t.assignee is None and may_act(actor, t),
            "can_unclaim": t.assignee == actor.id,
        }
        for t in shown
    ]

    def link(**changes: Any) -> str:
        return url_for("web_tasks.task_list", **query.args(**changes))

    return render_template(
        "staff/tasks.html",
        query=query,
        rows=rows,
        counts=counts,
        processes=sorted(by_process.items()),
        groups=sorted(by_group.items()),
        total=len(chosen),
        page=page,
        pages=pages,
        link=link,
        cut_short=cut_short,
        here=request.full_path.rstrip("?"),
        views=[
            ("all", _("All")),
            ("mine", _("Mine")),
            ("unclaimed", _("Unclaimed")),
            ("overdue", _("Overdue")),
        ],
    )


# ------------------------------------------------------------ claim, unclaim, reassign


def _back(task_id: str) -> str:
    return safe_next(request.form.get("next"), url_for("web_tasks.task_page", task_id=task_id))


def _conflict(task_id: str, actor: Actor):
    """The 409 page, saying what happened to the task meanwhile."""
    task = the_engine().task(task_id, actor)
    if task.status == "completed":
        message = _(
            "This task was completed meanwhile by %(user)s at %(time)s. Nothing you entered "
            "was saved.",
            user=task.completed_by or "?",
            time=local_time(task.completed_at),
        )
    elif task.status != "open":
        message = _("This task is no longer open: the process has moved on.")
    elif task.assignee is not None and task.assignee != actor.id:
        message = _("This task was claimed meanwhile by %(user)s.", user=task.assignee)
    else:
        message = _("The task was changed by someone else meanwhile. Reload it.")
    return error_page(409, message)


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    engine, actor = the_engine(), current_account().actor()
    try:
        engine.claim(task_id, actor)
    except Conflict:
        return _conflict(task_id, actor)
    flash(_("You claimed the task."), "ok")
    return redirect(_back(task_id), code=303)


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str):
    engine, actor = the_engine(), current_account().actor()
    try:
        engine.unclaim(task_id, actor)
    except Conflict:
        return _conflict(task_id, actor)
    flash(_("You gave the task back to the group."), "ok")
    return redirect(_back(task_id), code=303)


@bp.post("/tasks/<task_id>/assign")
def assign(task_id: str):
    """Hand the task to a colleague who shares one of its groups, with a reason."""
    engine, actor = the_engine(), current_account().actor()
    task = engine.task(task_id, actor)
    if task.status != "open":
        return _conflict(task_id, actor)
    assignee = request.form.get("assignee", "").strip().lower()[:100]
    reason, account, errors = _handover_problems("assignee", assignee)
    if account is not None and not account.in_any(task.candidate_groups):
        errors["assignee"] = [_("%(user)s is in none of the task's groups.", user=assignee)]
    if errors:
        entered = {"assignee": assignee, "reason": reason}
        return render_task(task, assign_values=entered, assign_errors=errors, status=422)
    try:
        engine.assign(task_id, assignee, actor, reason)
    except Conflict:
        return _conflict(task_id, actor)
    flash(_("The task was handed to %(user)s.", user=assignee), "ok")
    return redirect(url_for("web_tasks.task_list"), code=303)


def _handover_problems(field: str, user: str) -> tuple[str, Account | None, dict[str, list[str]]]:
    """The posted reason, `user`'s active account (None if there is none), and the problems
    of a hand-over form: `user` (posted as `field`) must be an active account, the reason
    given and not too long."""
    reason = request.form.get("reason", "").strip()
    errors: dict[str, list[str]] = {}
    account = the_accounts().get(user) if user else None
    if not user:
        errors[field] = [_("This field is required.")]
    elif account is None or not account.active:
        errors[field] = [_("There is no active user %(user)s.", user=user)]
        account = None
    if not reason:
        errors["reason"] = [_("This field is required.")]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [_("At most %(max)s characters.", max=MAX_REASON)]
    return reason, account, errors


@bp.post("/tasks/<task_id>/delegate")
def delegate(task_id: str):
    """Ask a colleague (of any group) for their answer; the task comes back to be completed."""
    engine, actor = the_engine(), current_account().actor()
    task = engine.task(task_id, actor)
    if task.status != "open" or task.assignee != actor.id or task.delegation == "pending":
        return _conflict(task_id, actor)
    user = request.form.get("user", "").strip().lower()[:100]
    reason, _account, errors = _handover_problems("user", user)
    if user == actor.id:
        errors["user"] = [_("Delegate to someone else.")]
    if errors:
        entered = {"user": user, "reason": reason}
        return render_task(task, delegate_values=entered, delegate_errors=errors, status=422)
    try:
        engine.delegate(task_id, user, actor, reason)
    except Conflict:
        return _conflict(task_id, actor)
    flash(_("%(user)s was asked for an answer; the task comes back to you.", user=user), "ok")
    return redirect(url_for("web_tasks.task_list"), code=303)


# ------------------------------------------------------------ one task: context and form


@dataclass
class FieldView:
    """One input as the template draws it; `value` is a string, a list of strings (arrays) or a
    bool (checkboxes)."""

    name: str
    label: str
    help: str
    required: bool
    widget: str
    type: str
    read_only: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


INPUT_TYPES = {"text": "text", "email": "email", "date": "date", "datetime": "datetime-local"}


def _attrs(f: forms.Field) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if f.type == "string" and f.enum is None:
        if f.min_length is not None:
            attrs["minlength"] = f.min_length
        if f.max_length is not None:
            attrs["maxlength"] = f.max_length
    if f.type in ("integer", "number"):
        if f.minimum is not None:
            attrs["min"] = f.minimum
        if f.maximum is not None:
            attrs["max"] = f.maximum
        attrs["step"] = "1" if f.type == "integer" else "any"
    if f.required and f.widget not in ("checkbox", "checkboxes", "multiselect"):
        attrs["required"] = True
    return attrs


def _shown(f: forms.Field, value: Any) -> Any:
    """A value from task data (or a default) as the widget shows it."""
    if f.type == "array":
        return [str(v) for v in value] if isinstance(value, list) else []
    if f.type == "boolean":
        if f.widget == "checkbox":
            return value is True
        return "true" if value is True else "false" if value is False else ""
    if value is None or isinstance(value, dict | list):
        return ""
    if f.widget == "datetime" and isinstance(value, str):
        return _datetime_local(value)
    return str(value)


def _datetime_local(value: str) -> str:
    """An ISO instant as `<input type=datetime-local>` takes it, in Beijing time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TIME)
    return moment.strftime("%Y-%m-%dT%H:%M")


def initial_values(form: forms.CompiledForm, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {}
    for f in form.fields:
        value = data.get(f.name)
        values[f.name] = _shown(f, f.default if value is None else value)
    return values


def read_only_text(f: forms.Field, value: Any) -> str:
    """A read-only field's value from task data as plain text (choices by their titles)."""
    titles = {v: i18n.text(t) for v, t in (f.enum or [])}
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(titles.get(v, str(v)) for v in value)
    if isinstance(value, str | int | float):
        return titles.get(value, str(value)) if isinstance(value, str) else str(value)
    return ""


_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def read_submission(form: forms.CompiledForm | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what goes to the engine, what the page shows again) from the posted form. Only the
    form's writable fields are read; an unchecked checkbox is False, as the forms README asks."""
    data: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    if form is None:
        return data, shown
    posted = request.form
    for f in form.fields:
        if f.read_only:
            continue
        if f.type == "array":
            data[f.name] = shown[f.name] = posted.getlist(f.name)
        elif f.type == "boolean" and f.widget == "checkbox":
            data[f.name] = shown[f.name] = f.name in posted
        elif f.name in posted:
            raw = posted.get(f.name, "")
            shown[f.name] = raw
            value = raw.strip()
            if f.widget == "datetime" and value and not _OFFSET.search(value):
                value += "+08:00"  # the input is Beijing time; the offset keeps it unambiguous
            data[f.name] = value
        else:
            shown[f.name] = ""
    return data, shown


def field_views(
    form: forms.CompiledForm,
    values: Mapping[str, Any],
    errors: Mapping[str, list[str]],
    data: Mapping[str, Any],
) -> list[FieldView]:
    views = []
    for f in form.fields:
        if f.type == "boolean" and f.widget == "radio":
            options = [("true", _("Yes")), ("false", _("No"))]
        else:
            options = [(value, i18n.text(title)) for value, title in (f.enum or [])]
        views.append(
            FieldView(
                name=f.name,
                label=i18n.text(f.title),
                help=i18n.text(f.help),
                required=f.required,
                widget=f.widget,
                type=f.type,
                read_only=f.read_only,
                options=options,
                value=read_only_text(f, data.get(f.name))
                if f.read_only
                else values.get(f.name, _shown(f, f.default)),
                errors=[i18n.form_message(m) for m in errors.get(f.name, [])],
                attrs=_attrs(f),
            )
        )
    return views


# The complaint's facts a clerk needs beside the form. A list of what to show, never a list of
# what to hide: complainant identity (name, phone, e-mail, address, id numbers) and anything a
# process adds later stays off the page unless it is named here.
_DEADLINE_KEY = re.compile(r"(deadline|deadlines|due|[a-z0-9_]+_due|[a-z0-9_]*deadline_[a-z0-9_]+)")


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    multiline: bool = False


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def _instant(value: Any) -> str | None:
    if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) == 10:
        return date.fromisoformat(value).isoformat()
    return local_time(moment)


def complaint_facts(data: Mapping[str, Any]) -> tuple[list[Fact], list[Fact]]:
    """(facts, deadlines) from the task data."""
    facts: list[Fact] = []

    def add(label: str, value: Any, *, multiline: bool = False, render: Callable | None = None):
        text = render(value) if render and isinstance(value, str) else _scalar(value)
        if text:
            facts.append(Fact(label, text, multiline))

    add(_("Channel"), data.get("channel"), render=i18n.channel_label)
    add(_("Category"), data.get("category"), render=i18n.category_label)
    add(_("Title"), data.get("title"))
    add(_("Description"), data.get("description"), multiline=True)
    location = data.get("location")
    location = location if isinstance(location, Mapping) else {}
    add(_("Address"), location.get("address", data.get("address")))
    add(_("Region code"), location.get("region_code", data.get("region_code")))
    lat, lon = location.get("lat"), location.get("lon")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        facts.append(Fact(_("Coordinates"), f"{lat:.5f}, {lon:.5f}"))
    add(_("Respondent"), data.get("respondent"))
    add(_("Requested outcome"), data.get("requested_outcome"), multiline=True)
    if data.get("urgent") is True:
        facts.append(Fact(_("Urgent"), _("Yes")))
    if data.get("addressed_to_leader") is True:
        facts.append(Fact(_("Addressed to a leader"), _("Yes")))

    deadlines: list[Fact] = []
    for key in sorted(k for k in data if isinstance(k, str) and _DEADLINE_KEY.fullmatch(k)):
        value = data[key]
        if isinstance(value, Mapping):
            for part, moment in value.items():
                shown = _instant(moment)
                if shown:
                    deadlines.append(Fact(f"{key} · {part}", shown))
        else:
            shown = _instant(value)
            if shown:
                deadlines.append(Fact(key, shown))
    return facts, deadlines


def render_task(
    task: TaskView,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    assign_values: Mapping[str, str] | None = None,
    assign_errors: Mapping[str, list[str]] | None = None,
    delegate_values: Mapping[str, str] | None = None,
    delegate_errors: Mapping[str, list[str]] | None = None,
    contact: Mapping[str, Any] | None = None,
    status: int = 200,
):
    """The task page; `contact` is the complainant once revealed ({} when none is recorded)."""
    engine, actor = the_engine(), current_account().actor()
    now = engine.clock.now()
    is_open = task.status == "open"
    form = form_cache().form_for(task) if is_open else None
    data = engine.task_data(task.id, actor) if is_open else {}
    facts, deadlines = complaint_facts(data)
    errors = dict(errors or {})
    fields: list[FieldView] = []
    if form is not None:
        shown = initial_values(form, data) if values is None else values
        fields = field_views(form, shown, errors, data)
    known = {f.name for f in fields}
    general = [
        (name, i18n.form_message(message))
        for name, messages in errors.items()
        if name not in known
        for message in messages
    ]
    body = render_template(
        "staff/task.html",
        task=task,
        title=i18n.text(form.title) if form is not None else task.name,
        description=i18n.text(form.description) if form is not None else "",
        fields=fields,
        has_errors=bool(errors),
        general_errors=general,
        facts=facts,
        deadlines=deadlines,
        groups=[i18n.group_label(g) for g in task.candidate_groups],
        created=local_time(task.created_at),
        due=local_time(task.due_at),
        completed=local_time(task.completed_at),
        overdue=is_open and is_overdue(task, now),
        is_open=is_open,
        can_claim=is_open and task.assignee is None and may_act(actor, task),
        can_unclaim=is_open and task.assignee == actor.id,
        can_complete=is_open and actor.may_work_on(task.candidate_groups, task.assignee),
        can_assign=is_open and may_act(actor, task) and task.delegation != "pending",
        assign_values=assign_values or {},
        assign_errors=assign_errors or {},
        delegated_to_me=is_open and task.delegation == "pending" and task.assignee == actor.id,
        can_delegate=is_open and task.assignee == actor.id and task.delegation != "pending",
        delegate_values=delegate_values or {},
        delegate_errors=delegate_errors or {},
        input_types=INPUT_TYPES,
        can_reveal=contact is None and may_reveal_identity(task.id, actor),
        contact=contact,
    )
    return body, status


@bp.get("/tasks/<task_id>")
def task_page(task_id: str):
    task = the_engine().task(task_id, current_account().actor())
    return render_task(task)


@bp.post("/tasks/<task_id>")
def complete(task_id: str):
    return _submit(task_id, resolve=False)


@bp.post("/tasks/<task_id>/resolve")
def resolve(task_id: str):
    """The delegate's answer: the form's values go back to the task's owner, who completes."""
    return _submit(task_id, resolve=True)


def _submit(task_id: str, *, resolve: bool):
    engine, actor = the_engine(), current_account().actor()
    task = engine.task(task_id, actor)
    if task.status != "open" or not actor.may_work_on(task.candidate_groups, task.assignee):
        # Not open any more, or claimed by a colleague meanwhile: a conflict, not a refusal.
        return _conflict(task_id, actor)
    form = form_cache().form_for(task)
    data, shown = read_submission(form)
    try:
        if resolve:
            engine.resolve_task(task_id, data, actor)
        else:
            engine.complete_task(task_id, data, actor)
    except InvalidData as err:
        return render_task(task, values=shown, errors=err.fields, status=422)
    except Conflict:
        return _conflict(task_id, actor)
    if resolve:
        flash(_("Your answer went back to %(user)s.", user=task.owner), "ok")
    else:
        flash(_("Task completed."), "ok")
    return redirect(url_for("web_tasks.task_list"), code=303)


# ------------------------------------------------------------ the complainant's contact details


def withheld_message(reason: str) -> str:
    """The refusal in the page's language (the API words it in English)."""
    if reason == "accusation":
        return _("An accuser's identity is never passed on.")
    return _("The complainant's contact details are shown only to the groups that need them.")


@bp.post("/tasks/<task_id>/contact")
def reveal_contact(task_id: str):
    """The task page with the complainant's contact details: a deliberate, audited act."""
    engine, actor = the_engine(), current_account().actor()
    task = engine.task(task_id, actor)
    try:
        identity = reveal_identity(task_id, actor)
    except IdentityWithheld as err:
        return error_page(403, withheld_message(err.reason))
    body, status = render_task(task, contact=identity or {})
    return body, status, {"Cache-Control": "no-store"}


@bp.get("/tasks/<task_id>/contact")
def contact_page(task_id: str):
    """Revealing is a POST; a GET (a reload, or the way back from sign-in) shows the task."""
    return redirect(url_for("web_tasks.task_page", task_id=task_id), code=303)
