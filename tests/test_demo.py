"""`complaints demo`: a newcomer gets a user of every group and complaints to work on."""

from __future__ import annotations

from api.demo import DEMO_GROUPS, create_demo
from api.users import Accounts
from tests.lifecycle import lifecycle_engine


def test_demo_creates_a_user_per_group_and_sample_complaints_once(sqlite_url, clock) -> None:
    engine = lifecycle_engine(sqlite_url, clock)
    accounts = Accounts(engine.sql)
    lines = create_demo(engine, accounts)
    assert "password" in lines[0]
    assert tuple(accounts.get("office").groups) == ("petition_office",)
    assert {g for groups in DEMO_GROUPS.values() for g in groups} >= {"intake", "bureau:420102"}
    office = accounts.get("office").actor()
    triage = [t for t in engine.tasks(actor=office) if t.element_id == "triage"]
    assert len(triage) == 2  # the third is a letter to the leader, annotated first
    assert len(engine.tasks(actor=accounts.get("leader").actor())) == 1
    assert create_demo(engine, accounts) == [
        "demo users exist already; their password was printed when they were created"
    ]
    engine.close()
