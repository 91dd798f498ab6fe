"""What the staff page tests share: the demo app with the usual staff, a browser-like client per
person (its own cookies, the CSRF token read from the page it last loaded) and the hostile texts
the pages must show inert. Holds no tests itself."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine import Engine, InstanceView
from tests.conftest import INTAKE
from tests.test_api_support import PASSWORD, START_DATA, make_app

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = (SCRIPT, IMG)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_app(engine: Engine, sqlite_url: str) -> Flask:
    app = make_app(engine, sqlite_url)
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain http
    return app


class Staff:
    """One person at a browser: `get` and `post` keep cookies; `post` sends the CSRF token of
    the last page unless told otherwise."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def get(self, path: str, **kwargs) -> TestResponse:
        answer = self.client.get(path, **kwargs)
        found = _CSRF.search(answer.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw):
        form = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/login")
            form.setdefault("csrf_token", self.csrf)
        answer = self.client.post(path, data=form, **kw)
        found = _CSRF.search(answer.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return answer

    def login(self, name: str, password: str = PASSWORD, address: str = "192.0.2.1"):
        self.get("/login")
        return self.post(
            "/login",
            {"username": name, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )


class Web:
    def __init__(self, app: Flask, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.accounts = app.extensions["complaints.accounts"]

    def add_user(self, name: str, *groups: str, admin: bool = False) -> str:
        self.accounts.add_user(name, groups, password=PASSWORD, admin=admin)
        return name

    def anonymous(self) -> Staff:
        return Staff(self.app.test_client())

    def as_(self, name: str) -> Staff:
        staff = self.anonymous()
        answer = staff.login(name)
        assert answer.status_code == 303, answer.get_data(as_text=True)
        staff.get("/tasks")
        return staff

    def start(self, key: str = "C-1", **data: Any) -> InstanceView:
        return self.engine.start("engine_demo", {**START_DATA, **data}, key, INTAKE)

    def task_of(self, instance: InstanceView, status: str = "open") -> str:
        tasks = self.engine.tasks(instance_id=instance.id, status=status)
        assert len(tasks) == 1, tasks
        return tasks[0].id


def staff_web(engine: Engine, sqlite_url: str) -> Web:
    web = Web(web_app(engine, sqlite_url), engine)
    web.add_user("li.intake", "intake")
    web.add_user("zhao.intake", "intake")
    web.add_user("wang.enforce", "enforcement")
    web.add_user("admin", admin=True)
    return web


def text_of(answer: TestResponse) -> str:
    """The page as text a person reads: tags dropped, entities decoded."""
    without_tags = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def field_error(answer: TestResponse, name: str) -> str:
    """The error text shown inside the field block of `name`."""
    page = answer.get_data(as_text=True)
    block = re.search(rf'<div class="field[^"]*" data-field="{name}">(.*?)</div>', page, flags=re.S)
    assert block, f"no field {name} on the page"
    error = re.search(r'class="field-error"[^>]*>(.*?)</p>', block.group(1), flags=re.S)
    return html.unescape(error.group(1)).strip() if error else ""
