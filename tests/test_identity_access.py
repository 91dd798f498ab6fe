"""Revealing a complainant's identity to staff, through the real processes and the public intake:
only to identity groups working on the task, never on an accusation, never to an administrator as
such, always as a deliberate POST that leaves an `identity_viewed` audit row, and shown inert."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.settings import Settings
from engine import AuditView, Engine
from engine.audit_query import AuditFilters
from tests.lifecycle import OFFICE, REGION, lifecycle_engine
from tests.test_api_support import error_of
from tests.test_public_support import EMAIL, NAME, PASSWORD, PHONE, Site, body
from tests.test_web_support import IMG, SCRIPT, Staff, text_of

OTHER_REGION = "420103"


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


def office_site(engine: Engine, url: str, **env: str) -> Site:
    """The app with the staff of these tests: each a member of one group, and an administrator
    who is in none."""
    site = Site(engine, url, **env)
    site.add_user("chen.office", "petition_office")
    site.add_user("wang.enforce", "enforcement")
    site.add_user("zhou.bureau", f"bureau:{REGION}")
    site.add_user("qian.bureau", f"bureau:{OTHER_REGION}")
    site.add_user("xu.discipline", "discipline")
    site.accounts.add_user("admin", (), password=PASSWORD, admin=True)
    return site


@pytest.fixture
def site(engine: Engine, sqlite_url: str) -> Site:
    return office_site(engine, sqlite_url)


def complaint(site: Site, respondent: str = "武汉某某化工有限公司", **overrides: Any) -> str:
    """A web complaint with the usual identity; each respondent makes a new matter (no repeat)."""
    number, _token = site.submit(body(respondent=respondent, **overrides))
    return number


def signed_in(site: Site, name: str) -> Staff:
    staff = Staff(site.app.test_client())
    assert staff.login(name).status_code == 303
    staff.get("/tasks")  # the form token of the signed-in session
    return staff


def reveal_json(site: Site, name: str, task_id: str):
    return site.client.post(f"/api/tasks/{task_id}/complainant", headers=site.bearer(name))


def identity_views(site: Site, number: str) -> list[AuditView]:
    return site.engine.audit(AuditFilters(events=("identity_viewed",), business_key=number))


def shows_identity(page: str) -> bool:
    return any(value in page for value in (NAME, PHONE, EMAIL))


# ------------------------------------------------------------ those who need it


def test_the_petition_office_reveals_the_contact_on_purpose_and_the_viewing_is_audited(
    site: Site,
) -> None:
    number = complaint(site)
    task = site.task(number, "triage")
    office = signed_in(site, "chen.office")

    page = office.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    assert 'id="reveal-contact"' in page.get_data(as_text=True)
    assert not shows_identity(page.get_data(as_text=True))
    assert identity_views(site, number) == []  # opening the task reveals nothing

    answer = office.post(f"/tasks/{task.id}/contact")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    shown = text_of(answer)
    assert "投诉人联系方式" in shown and NAME in shown and PHONE in shown and EMAIL in shown
    assert 'id="reveal-contact"' not in answer.get_data(as_text=True)

    [row] = identity_views(site, number)
    assert (row.actor, row.task_id, row.business_key) == ("chen.office", task.id, number)
    assert row.instance_id == task.instance_id
    assert not shows_identity(repr(row))  # the trail says who looked, not what they saw


def test_the_json_api_reveals_the_identity_fields_and_audits_each_call(site: Site) -> None:
    number = complaint(site)
    task = site.task(number, "triage")

    answer = reveal_json(site, "chen.office", task.id)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == {
        "anonymous": False,
        "name": NAME,
        "phone": PHONE,
        "email": EMAIL,
        "address": None,
    }
    assert reveal_json(site, "chen.office", task.id).status_code == 200
    assert [r.actor for r in identity_views(site, number)] == ["chen.office", "chen.office"]
    assert site.client.post(f"/api/tasks/{task.id}/complainant").status_code == 401


def test_the_local_bureau_owning_the_matter_may_reveal_it_and_another_bureau_may_not(
    site: Site,
) -> None:
    number = complaint(site)
    site.triage(number, "pollution_report", lower_level_competent=True)
    task = site.task(number, "review_assignment")
    assert task.candidate_groups == [f"bureau:{REGION}"]

    assert reveal_json(site, "zhou.bureau", task.id).get_json()["phone"] == PHONE

    status, error, _fields = error_of(reveal_json(site, "qian.bureau", task.id))
    assert (status, error) == (403, "forbidden")
    other = signed_in(site, "qian.bureau")
    assert other.get(f"/tasks/{task.id}").status_code == 403
    refused = other.post(f"/tasks/{task.id}/contact")
    assert refused.status_code == 403 and not shows_identity(refused.get_data(as_text=True))
    assert error_of(reveal_json(site, "qian.bureau", "no-such-task"))[0] == 404
    assert [r.actor for r in identity_views(site, number)] == ["zhou.bureau"]


# ------------------------------------------------------------ those who do not


def test_enforcement_working_the_matter_never_sees_who_complained(site: Site) -> None:
    number = complaint(site)
    site.triage(number, "pollution_report")
    site.complete(
        number, "assess_complexity", OFFICE, complexity="complex", co_units=["enforcement"]
    )
    task = site.task(number, "co_handle")
    officer = signed_in(site, "wang.enforce")

    page = officer.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    assert 'id="contact"' not in page.get_data(as_text=True)
    assert not shows_identity(page.get_data(as_text=True))

    refused = officer.post(f"/tasks/{task.id}/contact")
    assert refused.status_code == 403
    assert "仅向确有需要的组显示" in text_of(refused)
    assert not shows_identity(refused.get_data(as_text=True))

    answer = reveal_json(site, "wang.enforce", task.id)
    assert error_of(answer)[:2] == (403, "forbidden")
    assert "COMPLAINTS_IDENTITY_GROUPS" in answer.get_json()["message"]
    assert identity_views(site, number) == []


def test_an_administrator_has_no_right_of_their_own_to_the_identity(site: Site) -> None:
    number = complaint(site)
    task = site.task(number, "triage")
    admin = signed_in(site, "admin")

    page = admin.get(f"/tasks/{task.id}")
    assert page.status_code == 200  # an administrator sees every task ...
    assert 'id="contact"' not in page.get_data(as_text=True)  # ... but not who complained
    assert admin.post(f"/tasks/{task.id}/contact").status_code == 403
    assert error_of(reveal_json(site, "admin", task.id))[0] == 403
    assert identity_views(site, number) == []


def test_an_accusation_never_reveals_the_accuser_even_to_an_identity_group(
    engine: Engine, sqlite_url: str
) -> None:
    site = office_site(engine, sqlite_url, COMPLAINTS_IDENTITY_GROUPS="discipline,petition_office")
    number = complaint(site, title="执法人员收受好处")
    site.triage(number, "accusation")
    site.complete(number, "assess_complexity", OFFICE, complexity="simple")
    task = site.task(number, "acknowledge_accusation")
    discipline = signed_in(site, "xu.discipline")

    page = discipline.get(f"/tasks/{task.id}")
    assert page.status_code == 200 and 'id="contact"' not in page.get_data(as_text=True)
    refused = discipline.post(f"/tasks/{task.id}/contact")
    assert refused.status_code == 403
    assert "检举控告人的身份信息" in text_of(refused)
    assert not shows_identity(refused.get_data(as_text=True))

    answer = reveal_json(site, "xu.discipline", task.id)
    assert error_of(answer)[0] == 403 and "accusation" in answer.get_json()["message"]
    assert identity_views(site, number) == []


# ------------------------------------------------------------ what the box shows


def test_an_anonymous_complaint_shows_anonymous_and_no_contact_details(site: Site) -> None:
    number = complaint(site, complainant={"anonymous": True})
    task = site.task(number, "triage")
    office = signed_in(site, "chen.office")

    shown = text_of(office.post(f"/tasks/{task.id}/contact"))
    assert "匿名投诉人" in shown and "未留联系方式" in shown

    office.get(f"/tasks/{task.id}?lang=en")
    shown = text_of(office.post(f"/tasks/{task.id}/contact"))
    assert "Anonymous complainant" in shown and "No contact details recorded." in shown
    assert reveal_json(site, "chen.office", task.id).get_json()["anonymous"] is True


def test_markup_in_the_identity_is_shown_as_text(site: Site) -> None:
    number = complaint(
        site, complainant={"name": SCRIPT, "phone": PHONE, "address": IMG, "anonymous": False}
    )
    task = site.task(number, "triage")
    page = signed_in(site, "chen.office").post(f"/tasks/{task.id}/contact")
    html = page.get_data(as_text=True)
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT in text_of(page) and IMG in text_of(page)


def test_revealing_needs_the_form_token_and_a_get_goes_back_to_the_task(site: Site) -> None:
    number = complaint(site)
    task = site.task(number, "triage")
    office = signed_in(site, "chen.office")

    assert office.post(f"/tasks/{task.id}/contact", csrf=False).status_code == 400
    back = office.get(f"/tasks/{task.id}/contact")
    assert back.status_code == 303 and back.headers["Location"] == f"/tasks/{task.id}"
    assert identity_views(site, number) == []


# ------------------------------------------------------------ the setting


def test_identity_groups_come_from_the_environment_and_bureau_star_matches_every_bureau() -> None:
    default = Settings.from_env({})
    assert default.sees_identity(["intake"]) and default.sees_identity(["leader"])
    assert default.sees_identity(["petition_office"]) and default.sees_identity(["bureau:420102"])
    assert not default.sees_identity(["enforcement", "discipline", "admin", "bureau"])

    narrow = Settings.from_env({"COMPLAINTS_IDENTITY_GROUPS": " leader , bureau:420102 "})
    assert narrow.sees_identity(["bureau:420102"]) and narrow.sees_identity(["leader"])
    assert not narrow.sees_identity(["bureau:420103"]) and not narrow.sees_identity(["intake"])
    assert not Settings.from_env({"COMPLAINTS_IDENTITY_GROUPS": ""}).sees_identity(["intake"])
