"""`POST /api/complaints` on the real complaint process: validation, the tracking number and
access token, identity kept apart, staff channels, double submissions, a failed start that
leaves nothing behind, the rate limit, and the OpenAPI entries of the public routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from api.composition import compile_form, handler_table
from api.public_service import check_submission, token_digest
from engine import Actor, Engine
from handlers.intake import Intake, digest, record_intake
from handlers.models import ComplainantIdentity, Complaint
from tests.lifecycle import deploy_lifecycle, lifecycle_engine
from tests.test_public_support import EMAIL, NAME, PHONE, Site, body, identity_free


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def site(engine: Engine, sqlite_url: str) -> Site:
    return Site(engine, sqlite_url)


def test_a_web_complaint_gets_a_tracking_number_and_an_access_token_and_starts_the_process(
    site: Site,
) -> None:
    answer = site.client.post("/api/complaints", json=body())
    assert answer.status_code == 201
    found = answer.get_json()
    assert re.fullmatch(r"HB-2026-\d{6}", found["tracking_number"])
    # 25 characters of Crockford base32 in groups of five (125 bits), easy to read aloud
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{5}-){4}[0-9A-HJKMNP-TV-Z]{5}", found["access_token"])
    assert found["status"] == "registered"
    assert found["status_text"]["zh"] and found["status_text"]["en"]
    assert answer.headers["Cache-Control"] == "no-store"
    number = found["tracking_number"]
    [instance] = site.engine.instances(business_key=number)
    assert instance["status"] == "running"
    assert [t.element_id for t in site.engine.tasks(business_key=number)] == ["triage"]
    # Only the hash of the token is kept.
    [intake] = site.intakes()
    assert intake.token_hash == token_digest(found["access_token"])
    assert found["access_token"] not in repr(intake.__dict__)
    assert intake.status == "started"


def test_the_identity_is_stored_apart_and_never_in_the_process_data(site: Site) -> None:
    number, _ = site.submit()
    identity = site.identity(number)
    assert (identity.name, identity.phone, identity.email) == (NAME, PHONE, EMAIL)
    assert identity.anonymous is False
    [row] = site.engine.instances(business_key=number)
    data = site.engine.instance(row["id"]).data
    assert identity_free(repr(data))
    assert "complainant" not in data
    start_keys = {
        "channel",
        "category",
        "title",
        "description",
        "location",
        "respondent",
        "requested_outcome",
        "urgent",
        "addressed_to_leader",
        "written_reply",
        "reward_interest",
    }
    assert start_keys <= set(data)
    for event in site.engine.history(row["id"]):
        assert identity_free(repr(event))
    # the process's register step kept the complaint and identity written at intake
    assert site.complaint(number).respondent == "武汉某某化工有限公司"
    assert site.count(ComplainantIdentity) == 1


def test_an_anonymous_complaint_keeps_no_name(site: Site) -> None:
    number, _ = site.submit(body(complainant={"anonymous": True, "phone": PHONE}))
    identity = site.identity(number)
    assert identity.anonymous is True and identity.name is None and identity.phone == PHONE
    number, _ = site.submit(body(complainant=None, description="另一处噪声"))
    assert site.identity(number).anonymous is True


def test_every_invalid_field_is_named_in_one_answer(site: Site) -> None:
    bad = body(
        channel="fax",
        category="smell",
        title="标" * 301,
        description="  ",
        location={"region_code": "42", "lat": 30.6, "extra": 1},
        urgent="yes",
        colour="red",
    )
    answer = site.client.post("/api/complaints", json=bad)
    assert answer.status_code == 422
    found = answer.get_json()
    assert found["error"] == "invalid_data"
    assert set(found["fields"]) == {
        "channel",
        "category",
        "title",
        "description",
        "location.region_code",
        "location.lat",
        "location.extra",
        "urgent",
        "colour",
    }
    assert found["fields"]["title"] == ["at most 300 characters"]
    assert site.count(Complaint) == 0 and site.count(Intake) == 0


def test_a_missing_location_and_a_body_that_is_not_an_object_are_refused(site: Site) -> None:
    answer = site.client.post("/api/complaints", json=body(location=None))
    assert answer.get_json()["fields"] == {"location.region_code": ["required"]}
    assert site.client.post("/api/complaints", json=[1]).status_code == 422
    assert site.client.post("/api/complaints", data="{oops").status_code == 400


def test_a_real_name_complaint_needs_a_name_and_a_way_to_reach_the_person(site: Site) -> None:
    answer = site.client.post("/api/complaints", json=body(complainant={"anonymous": False}))
    fields = answer.get_json()["fields"]
    assert answer.status_code == 422
    assert set(fields) == {"complainant.name", "complainant.phone"}
    answer = site.client.post(
        "/api/complaints",
        json=body(complainant={"anonymous": True, "name": NAME, "email": "not-an-address"}),
    )
    assert set(answer.get_json()["fields"]) == {"complainant.name", "complainant.email"}


def test_a_body_larger_than_64_kib_is_refused_before_it_is_read(site: Site) -> None:
    answer = site.client.post(
        "/api/complaints",
        data=b"{" + b" " * (65 * 1024) + b"}",
        content_type="application/json",
    )
    assert answer.status_code == 413


def test_staff_channels_need_a_staff_token(site: Site) -> None:
    answer = site.client.post("/api/complaints", json=body(channel="hotline"))
    assert answer.status_code == 401
    assert "web" in answer.get_json()["message"]
    site.add_user("li.intake", "intake")
    headers = site.bearer("li.intake")
    answer = site.client.post("/api/complaints", json=body(channel="hotline"), headers=headers)
    assert answer.status_code == 201
    number = answer.get_json()["tracking_number"]
    assert site.complaint(number).channel == "hotline"
    [row] = site.engine.instances(business_key=number)
    assert site.engine.history(row["id"])[0].actor == "li.intake"
    bad = {"Authorization": "Bearer not-a-token"}
    assert site.client.post("/api/complaints", json=body(), headers=bad).status_code == 401


def test_a_double_submission_registers_one_complaint_and_answers_the_same_number(
    site: Site,
) -> None:
    key = {"Idempotency-Key": "7f0c2a6e-double-click"}
    first = site.client.post("/api/complaints", json=body(), headers=key)
    second = site.client.post("/api/complaints", json=body(), headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    number = first.get_json()["tracking_number"]
    assert second.get_json()["tracking_number"] == number
    assert site.count(Complaint) == 1 and site.count(Intake) == 1
    assert len(site.engine.instances(business_key=number)) == 1
    assert len(site.notices(number, "receipt")) == 1
    # The repeat hands out a fresh token; the first one stops working.
    assert site.view(number, second.get_json()["access_token"]).status_code == 200
    assert site.view(number, first.get_json()["access_token"]).status_code == 404
    assert [a.action for a in site.actions(number)] == ["submission_repeated"]


def test_the_same_key_from_another_client_or_with_another_body_never_gets_a_token(
    site: Site,
) -> None:
    key = {"Idempotency-Key": "shared-key-1"}
    site.submit(body(), **key)
    other_client = site.client.post(
        "/api/complaints",
        json=body(),
        headers=key,
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    other_body = site.client.post("/api/complaints", json=body(description="别的事情"), headers=key)
    for answer in (other_client, other_body):
        assert answer.status_code == 422
        assert answer.get_json()["error"] == "idempotency_key_reused"
        assert "access_token" not in answer.get_json()
        assert "tracking_number" not in answer.get_data(as_text=True)
    assert site.count(Complaint) == 1


def test_a_process_that_fails_to_start_leaves_nothing_behind(sqlite_url: str, clock) -> None:
    def broken_notice(params, context):
        raise RuntimeError("SMS gateway down")

    engine = Engine(
        sqlite_url,
        handlers=handler_table({"notify_complainant": broken_notice}),
        compile_form=compile_form,
        clock=clock,
    )
    engine.create_schema()
    deploy_lifecycle(engine)
    site = Site(engine, sqlite_url)
    try:
        answer = site.client.post("/api/complaints", json=body())
        assert answer.status_code == 503
        assert answer.get_json()["error"] == "intake_unavailable"
        assert site.count(Complaint) == 0
        assert site.count(ComplainantIdentity) == 0
        assert site.count(Intake) == 0
        assert site.engine.instances(process_id="complaint") == []
        # the next complaint registers normally; the failed one's number is not reused
        # (the engine's start_failed audit row names it)
        broken = engine.handlers["notify_complainant"]
        engine.handlers["notify_complainant"] = handler_table()["notify_complainant"]
        number, _ = site.submit()
        assert number == "HB-2026-000002"
        engine.handlers["notify_complainant"] = broken
    finally:
        engine.close()


def test_without_a_deployed_process_the_intake_answers_503_and_keeps_nothing(
    sqlite_url: str, clock
) -> None:
    engine = Engine(sqlite_url, handlers=handler_table(), compile_form=compile_form, clock=clock)
    engine.create_schema()
    site = Site(engine, sqlite_url)
    try:
        answer = site.client.post("/api/complaints", json=body())
        assert answer.status_code == 503
        assert site.count(Complaint) == 0 and site.count(Intake) == 0
    finally:
        engine.close()


def test_an_intake_abandoned_between_its_steps_is_undone_by_a_later_one(site: Site, clock) -> None:
    """A worker that died after writing the rows and before starting the process."""
    with Session(site.engine.sql) as session:
        orphan = record_intake(
            session,
            data=check_submission(body()).data,
            complainant={"anonymous": True},
            now=clock.now(),
            token_hash=digest("lost"),
            request_hash=digest("lost"),
        )
        session.commit()
    assert site.complaint(orphan) is not None
    assert site.view(orphan, "lost").status_code == 404  # never visible while pending
    clock.advance(minutes=11)
    number, _ = site.submit()
    assert number != orphan
    assert site.complaint(orphan) is None and site.identity(orphan) is None
    assert [i.tracking_number for i in site.intakes()] == [number]


def test_an_intake_started_but_never_marked_is_marked_not_undone(site: Site, clock) -> None:
    """Intakes recorded before the start marked them in its own transaction: a request that
    died after the start left its intake pending with the process running."""
    data = check_submission(body()).data
    with Session(site.engine.sql) as session:
        number = record_intake(
            session,
            data=data,
            complainant={"anonymous": True},
            now=clock.now(),
            token_hash=digest("kept"),
            request_hash=digest("kept"),
        )
        session.commit()
    site.engine.start("complaint", data, number, Actor("public"))
    assert [i.status for i in site.intakes()] == ["pending"]
    clock.advance(minutes=11)
    site.submit()
    assert site.complaint(number) is not None
    assert [i.status for i in site.intakes()] == ["started", "started"]


def test_abandoned_intakes_are_looked_for_at_most_once_a_minute(site: Site, clock) -> None:
    def abandoned(minutes_ago: int) -> str:
        with Session(site.engine.sql) as session:
            number = record_intake(
                session,
                data=check_submission(body()).data,
                complainant={"anonymous": True},
                now=clock.now() - timedelta(minutes=minutes_ago),
                token_hash=digest("lost"),
                request_hash=digest("lost"),
            )
            session.commit()
        return number

    site.submit()  # looks, and finds none
    orphan = abandoned(minutes_ago=11)
    site.submit()
    assert site.complaint(orphan) is not None  # not looked for again within the minute
    clock.advance(minutes=1)
    site.submit()
    assert site.complaint(orphan) is None and site.identity(orphan) is None


def test_the_rate_limit_answers_429_with_retry_after_and_does_not_count_staff(
    engine: Engine, sqlite_url: str, clock
) -> None:
    site = Site(engine, sqlite_url, COMPLAINTS_PUBLIC_RATE_LIMIT="3/minute")
    site.add_user("li.intake", "intake")
    staff = site.bearer("li.intake")
    for _ in range(3):
        assert site.client.get("/api/complaints/HB-2026-999999").status_code == 404
    refused = site.client.post("/api/complaints", json=body())
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = {"REMOTE_ADDR": "203.0.113.9"}
    assert site.client.post("/api/complaints", json=body(), environ_base=other).status_code == 201
    assert site.client.post("/api/complaints", json=body(), headers=staff).status_code == 201
    clock.advance(minutes=1)
    assert site.client.get("/api/complaints/HB-2026-999999").status_code == 404


def test_a_rate_limit_of_zero_switches_it_off_and_a_typo_fails_at_start(
    engine: Engine, sqlite_url: str
) -> None:
    site = Site(engine, sqlite_url, COMPLAINTS_PUBLIC_RATE_LIMIT="0")
    for _ in range(40):
        assert site.client.get("/api/complaints/HB-2026-999999").status_code == 404
    with pytest.raises(ValueError, match="COMPLAINTS_PUBLIC_RATE_LIMIT"):
        Site(engine, sqlite_url, COMPLAINTS_PUBLIC_RATE_LIMIT="30 per minute")


def test_the_openapi_document_describes_every_public_json_route(site: Site) -> None:
    document = site.client.get("/api/openapi.json").get_json()
    routes = set()
    for rule in site.app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in {"public_intake", "public_tracking"}:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/complaints")
    }
    assert routes == documented
    assert document["components"]["securitySchemes"]["access_token"]["name"] == "X-Access-Token"
    for name in re.findall(r"#/components/schemas/(\w+)", str(document)):
        assert name in document["components"]["schemas"]


def test_an_old_intake_is_not_swept_while_its_process_runs(site: Site, clock) -> None:
    number, token = site.submit()
    clock.advance(days=1)
    site.submit(body(description="另一件事"))
    assert site.view(number, token).status_code == 200


def test_intake_tracking_and_the_rate_limit_work_on_postgresql(pg_url: str, clock) -> None:
    engine = lifecycle_engine(pg_url, clock)
    try:
        site = Site(engine, pg_url, COMPLAINTS_PUBLIC_RATE_LIMIT="4/minute")
        key = {"Idempotency-Key": "pg-double"}
        first, _ = site.submit(body(), **key)
        again, token = site.submit(body(), **key)
        assert first == again == "HB-2026-000001"
        assert site.view(first, token).get_json()["status"] == "registered"
        assert site.count(Complaint) == 1 and site.count(ComplainantIdentity) == 1
        assert site.view(first, "wrong").status_code == 404
        assert site.client.post("/api/complaints", json=body()).status_code == 429
    finally:
        engine.close()
