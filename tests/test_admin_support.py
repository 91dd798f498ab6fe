"""What the admin tests share: the staff app with the admin blueprints registered (whether or not
the factory does it yet), an engine whose reminder handler always fails (one attempt, so the
first failure is an incident), and a browser-like client that keeps cookies and CSRF tokens.
Holds no tests itself."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from api import admin_blueprints
from api.composition import bundle_files, compile_form
from engine import Engine, InstanceView
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE
from tests.test_api_support import START_DATA, Api, make_app, staff_api

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def admin_api(engine: Engine, sqlite_url: str) -> Api:
    helper = staff_api(engine, sqlite_url)
    admin_blueprints.register(helper.app)
    helper.app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain http
    return helper


def failing_remind(params: dict, context) -> None:
    raise RuntimeError("mail server down")


def broken_engine(sqlite_url: str, clock) -> Engine:
    engine = Engine(
        sqlite_url,
        handlers={"number": lambda params, context: {"n": 1}, "remind": failing_remind},
        compile_form=compile_form,
        clock=clock,
        max_timer_attempts=1,
    )
    engine.create_schema()
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    return engine


def broken_admin_api(engine: Engine, sqlite_url: str) -> Api:
    helper = Api(make_app(engine, sqlite_url), engine)
    admin_blueprints.register(helper.app)
    helper.app.config["SESSION_COOKIE_SECURE"] = False
    helper.add_user("admin", admin=True)
    helper.add_user("li.intake", "intake")
    return helper


def open_incident(api: Api, clock, key: str = "C-9") -> tuple[InstanceView, int]:
    """Start the demo process and let its one-day reminder fail into an incident."""
    instance = api.engine.start("engine_demo", dict(START_DATA), key, INTAKE)
    clock.advance(days=1, minutes=1)
    api.engine.fire_due_timers()
    [incident] = api.engine.incidents()
    return instance, incident.id


def complete_review(engine: Engine, instance: InstanceView, severity: str = "low") -> None:
    [task] = engine.tasks(instance_id=instance.id)
    engine.complete_task(task.id, {"severity": severity, "note": "checked"}, INTAKE)


class Browser:
    """One browser: keeps cookies and sends the CSRF token of the last page it loaded."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any):
        answer = self.client.get(path, **kwargs)
        found = _CSRF.search(answer.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw):
        form = dict(data or {})
        if csrf and self.csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=form, **kw)


def signed_in(api: Api, name: str, lang: str | None = None) -> Browser:
    """A browser signed in by opening an admin page once with `?token=`; with `lang`, one that
    chose that language on the way (the session keeps it)."""
    browser = Browser(api.app.test_client())
    chosen = f"&lang={lang}" if lang else ""
    answer = browser.get(f"/admin/incidents?token={api.token(name)}{chosen}")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert "token=" not in answer.headers["Location"]
    return browser
