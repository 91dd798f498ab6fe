"""What the API tests share: an app on the demo engine (tmp SQLite, injected clock), staff
accounts made on demand, and a client that sends bearer tokens. Holds no tests itself."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.settings import Settings
from api.users import Accounts
from engine import Engine
from tests.conftest import INTAKE

PASSWORD = "a long test password"
START_DATA = {"review_limit": "P2D", "review_due": "2026-03-04T01:00:00+00:00"}


class Api:
    """The HTTP side of a scenario: `as_(name)` gives a client acting with that user's token."""

    def __init__(self, app: Flask, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.client: FlaskClient = app.test_client()
        self.accounts: Accounts = app.extensions["complaints.accounts"]
        self._tokens: dict[str, str] = {}

    def add_user(self, name: str, *groups: str, admin: bool = False) -> str:
        self.accounts.add_user(name, groups, password=PASSWORD, admin=admin)
        return name

    def login(self, name: str, password: str = PASSWORD, address: str = "192.0.2.1"):
        return self.client.post(
            "/api/auth/token",
            json={"username": name, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )

    def token(self, name: str, fresh: bool = False) -> str:
        if fresh or name not in self._tokens:
            answer = self.login(name)
            assert answer.status_code == 200, answer.get_json()
            self._tokens[name] = answer.get_json()["token"]
        return self._tokens[name]

    def as_(self, name: str, fresh: bool = False) -> Caller:
        """A client with `name`'s token; `fresh` logs in anew (after the clock moved on)."""
        return Caller(self.client, self.token(name, fresh))

    def start(self, key: str = "C-1", data: dict[str, Any] | None = None):
        return self.engine.start("engine_demo", dict(data or START_DATA), key, INTAKE)


class Caller:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(path, headers=self.headers, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(path, headers=self.headers, **kwargs)


def make_app(engine: Engine, sqlite_url: str) -> Flask:
    app = create_app(Settings.from_env({"COMPLAINTS_DATABASE_URL": sqlite_url}), engine=engine)
    app.config["TESTING"] = True
    # argon2 at test cost: the production parameters would spend seconds on hashing alone.
    app.extensions["complaints.accounts"] = Accounts(
        engine.sql,
        now=engine.clock.now,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    return app


def staff_api(engine: Engine, sqlite_url: str) -> Api:
    """The demo engine behind the app, with the usual staff: two intake clerks, one enforcement
    officer, an administrator and a process designer. Each test module wraps it in its own
    `api` fixture."""
    helper = Api(make_app(engine, sqlite_url), engine)
    helper.add_user("li.intake", "intake")
    helper.add_user("zhao.intake", "intake")
    helper.add_user("wang.enforce", "enforcement")
    helper.add_user("admin", admin=True)
    helper.add_user("chen.design", "designer")
    return helper


def error_of(answer) -> tuple[int, str, dict]:
    """Status, error code and fields of an error answer, checking its shape on the way."""
    body = answer.get_json()
    assert body is not None, answer.data
    assert {"error", "message", "fields"} <= set(body), body
    assert isinstance(body["message"], str) and body["message"]
    return answer.status_code, body["error"], body["fields"]
