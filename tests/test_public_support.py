"""What the public-surface tests share: the app on an engine running the real `processes/` and
`forms/` (tmp SQLite, injected clock), staff accounts, a complaint body, and helpers to drive a
case to where the complainant may ask for review. Holds no tests itself."""

from __future__ import annotations

import copy
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import create_app
from api.settings import Settings
from api.users import Accounts
from engine import Engine, TaskView
from handlers.intake import Intake, PublicAction
from handlers.models import ComplainantIdentity, Complaint, Notice
from tests.lifecycle import OFFICE, REGION, TRIAGE_FLAGS

PASSWORD = "a long test password"
OPEN311_KEY = "open311-test-key"
NAME, PHONE, EMAIL = "张三丰", "13912345678", "zhangsan@example.cn"
IDENTITY_VALUES = (NAME, PHONE, EMAIL)


def body(**overrides: Any) -> dict[str, Any]:
    """The ARCHITECTURE.md example body, with a real name."""
    data: dict[str, Any] = {
        "channel": "web",
        "category": "water",
        "title": "河道夜间排污",
        "description": "工厂夜间向河道排放黑色污水，气味刺鼻。",
        "location": {
            "region_code": REGION,
            "address": "江岸区沿江大道100号",
            "lat": 30.6,
            "lon": 114.3,
        },
        "respondent": "武汉某某化工有限公司",
        "requested_outcome": "查处并责令整改",
        "urgent": False,
        "addressed_to_leader": False,
        "complainant": {"anonymous": False, "name": NAME, "phone": PHONE, "email": EMAIL},
        "written_reply": True,
        "reward_interest": False,
    }
    data.update(copy.deepcopy(overrides))
    return data


class Site:
    """The app and its engine; `submit` posts a complaint and returns (number, token)."""

    def __init__(self, engine: Engine, url: str, **env: str) -> None:
        settings = {
            "COMPLAINTS_DATABASE_URL": url,
            "COMPLAINTS_SECRET_KEY": "public test secret",
            "COMPLAINTS_PUBLIC_RATE_LIMIT": "0",
            "COMPLAINTS_OPEN311_KEYS": f"another-key,{OPEN311_KEY}",
            **env,
        }
        app = create_app(Settings.from_env(settings), engine=engine)
        app.config["TESTING"] = True
        app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain http
        app.extensions["complaints.accounts"] = Accounts(
            engine.sql,
            now=engine.clock.now,
            hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        )
        self.app: Flask = app
        self.engine = engine
        self.client: FlaskClient = app.test_client()
        self.accounts: Accounts = app.extensions["complaints.accounts"]
        self._tokens: dict[str, str] = {}

    # ---- staff

    def add_user(self, name: str, *groups: str) -> str:
        self.accounts.add_user(name, groups, password=PASSWORD)
        return name

    def bearer(self, name: str) -> dict[str, str]:
        if name not in self._tokens:
            answer = self.client.post(
                "/api/auth/token", json={"username": name, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.get_json()
            self._tokens[name] = answer.get_json()["token"]
        return {"Authorization": f"Bearer {self._tokens[name]}"}

    # ---- complainants

    def submit(self, data: dict[str, Any] | None = None, **headers: str) -> tuple[str, str]:
        answer = self.client.post("/api/complaints", json=data or body(), headers=headers)
        assert answer.status_code == 201, answer.get_json()
        found = answer.get_json()
        return found["tracking_number"], found["access_token"]

    def view(self, number: str, token: str):
        return self.client.get(f"/api/complaints/{number}", headers={"X-Access-Token": token})

    def ask(self, number: str, token: str, action: str, data: dict[str, Any]):
        return self.client.post(
            f"/api/complaints/{number}/{action}", json=data, headers={"X-Access-Token": token}
        )

    # ---- the database

    def session(self) -> Session:
        return Session(self.engine.sql, expire_on_commit=False)

    def count(self, model: Any) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def complaint(self, number: str) -> Complaint | None:
        with self.session() as session:
            return session.scalar(select(Complaint).where(Complaint.tracking_number == number))

    def identity(self, number: str) -> ComplainantIdentity | None:
        with self.session() as session:
            return session.scalar(
                select(ComplainantIdentity).where(ComplainantIdentity.tracking_number == number)
            )

    def notices(self, number: str, kind: str | None = None) -> list[Notice]:
        with self.session() as session:
            rows = session.scalars(
                select(Notice).where(Notice.tracking_number == number).order_by(Notice.id)
            )
            return [n for n in rows if kind is None or n.kind == kind]

    def actions(self, number: str) -> list[PublicAction]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(PublicAction)
                    .where(PublicAction.tracking_number == number)
                    .order_by(PublicAction.id)
                )
            )

    def intakes(self) -> list[Intake]:
        with self.session() as session:
            return list(session.scalars(select(Intake).order_by(Intake.id)))

    # ---- staff work on the real process

    def task(self, number: str, element: str) -> TaskView:
        found = [t for t in self.engine.tasks(business_key=number) if t.element_id == element]
        open_now = sorted(t.element_id for t in self.engine.tasks(business_key=number))
        assert len(found) == 1, f"{element} is not open; open: {open_now}"
        return found[0]

    def complete(self, number: str, element: str, actor, **data: Any) -> None:
        self.engine.complete_task(self.task(number, element).id, data, actor)

    def triage(self, number: str, subject: str, **flags: Any) -> None:
        values = dict.fromkeys(TRIAGE_FLAGS, False)
        values.update(flags)
        self.complete(number, "triage", OFFICE, subject=subject, **values)

    def petition_answered(self, number: str, outcome: str = "explained") -> None:
        """Track B: the petition office triages it as an ordinary petition, takes it on and
        issues its written opinion; the process then waits for a review request."""
        self.triage(number, "other_petition")
        self.complete(number, "assess_complexity", OFFICE, complexity="simple")
        self.complete(
            number,
            "handle_petition",
            OFFICE,
            opinion_outcome=outcome,
            opinion_text="经核实，已向信访人解释相关规定",
            opinion_facts="企业已取得排污许可",
            opinion_basis="《信访工作条例》第三十二条",
        )


def identity_free(text: str) -> bool:
    """None of the complainant's name, phone or e-mail appears in `text`."""
    return not any(value in text for value in IDENTITY_VALUES)
