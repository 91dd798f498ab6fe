"""Demo accounts and sample complaints for a first look: one user per candidate group, a shared
password printed once, and a few complaints waiting in the petition office's triage."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import Actor, Engine
from handlers.numbering import next_tracking_number

from .users import Accounts, generate_password

DEMO_GROUPS = {
    "admin": ["admin", "designer"],
    "intake": ["intake"],
    "office": ["petition_office"],
    "bureau": ["bureau:420102"],
    "enforce": ["enforcement"],
    "head": ["department_head"],
    "leader": ["leader"],
    "reviewer": ["reviewer"],
    "rereviewer": ["re_reviewer"],
    "inspect": ["inspection_team"],
    "discipline": ["discipline"],
    "opinion": ["opinion_unit"],
}

SAMPLES = [
    {
        "channel": "hotline",
        "category": "water",
        "title": "化工厂夜间向河道排污",
        "description": "沿江大道附近工厂夜间排放黑色污水，气味刺鼻。",
        "location": {
            "region_code": "420102",
            "address": "江岸区沿江大道100号",
            "lat": None,
            "lon": None,
        },
        "respondent": "武汉某某化工有限公司",
        "requested_outcome": "查处并责令整改",
    },
    {
        "channel": "web",
        "category": "noise",
        "title": "工地夜间施工噪声扰民",
        "description": "每晚十一点后仍有打桩作业。",
        "location": {"region_code": "420106", "address": "武昌区中北路", "lat": None, "lon": None},
        "respondent": "某建设工程项目部",
        "requested_outcome": "停止夜间施工",
    },
    {
        "channel": "mailbox",
        "category": "air",
        "title": "建议增设空气质量监测点",
        "description": "希望在学校周边增设监测点并公开数据。",
        "location": {"region_code": "420111", "address": "洪山区", "lat": None, "lon": None},
        "respondent": None,
        "requested_outcome": None,
        "addressed_to_leader": True,
    },
]

DEFAULTS = {
    "urgent": False,
    "addressed_to_leader": False,
    "written_reply": True,
    "reward_interest": False,
}


def create_demo(engine: Engine, accounts: Accounts) -> list[str]:
    """Create the demo users and complaints unless users exist; returns lines to print."""
    if accounts.get("admin") is not None:
        return ["demo users exist already; their password was printed when they were created"]
    password = generate_password()
    for username, groups in DEMO_GROUPS.items():
        accounts.add_user(username, groups, password=password, admin=username == "admin")
    numbers = [_start_sample(engine, sample) for sample in SAMPLES]
    lines = [f"demo users (password for all, shown only now): {password}"]
    lines += [f"  {name:<11} {', '.join(groups)}" for name, groups in DEMO_GROUPS.items()]
    lines.append(f"sample complaints: {', '.join(numbers)}")
    return lines


def _start_sample(engine: Engine, sample: dict) -> str:
    with Session(engine.sql) as session:
        number = next_tracking_number(session, engine.clock.now())
        session.commit()
    engine.start(
        "complaint", {**DEFAULTS, **sample}, number, Actor("intake", frozenset({"intake"}))
    )
    return number
