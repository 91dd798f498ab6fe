"""A driver for complaint scenarios: one complaint through the real `processes/` and `forms/`
files, the real handlers and the engine, with the injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.composition import bundle_files, compile_form, handler_table
from engine import Actor, Engine, InstanceView, TaskView
from handlers.models import Complaint, Notice, Referral
from tests.clock import TravelClock
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parents[1]

REGION = "420102"


def staff(name: str, *groups: str) -> Actor:
    return Actor(name, frozenset(groups))


INTAKE = staff("li.intake", "intake")
OFFICE = staff("chen.office", "petition_office")
BUREAU = staff("zhou.bureau", f"bureau:{REGION}")
ENFORCEMENT = staff("wang.enforce", "enforcement")
HEAD = staff("sun.head", "department_head")
LEADER = staff("liu.leader", "leader")
REVIEWER = staff("he.reviewer", "reviewer")
RE_REVIEWER = staff("gao.rereviewer", "re_reviewer")
INSPECTION = staff("ma.inspect", "inspection_team")
DISCIPLINE = staff("xu.discipline", "discipline")
OPINION = staff("zhu.opinion", "opinion_unit")
EVERYONE = (
    INTAKE,
    OFFICE,
    BUREAU,
    ENFORCEMENT,
    HEAD,
    LEADER,
    REVIEWER,
    RE_REVIEWER,
    INSPECTION,
    DISCIPLINE,
    OPINION,
)

TRIAGE_FLAGS = (
    "raised_again_with_higher_level",
    "visit_skipped_levels",
    "within_court_jurisdiction",
    "after_re_review_same_facts",
    "litigation_closed",
    "outside_eeb_competence",
    "lower_level_competent",
    "spans_regions",
    "spans_departments",
)


def complaint_data(**overrides: Any) -> dict[str, Any]:
    data = {
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
        "written_reply": True,
        "reward_interest": False,
    }
    data.update(overrides)
    return data


def deploy_lifecycle(engine: Engine) -> None:
    engine.deploy(bundle_files(ROOT / "processes", ROOT / "forms"), ADMIN)


def lifecycle_engine(url: str, clock: TravelClock) -> Engine:
    engine = Engine(url, handlers=handler_table(), compile_form=compile_form, clock=clock)
    engine.create_schema()
    deploy_lifecycle(engine)
    return engine


class Case:
    """One complaint: start it, work its tasks, move time, read what the complainant was told."""

    def __init__(self, engine: Engine, clock: TravelClock, number: str, **data: Any) -> None:
        self.engine, self.clock, self.number = engine, clock, number
        self.instance = engine.start("complaint", complaint_data(**data), number, INTAKE)

    # ---- tasks

    def open_tasks(self) -> list[TaskView]:
        return self.engine.tasks(business_key=self.number)

    def open_elements(self) -> list[str]:
        return sorted(t.element_id for t in self.open_tasks())

    def task(self, element: str) -> TaskView:
        found = [t for t in self.open_tasks() if t.element_id == element]
        assert len(found) == 1, f"{element} not open; open: {self.open_elements()}"
        return found[0]

    def complete(self, element: str, actor: Actor, **data: Any) -> TaskView:
        return self.engine.complete_task(self.task(element).id, data, actor)

    def triage(self, subject: str, **flags: Any) -> None:
        values = {flag: False for flag in TRIAGE_FLAGS}
        values.update(flags)
        self.complete("triage", OFFICE, subject=subject, **values)

    # ---- time

    def advance(self, **delta: float) -> int:
        self.clock.advance(**delta)
        return self.engine.fire_due_timers()

    def advance_to(self, moment: datetime) -> int:
        self.clock.move_to(moment)
        return self.engine.fire_due_timers()

    def due(self, element: str) -> datetime:
        pending = [
            t for t in self.view().timers if t.element_id == element and t.status == "pending"
        ]
        assert len(pending) == 1, f"no pending timer {element}: {self.view().timers}"
        return pending[0].due_at

    # ---- what happened

    def view(self) -> InstanceView:
        return self.engine.instance(self.instance.id)

    def status(self) -> str:
        return self.view().status

    def reached(self, *elements: str) -> bool:
        done = set(self.completed_elements())
        return set(elements) <= done

    def completed_elements(self) -> list[str]:
        # call activities run in their own subprocess; the engine lists their elements too
        return self.view().completed_elements

    def _session(self) -> Session:
        return Session(self.engine.sql)

    def complaint(self) -> Complaint:
        with self._session() as session:
            return session.scalar(select(Complaint).where(Complaint.tracking_number == self.number))

    def notices(self, kind: str | None = None) -> list[Notice]:
        with self._session() as session:
            query = select(Notice).where(Notice.tracking_number == self.number).order_by(Notice.id)
            rows = list(session.scalars(query))
        return [n for n in rows if kind is None or n.kind == kind]

    def notice_kinds(self) -> list[str]:
        return [n.kind for n in self.notices()]

    def referrals(self) -> list[Referral]:
        with self._session() as session:
            query = select(Referral).where(Referral.tracking_number == self.number)
            return list(session.scalars(query.order_by(Referral.id)))

    def events(self) -> list[str]:
        return [e.event for e in self.engine.history(self.instance.id)]


def days(n: float) -> timedelta:
    return timedelta(days=n)
