"""What the statistics tests share: a small hand-made data set whose every figure is worked out
by hand below, written straight into the read models (complaints, identities, notices, audit
rows), and an app with the statistics blueprints and the staff who may or may not read them.
Holds no tests itself.

The data set, "now" = 2026-05-01 02:00 UTC (Beijing months: C03 was received on 1 February
Beijing time although it is still 31 January in UTC; C07 closed on 1 April Beijing time):

| #   | channel | category | region | status        | track     | days | deadline | rep | satisf. |
|-----|---------|----------|--------|---------------|-----------|------|----------|-----|---------|
| C01 | web     | air      | 420102 | closed        | A         | 10   | met      |     | yes     |
| C02 | web     | air      | 420103 | closed        | A         | 70   | missed   |     | no      |
| C03 | hotline | water    | 420102 | final         | B         | 20   | met      |     | basic.  |
| C04 | hotline | noise    | 420202 | accepted      | A         | open | overdue  |     |         |
| C05 | letter  | noise    | 420202 | investigating | B         | open | future   | C04 |         |
| C06 | web     | air      | 420102 | in_review     | B         | open | passed*  |     |         |
| C07 | wechat  | water    | 420502 | closed        | B         | 30   | none     | C03 | yes     |
| C08 | web     | soil     | (none) | diverted      | diversion | open | none     |     |         |
| C09 | hotline | air      | 420103 | registered    | (none)    | open | none     |     |         |
| C10 | web     | air      | 420102 | extended      | B         | open | overdue  | C01 |         |

(satisf.: yes = satisfied, no = dissatisfied, basic. = basically satisfied.)
(* C06 is past its handling deadline but in review, so it is not "overdue now".)
Closed: 4, days 10/20/30/70: average 32.5, p90 = 30 + 0.7 x 40 = 58. On time: 2 of 3 with a
deadline (A: 1 of 2, B: 1 of 1). Overdue now: C04, C10. Repeats 3 of 10. Satisfaction 3 of 4.
Opinions (Track B written opinion notices): C03, C06, C07; review opinions C03, C06 (C06 twice);
re-review opinion C03. Review outcomes: upheld (C03), changed (C06); re-review: upheld (C03).
Respondents: 甲化工厂 4 (spelt two ways), 乙公司 2, 丙餐厅 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert

from api.composition import bundle_files, compile_form, handler_table
from api.users import Accounts
from engine import Actor, Engine
from engine.models import AuditEvent
from handlers.models import ComplainantIdentity, Complaint, Notice
from handlers.normalise import normal_key
from handlers.times import CHINA
from tests.clock import TravelClock
from tests.test_api_support import Api, make_app

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)

# Identities that must never leave the identity table through statistics or disclosure.
SECRET_NAME = "欧阳秘密"
SECRET_PHONE = "13987654321"
SECRET_EMAIL = "hidden.person@example.org"
SECRET_ADDRESS = "幸福路99号秘密小区"
SECRETS = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, SECRET_ADDRESS)
# Free text of the complaints, which the public page must not show either.
SECRET_TEXT = "凌晨偷排黑水"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _complaint(
    number: str,
    channel: str,
    category: str,
    region: str | None,
    status: str,
    track: str | None,
    created: datetime,
    *,
    closed_after_days: float | None = None,
    deadline: datetime | None = None,
    repeat_of: str | None = None,
    satisfaction: str | None = None,
    respondent: str | None = None,
) -> dict[str, Any]:
    return {
        "tracking_number": number,
        "channel": channel,
        "category": category,
        "title": f"{SECRET_TEXT} {number}",
        "description": f"{SECRET_TEXT}，{SECRET_NAME}反映",
        "region_code": region,
        "address": SECRET_ADDRESS,
        "respondent": respondent,
        "respondent_key": normal_key(respondent),
        "status": status,
        "track": track,
        "deadline_at": deadline,
        "closed_at": None
        if closed_after_days is None
        else created + timedelta(days=closed_after_days),
        "repeat_of": repeat_of,
        "satisfaction": satisfaction,
        "created_at": created,
        "updated_at": created,
    }


COMPLAINTS = [
    _complaint(
        "C01", "web", "air", "420102", "closed", "A", utc(2026, 1, 5, 2),
        closed_after_days=10, deadline=utc(2026, 3, 6, 2), satisfaction="satisfied",
        respondent="甲化工厂",
    ),
    _complaint(
        "C02", "web", "air", "420103", "closed", "A", utc(2026, 1, 10, 2),
        closed_after_days=70, deadline=utc(2026, 3, 11, 2), satisfaction="dissatisfied",
        respondent="甲 化工厂（）",
    ),
    _complaint(
        "C03", "hotline", "water", "420102", "final", "B", utc(2026, 1, 31, 17),
        closed_after_days=20, deadline=utc(2026, 4, 1, 17), satisfaction="basically_satisfied",
        respondent="乙公司",
    ),
    _complaint(
        "C04", "hotline", "noise", "420202", "accepted", "A", utc(2026, 2, 3, 2),
        deadline=utc(2026, 4, 4, 2),
    ),
    _complaint(
        "C05", "letter", "noise", "420202", "investigating", "B", utc(2026, 2, 10, 2),
        deadline=utc(2026, 6, 1, 2), repeat_of="C04", respondent="丙餐厅",
    ),
    _complaint(
        "C06", "web", "air", "420102", "in_review", "B", utc(2026, 2, 15, 2),
        deadline=utc(2026, 4, 10, 2), respondent="乙公司",
    ),
    _complaint(
        "C07", "wechat", "water", "420502", "closed", "B", utc(2026, 3, 1, 17),
        closed_after_days=30, repeat_of="C03", satisfaction="satisfied", respondent="甲化工厂",
    ),
    _complaint("C08", "web", "soil", None, "diverted", "diversion", utc(2026, 3, 10, 2)),
    _complaint("C09", "hotline", "air", "420103", "registered", None, utc(2026, 4, 20, 2)),
    _complaint(
        "C10", "web", "air", "420102", "extended", "B", utc(2026, 3, 20, 2),
        deadline=utc(2026, 4, 15, 2), repeat_of="C01", respondent="甲化工厂",
    ),
]  # fmt: skip

NOTICES = [
    ("C03", "opinion"),
    ("C06", "opinion"),
    ("C07", "opinion"),
    ("C03", "review_opinion"),
    ("C06", "review_opinion"),
    ("C06", "review_opinion"),  # sent twice (a retried notice under another key)
    ("C03", "re_review_opinion"),
    ("C04", "receipt"),
]

# (tracking number, event, element, form data)
AUDIT = [
    ("C03", "task_completed", "review", {"review_outcome": "upheld", "review_opinion": "x"}),
    ("C06", "task_completed", "review", {"review_outcome": "changed"}),
    ("C03", "task_completed", "re_review", {"re_review_outcome": "upheld"}),
    ("C06", "task_ready", "review", None),
    ("C05", "task_completed", "investigate", {"violation_found": True}),
]


def load_dataset(sql: SqlEngine) -> None:
    with sql.begin() as connection:
        connection.execute(insert(Complaint.__table__), COMPLAINTS)
        connection.execute(
            insert(ComplainantIdentity.__table__),
            [
                {
                    "tracking_number": row["tracking_number"],
                    "anonymous": False,
                    "name": f"{SECRET_NAME}{i}",
                    "phone": SECRET_PHONE,
                    "email": SECRET_EMAIL,
                    "address": SECRET_ADDRESS,
                    "created_at": row["created_at"],
                }
                for i, row in enumerate(COMPLAINTS)
            ],
        )
        connection.execute(
            insert(Notice.__table__),
            [
                {
                    "tracking_number": number,
                    "kind": kind,
                    "recipient": "complainant",
                    "recipient_channel": "sms",
                    "text": f"{SECRET_NAME}：您好",
                    "status": "sent",
                    "idempotency_key": f"test:{i}:{kind}",
                    "created_at": NOW - timedelta(days=1),
                }
                for i, (number, kind) in enumerate(NOTICES)
            ],
        )
        connection.execute(
            insert(AuditEvent.__table__),
            [
                {
                    "at": NOW - timedelta(days=2),
                    "actor": "reviewer.one",
                    "event": event,
                    "business_key": number,
                    "element_id": element,
                    "data_after": data,
                }
                for number, event, element, data in AUDIT
            ],
        )


STAFF = {
    "wu.office": ("petition_office",),
    "liu.leader": ("leader",),
    "li.intake": ("intake",),
    "zhou.opinion": ("opinion_unit",),
}


def stats_app(engine: Engine, database_url: str) -> Api:
    """The app and a member of every group that matters to the statistics."""
    app: Flask = make_app(engine, database_url)
    app.config["SESSION_COOKIE_SECURE"] = False
    app.extensions["complaints.accounts"] = Accounts(
        engine.sql,
        now=engine.clock.now,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    helper = Api(app, engine)
    helper.add_user("admin", admin=True)
    for name, groups in STAFF.items():
        helper.add_user(name, *groups)
    return helper


# ---------------------------------------------------------------- the periodic processes

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
ADMIN = Actor("admin", frozenset({"admin"}), admin=True)
OFFICE = Actor("wu.office", frozenset({"petition_office"}))
OPINION = Actor("zhou.opinion", frozenset({"opinion_unit"}))


def shipped_engine(url: str, clock: TravelClock) -> Engine:
    """An engine with the real handlers and the shipped processes and forms deployed."""
    engine = Engine(url, handlers=handler_table(), compile_form=compile_form, clock=clock)
    engine.create_schema()
    engine.deploy(bundle_files(PROCESSES, FORMS), ADMIN)
    return engine


# Complaints of November 2026 (Beijing) for the first monthly publication: counted by category,
# region and status; their respondents, text and complainants must never be published.
NOVEMBER = [
    _complaint("D01", "web", "air", "420102", "closed", "A", utc(2026, 11, 2, 2),
               closed_after_days=5, respondent="丁钢铁有限公司"),
    _complaint("D02", "hotline", "air", "420106", "accepted", "B", utc(2026, 11, 9, 2),
               respondent="张某某"),
    _complaint("D03", "letter", "noise", "420102", "diverted", "diversion",
               utc(2026, 11, 30, 15, 59), respondent="戊酒吧"),
    _complaint("D04", "web", "water", "420102", "registered", None, utc(2026, 11, 30, 16)),
]  # fmt: skip
PRIVATE_RESPONDENTS = ("丁钢铁有限公司", "张某某", "戊酒吧")
FIRST_DISCLOSURE = datetime(2026, 12, 1, 1, tzinfo=CHINA)  # the diagram's first occurrence


def load_november(sql: SqlEngine) -> None:
    """D04 arrived at 00:00 on 1 December, Beijing time: it belongs to December."""
    with sql.begin() as connection:
        connection.execute(insert(Complaint.__table__), NOVEMBER)
        connection.execute(
            insert(ComplainantIdentity.__table__),
            [
                {
                    "tracking_number": row["tracking_number"],
                    "anonymous": False,
                    "name": SECRET_NAME,
                    "phone": SECRET_PHONE,
                    "email": SECRET_EMAIL,
                    "address": SECRET_ADDRESS,
                    "created_at": row["created_at"],
                }
                for row in NOVEMBER
            ],
        )


def periodic_instance(engine: Engine, process_id: str) -> int:
    """The one instance the deployment started for a process that begins with a timer."""
    (instance,) = engine.instances(process_id=process_id, status="running")
    assert instance["business_key"] == process_id
    return instance["id"]


def run_monthly_disclosure(engine: Engine, clock: TravelClock, decision: str) -> str:
    """The first run of periodic_disclosure, at 01:00 on 1 December 2026 (Beijing), on the
    instance the deployment started: the timer fires, the month before is recorded, and
    petition_office decides on the approval task. Returns the task's id."""
    clock.move_to(FIRST_DISCLOSURE + timedelta(seconds=1))
    engine.fire_due_timers()
    (task,) = engine.tasks(process_id="periodic_disclosure", actor=OFFICE)
    engine.complete_task(task.id, {"decision": decision}, OFFICE)
    return task.id
