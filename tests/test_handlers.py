"""Service-task handlers against a real database built by the migrations (SQLite, and PostgreSQL
for the numbering race), called the way the engine calls them: params plus a context."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

import handlers
from engine.db import connect, upgrade
from handlers import transport as transports
from handlers.complaints import register_complaint, update_complaint
from handlers.deadlines import add_days_handler, compute_deadline
from handlers.disclosure import record_disclosure
from handlers.models import ComplainantIdentity, Complaint, Disclosure, Notice, Referral
from handlers.notice_templates import TEMPLATES, MissingNoticeValue, template_fields
from handlers.notices import notify_complainant, notify_staff
from handlers.numbering import next_tracking_number
from handlers.referrals import record_referral, record_referral_result
from handlers.repeats import detect_repeat
from handlers.routing import route_to_region
from handlers.times import CHINA

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
NUMBER = "HB-2026-000001"


@dataclass
class Ctx:
    """The engine's HandlerContext, as a test double."""

    session: Session
    idempotency_key: str = "1:task-1"
    instance_id: int = 1
    process_id: str = "complaint"
    business_key: str | None = NUMBER
    element_id: str = "service_task"
    data: dict[str, Any] = field(default_factory=dict)
    now: datetime = NOW


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    sql = connect(f"sqlite:///{tmp_path / 'handlers.db'}")
    upgrade(sql)
    with Session(sql) as session:
        yield session
    sql.dispose()


@pytest.fixture
def ctx(session: Session) -> Ctx:
    return Ctx(session)


def complaint_params(**overrides: Any) -> dict[str, Any]:
    params = {
        "channel": "web",
        "category": "water",
        "title": "河道排污",
        "description": "工厂夜间向河道排放黑色污水",
        "location": {"region_code": "420102", "address": "江岸区沿江大道 100 号", "lat": 30.6},
        "respondent": "武汉某某化工有限公司",
        "requested_outcome": "查处并整改",
        "urgent": False,
        "written_reply": True,
        "complainant": {
            "anonymous": False,
            "name": "张三",
            "phone": "13800000000",
            "address": "武汉市江岸区某小区 1 栋",
        },
    }
    return {**params, **overrides}


def registered(ctx: Ctx, number: str, at: datetime, **overrides: Any) -> dict[str, Any]:
    return register_complaint(
        complaint_params(**overrides), replace(ctx, business_key=number, now=at)
    )


class ListTransport:
    """A transport that delivers into a list: what a real SMS or mail gateway would receive."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, notice: Notice) -> None:
        self.sent.append((notice.kind, notice.text))
        notice.status = "sent"


class BrokenTransport:
    def send(self, notice: Notice) -> None:
        raise ConnectionError("gateway down")


# ---------------------------------------------------------------- numbering


def test_tracking_numbers_run_in_sequence_within_a_year_and_restart_each_year(
    session: Session,
) -> None:
    first = next_tracking_number(session, NOW)
    second = next_tracking_number(session, NOW)
    next_year = next_tracking_number(session, datetime(2027, 2, 1, tzinfo=UTC))
    session.commit()
    assert (first, second, next_year) == ("HB-2026-000001", "HB-2026-000002", "HB-2027-000001")


def test_tracking_number_year_is_the_beijing_year(session: Session) -> None:
    new_year_in_beijing = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 2027-01-01 00:30 CST
    assert next_tracking_number(session, new_year_in_beijing, prefix="XN") == "XN-2027-000001"


def test_a_rolled_back_intake_gives_its_number_back(session: Session) -> None:
    next_tracking_number(session, NOW)
    session.rollback()
    assert next_tracking_number(session, NOW) == "HB-2026-000001"


def numbers_from_two_threads(url: str, per_thread: int = 50) -> list[str]:
    sql = connect(url)
    upgrade(sql)
    barrier = threading.Barrier(2)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def intake() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                with Session(sql) as session, session.begin():
                    number = next_tracking_number(session, NOW)
                with lock:
                    numbers.append(number)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=intake) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sql.dispose()
    assert not errors, errors
    return numbers


def test_tracking_numbers_stay_unique_and_gapless_under_two_concurrent_writers_on_postgresql(
    pg_url: str,
) -> None:
    numbers = numbers_from_two_threads(pg_url)
    assert sorted(numbers) == [f"HB-2026-{n:06d}" for n in range(1, 101)]


def test_tracking_numbers_stay_unique_under_two_concurrent_writers_on_sqlite(
    tmp_path: Path,
) -> None:
    numbers = numbers_from_two_threads(f"sqlite:///{tmp_path / 'race.db'}")
    assert sorted(numbers) == [f"HB-2026-{n:06d}" for n in range(1, 101)]


# ---------------------------------------------------------------- complaints


def test_registering_a_complaint_twice_returns_the_first_row(ctx: Ctx) -> None:
    first = register_complaint(complaint_params(), ctx)
    again = register_complaint(
        complaint_params(description="changed"), replace(ctx, now=NOW + timedelta(hours=1))
    )
    assert again == first
    assert first["status"] == "registered"
    assert first["region_code"] == "420102"
    assert first["anonymous"] is False and first["contactable"] is True
    assert ctx.session.scalar(select(func.count()).select_from(Complaint)) == 1
    assert ctx.session.scalar(select(Complaint.description)) == "工厂夜间向河道排放黑色污水"
    json.dumps(first)


def test_the_complainant_identity_is_stored_apart_and_never_returned(ctx: Ctx) -> None:
    result = register_complaint(complaint_params(), ctx)
    identity = ctx.session.scalar(select(ComplainantIdentity))
    assert (identity.tracking_number, identity.name, identity.phone) == (
        NUMBER,
        "张三",
        "13800000000",
    )
    assert "张三" not in json.dumps(result, ensure_ascii=False)
    assert "13800000000" not in json.dumps(result)
    assert not hasattr(Complaint, "phone") and not hasattr(Complaint, "name")


def test_a_complaint_without_complainant_details_is_anonymous_and_unreachable(ctx: Ctx) -> None:
    result = register_complaint(complaint_params(complainant={"anonymous": True}), ctx)
    assert result["anonymous"] is True and result["contactable"] is False


def test_register_complaint_refuses_an_unknown_category_and_a_bad_region(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="'category' must be one of"):
        register_complaint(complaint_params(category="smell"), ctx)
    with pytest.raises(ValueError, match="region_code must be 6 digits"):
        register_complaint(complaint_params(location={"region_code": "4201"}), ctx)


def test_update_complaint_returns_only_the_fields_that_changed(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    later = replace(ctx, now=NOW + timedelta(days=3))
    changed = update_complaint(
        {
            "status": "accepted",
            "track": "A",
            "owner_group": "bureau:420102",
            "accepted_at": "2026-03-05T01:00:00+00:00",
            "deadline_at": "2026-05-04T01:00:00+00:00",
            "repeat_of": None,
        },
        later,
    )
    assert changed == {
        "status": "accepted",
        "track": "A",
        "owner_group": "bureau:420102",
        "accepted_at": "2026-03-05T01:00:00+00:00",
        "deadline_at": "2026-05-04T01:00:00+00:00",
    }
    assert update_complaint({"status": "accepted", "track": "A"}, later) == {}
    row = ctx.session.scalar(select(Complaint))
    assert row.deadline_at == datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
    assert row.updated_at == later.now


def test_one_transaction_reads_a_complaint_once_and_the_next_reads_it_afresh(ctx: Ctx) -> None:
    """The handlers of one step share the complaint row; another transaction may change it."""
    register_complaint(complaint_params(), ctx)
    ctx.session.commit()
    reads: list[str] = []

    def count(conn, cursor, statement: str, *args) -> None:
        if statement.startswith("SELECT") and "FROM complain" in statement:
            reads.append(statement.split("FROM ")[1].split()[0])

    bind = ctx.session.bind
    event.listen(bind, "before_cursor_execute", count)
    try:
        register_complaint(complaint_params(), ctx)
        update_complaint({"status": "accepted"}, ctx)
        detect_repeat({"window_days": 30}, ctx)
        notify_complainant({"kind": "receipt", **NOTICE_VALUES["receipt"]}, ctx)
        # the row with its identity once, then the repeat check's search for earlier ones
        assert reads == ["complaints", "complaints"]
        ctx.session.commit()
        with Session(bind) as other:
            other.execute(update(Complaint).values(status="registered"))
            other.commit()
        assert update_complaint({"status": "accepted"}, ctx) == {"status": "accepted"}
    finally:
        event.remove(bind, "before_cursor_execute", count)


def test_update_complaint_refuses_unknown_fields_statuses_and_naive_times(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    with pytest.raises(ValueError, match="does not know \\['stauts'\\]"):
        update_complaint({"stauts": "accepted"}, ctx)
    with pytest.raises(ValueError, match="'status' must be one of"):
        update_complaint({"status": "done"}, ctx)
    with pytest.raises(ValueError, match="deadline_at must carry a UTC offset"):
        update_complaint({"deadline_at": "2026-05-04T09:00:00"}, ctx)


# ---------------------------------------------------------------- notices

NOTICE_VALUES: dict[str, dict[str, Any]] = {
    "receipt": {"received_date": "2026-03-02", "channel": "hotline"},
    "route": {
        "received_date": "2026-03-02",
        "routed_date": "2026-03-04T02:00:00+00:00",
        "receiver": "武汉市生态环境局江岸区分局",
    },
    "transfer": {
        "received_date": "2026-03-02",
        "receiver": "咸宁市生态环境局",
        "feedback_date": "2026-04-01",
    },
    "not_admitted": {
        "received_date": "2026-03-02",
        "reason": "该事项正在武汉市生态环境局办理期限内",
        "legal_basis": "《生态环境信访工作办法》第十八条第一项",
        "guidance": "等待原办理机关的处理结果",
    },
    "not_readmitted": {
        "received_date": "2026-03-02",
        "earlier_reference": "HB-2025-000123",
        "reason": "该事项已于2025年11月作出复核意见",
        "legal_basis": "《信访工作条例》第三十六条第三款",
    },
    "diverted": {
        "received_date": "2026-03-02",
        "pathway": "行政复议",
        "competent_body": "武汉市人民政府",
        "legal_basis": "《信访工作条例》第三十一条第一项、《中华人民共和国行政复议法》第二十条",
    },
    "outside_competence": {
        "received_date": "2026-03-02",
        "competent_body": "武汉市城市管理执法委员会",
    },
    "acceptance": {
        "received_date": "2026-03-02",
        "accepted_date": "2026-03-05",
        "expected_completion_date": "2026-05-04T01:00:00+00:00",
    },
    "extension": {
        "received_date": "2026-03-02",
        "reason": "需要委托第三方开展环境损害鉴定",
        "new_deadline_date": "2026-06-03",
    },
    "opinion": {
        "received_date": "2026-03-02",
        "request": "要求责令停止夜间施工",
        "facts": "经现场核查，该工地已取得夜间施工许可",
        "outcome": "explained",
        "reasoning": "诉求合理，但现行规定允许经批准的连续作业",
        "legal_basis": "《中华人民共和国噪声污染防治法》第四十三条",
        "review_body": "湖北省生态环境厅",
    },
    "duty_reply": {
        "received_date": "2026-03-02",
        "subject": "河道排污",
        "findings": "该公司存在超标排放行为",
        "actions": "已立案查处并责令限期整改",
    },
    "review_acceptance": {
        "request_date": "2026-05-10",
        "accepted_date": "2026-05-11",
        "decision_due_date": "2026-06-09",
    },
    "review_opinion": {
        "conclusion": "维持原处理意见",
        "reasoning": "原处理意见事实清楚、依据正确",
        "legal_basis": "《信访工作条例》第三十五条",
        "re_review_body": "湖北省人民政府",
    },
    "re_review_opinion": {
        "conclusion": "维持复查意见",
        "reasoning": "复查意见事实清楚、依据正确",
        "legal_basis": "《信访工作条例》第三十六条",
    },
    "final_refusal": {
        "request_date": "2026-09-01",
        "request": "复查申请",
        "reason": "该事项已作出复核意见，办理终结",
    },
    "supervision": {
        "target": "武汉市生态环境局江岸区分局",
        "issue": "超过法定期限仍未答复",
        "requirements": "立即办理并答复投诉人",
        "reply_days": "3",
    },
    "reminder": {"task_name": "调查核实", "due_date": "2026-05-04T01:00:00+00:00"},
    "escalation": {"task_name": "调查核实", "due_date": "2026-05-04T01:00:00+00:00"},
    "evaluation_invitation": {},
    "merged": {"received_date": "2026-03-02", "earlier_reference": "HB-2026-000001"},
    "suggestion_reply": {
        "received_date": "2026-03-02",
        "adoption": "partly_adopted",
        "reply": "已纳入明年噪声治理计划",
    },
    "forwarded": {"received_date": "2026-03-02", "body": "纪检监察机关"},
    "urgent_report": {"summary": "化工厂泄漏，群众聚集"},
}


def test_every_notice_kind_has_sample_values_for_all_its_required_fields() -> None:
    assert set(NOTICE_VALUES) == set(TEMPLATES)
    for kind, values in NOTICE_VALUES.items():
        template = TEMPLATES[kind]
        needed = set(template_fields(kind)) - {"tracking_number"} - set(template.defaults)
        needed -= template.optional
        assert needed <= set(values), (kind, needed - set(values))


@pytest.mark.parametrize("kind", sorted(NOTICE_VALUES))
def test_every_notice_kind_renders_a_complete_chinese_text(ctx: Ctx, kind: str) -> None:
    register_complaint(complaint_params(), ctx)
    result = notify_complainant({"kind": kind, **NOTICE_VALUES[kind]}, ctx)
    notice = ctx.session.get(Notice, result["notice_id"])
    assert notice.text.startswith(TEMPLATES[kind].title)
    assert NUMBER in notice.text
    assert "{" not in notice.text and "None" not in notice.text
    assert notice.text.rstrip().endswith("2026年3月2日")
    for name, value in NOTICE_VALUES[kind].items():
        if not name.endswith("_date") and name not in TEMPLATES[kind].choices:
            assert value in notice.text, name
    assert result["status"] == "recorded" and result["kind"] == kind
    json.dumps(result)


def test_the_diversion_notice_names_the_pathway_the_competent_body_and_the_legal_basis(
    ctx: Ctx,
) -> None:
    register_complaint(complaint_params(), ctx)
    result = notify_complainant(
        {"kind": "diverted", "authority": "武汉市生态环境局", **NOTICE_VALUES["diverted"]}, ctx
    )
    text = ctx.session.get(Notice, result["notice_id"]).text
    assert "请您依法向武汉市人民政府提出行政复议" in text
    assert "《中华人民共和国行政复议法》第二十条" in text
    assert "不作为信访事项受理" in text
    assert "2026年3月2日" in text and "武汉市生态环境局" in text


def test_dates_print_as_beijing_calendar_dates(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    values = {**NOTICE_VALUES["acceptance"], "expected_completion_date": "2026-05-04T17:00:00Z"}
    result = notify_complainant({"kind": "acceptance", **values}, ctx)
    assert "预计于2026年5月5日前办结" in ctx.session.get(Notice, result["notice_id"]).text


def test_the_opinion_states_the_outcome_the_review_body_and_the_30_day_limit(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    values = {**NOTICE_VALUES["opinion"], "outcome": "not_supported"}
    text = ctx.session.get(
        Notice, notify_complainant({"kind": "opinion", **values}, ctx)["notice_id"]
    ).text
    assert "处理意见：不予支持您的请求" in text
    assert "30日内，向湖北省生态环境厅书面提出复查申请" in text


def test_the_duty_reply_points_to_reconsideration_and_litigation_not_to_review(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    result = notify_complainant({"kind": "duty_reply", **NOTICE_VALUES["duty_reply"]}, ctx)
    text = ctx.session.get(Notice, result["notice_id"]).text
    assert "60日内依法申请行政复议" in text and "6个月内依法提起行政诉讼" in text
    assert "复查" not in text
    assert text.startswith("投诉（举报）处理情况告知书")


def test_a_missing_notice_value_is_an_error_naming_the_kind_and_the_field(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    values = {k: v for k, v in NOTICE_VALUES["diverted"].items() if k != "competent_body"}
    with pytest.raises(
        MissingNoticeValue, match="notice 'diverted' needs a value for 'competent_body'"
    ):
        notify_complainant({"kind": "diverted", **values}, ctx)
    with pytest.raises(MissingNoticeValue, match="'extension' .* 'new_deadline_date'"):
        notify_complainant({"kind": "extension", "received_date": "2026-03-02", "reason": "x"}, ctx)
    with pytest.raises(MissingNoticeValue, match="'opinion' .* 'outcome'"):
        values = {k: v for k, v in NOTICE_VALUES["opinion"].items() if k != "outcome"}
        notify_complainant({"kind": "opinion", **values}, ctx)
    blank = {**NOTICE_VALUES["diverted"], "legal_basis": "  "}
    with pytest.raises(MissingNoticeValue, match="'legal_basis'"):
        notify_complainant({"kind": "diverted", **blank}, ctx)
    assert ctx.session.scalar(select(func.count()).select_from(Notice)) == 0


def test_an_unknown_kind_or_outcome_is_refused(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="unknown notice kind 'thanks'"):
        notify_complainant({"kind": "thanks"}, ctx)
    with pytest.raises(ValueError, match="'outcome' must be one of"):
        notify_complainant({"kind": "opinion", **NOTICE_VALUES["opinion"], "outcome": "ok"}, ctx)


def test_a_retried_step_does_not_write_or_send_a_notice_twice(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    gateway = ListTransport()
    params = {"kind": "acceptance", **NOTICE_VALUES["acceptance"]}
    first = notify_complainant(params, ctx, transport=gateway)
    again = notify_complainant(params, ctx, transport=gateway)
    other_task = notify_complainant(
        params, replace(ctx, idempotency_key="1:task-2"), transport=gateway
    )
    assert again == first and other_task["notice_id"] != first["notice_id"]
    assert len(gateway.sent) == 2
    assert ctx.session.scalar(select(func.count()).select_from(Notice)) == 2


def test_the_default_transport_only_records_the_notice(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    result = handlers.default_registry()["notify_complainant"](
        {"kind": "receipt", **NOTICE_VALUES["receipt"]}, ctx
    )
    notice = ctx.session.get(Notice, result["notice_id"])
    assert (notice.status, notice.sent_at) == ("recorded", None)
    assert result["recipient_channel"] == "letter"  # a written reply was asked for


def test_a_transport_injected_into_the_registry_receives_and_sends_the_notice(ctx: Ctx) -> None:
    register_complaint(complaint_params(written_reply=False), ctx)
    gateway = ListTransport()
    registry = handlers.default_registry(transport=gateway)
    result = registry["notify_complainant"]({"kind": "receipt", **NOTICE_VALUES["receipt"]}, ctx)
    assert [kind for kind, _ in gateway.sent] == ["receipt"]
    assert "12369环保举报热线" in gateway.sent[0][1]
    notice = ctx.session.get(Notice, result["notice_id"])
    assert (notice.status, notice.sent_at, notice.recipient_channel) == ("sent", NOW, "sms")


def test_set_transport_swaps_the_process_wide_transport(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    gateway = ListTransport()
    previous = transports.set_transport(gateway)
    try:
        handlers.default_registry()["notify_complainant"](
            {"kind": "receipt", **NOTICE_VALUES["receipt"]}, ctx
        )
    finally:
        transports.set_transport(previous)
    assert len(gateway.sent) == 1
    assert isinstance(transports.get_transport(), transports.RecordingTransport)


def test_a_failing_transport_marks_the_notice_failed_and_a_relay_retries_it(ctx: Ctx) -> None:
    register_complaint(complaint_params(), ctx)
    params = {"kind": "receipt", **NOTICE_VALUES["receipt"]}
    result = notify_complainant(params, ctx, transport=BrokenTransport())
    notice = ctx.session.get(Notice, result["notice_id"])
    assert result["status"] == "failed" and "gateway down" in notice.last_error
    gateway = ListTransport()
    assert transports.deliver_pending(ctx.session, gateway, NOW + timedelta(minutes=5)) == 1
    assert (notice.status, notice.sent_at, notice.last_error) == (
        "sent",
        NOW + timedelta(minutes=5),
        None,
    )


def test_staff_notices_go_to_the_group_through_the_same_outbox(ctx: Ctx) -> None:
    result = notify_staff(
        {"kind": "reminder", "group": "bureau:420102", **NOTICE_VALUES["reminder"]}, ctx
    )
    notice = ctx.session.get(Notice, result["notice_id"])
    assert (notice.recipient, notice.recipient_channel) == ("bureau:420102", "staff_inbox")
    assert "“调查核实”将于2026年5月4日到期" in notice.text
    assert (
        notify_staff(
            {"kind": "reminder", "group": "bureau:420102", **NOTICE_VALUES["reminder"]}, ctx
        )
        == result
    )


# ---------------------------------------------------------------- routing


def test_route_to_region_names_the_bureau_group_and_the_place(ctx: Ctx) -> None:
    assert route_to_region({"region_code": "420102"}, ctx) == {
        "bureau_group": "bureau:420102",
        "region_code": "420102",
        "region_name": "江岸区",
        "region_full_name": "湖北省武汉市江岸区",
        "routed_at": "2026-03-02T01:00:00+00:00",
    }
    assert (
        route_to_region({"region_code": "421223"}, ctx)["region_full_name"] == "湖北省咸宁市崇阳县"
    )
    assert route_to_region({"region_code": "420100"}, ctx)["region_name"] == "武汉市"
    assert route_to_region({"region_code": "429004"}, ctx)["region_full_name"] == "湖北省仙桃市"


def test_an_unknown_but_well_formed_region_code_still_routes(ctx: Ctx) -> None:
    assert route_to_region({"region_code": "110101"}, ctx) == {
        "bureau_group": "bureau:110101",
        "region_code": "110101",
        "region_name": "",
        "region_full_name": "",
        "routed_at": "2026-03-02T01:00:00+00:00",
    }


@pytest.mark.parametrize("code", ["4201", "4201020", "42010a", 420102, None, "４２０１０２"])
def test_a_malformed_region_code_is_refused(ctx: Ctx, code: Any) -> None:
    with pytest.raises(ValueError, match="region_code must be 6 digits"):
        route_to_region({"region_code": code}, ctx)


# ---------------------------------------------------------------- repeats


def test_repeat_detection_finds_earlier_complaints_inside_the_window_only(ctx: Ctx) -> None:
    registered(ctx, "HB-2026-000001", NOW - timedelta(days=100))  # outside a 90-day window
    registered(ctx, "HB-2026-000002", NOW - timedelta(days=60), respondent="武汉 某某化工有限公司")
    registered(
        ctx,
        "HB-2026-000003",
        NOW - timedelta(days=10),
        respondent="另一家公司",
        location={"region_code": "420102", "address": "江岸区沿江大道100号"},
    )
    registered(
        ctx,
        "HB-2026-000004",
        NOW - timedelta(days=5),
        respondent=None,
        location={"region_code": "420103", "address": "江岸区沿江大道100号"},  # other region
    )
    registered(ctx, "HB-2026-000009", NOW)
    result = detect_repeat({"window_days": 90}, replace(ctx, business_key="HB-2026-000009"))
    assert result == {
        "repeat_of": "HB-2026-000002",
        "repeat_count": 2,
        "earlier": ["HB-2026-000002", "HB-2026-000003"],
    }
    wider = detect_repeat({"window_days": 120}, replace(ctx, business_key="HB-2026-000009"))
    assert wider["repeat_of"] == "HB-2026-000001" and wider["repeat_count"] == 3


def test_repeat_detection_with_explicit_params_and_no_match(ctx: Ctx) -> None:
    registered(ctx, "HB-2026-000001", NOW - timedelta(days=3))
    result = detect_repeat(
        {
            "respondent": "无关单位",
            "region_code": "420111",
            "address": "洪山区某路",
            "window_days": 30,
        },
        replace(ctx, business_key="HB-2026-000002"),
    )
    assert result == {"repeat_of": None, "repeat_count": 0, "earlier": []}
    with pytest.raises(ValueError, match="window_days"):
        detect_repeat({"window_days": 0}, ctx)


# ---------------------------------------------------------------- deadlines


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`, by chinese_calendar itself."""
    days = (end - start).days
    return sum(chinese_calendar.is_workday(start + timedelta(days=n)) for n in range(1, days + 1))


def test_working_day_deadlines_skip_the_2026_national_day_holiday_and_count_make_up_days(
    ctx: Ctx,
) -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA)
    result = compute_deadline(
        {"start": start.isoformat(), "duration": "P5D", "working_days": True}, ctx
    )
    due = datetime.fromisoformat(result["due"])
    assert due.utcoffset() == timedelta(0)
    local = due.astimezone(CHINA)
    assert local.time() == start.timetz().replace(tzinfo=None)
    assert chinese_calendar.is_workday(local.date())
    assert working_days_between(start.date(), local.date()) == 5
    holiday = [
        date(2026, 10, d) for d in range(1, 9) if not chinese_calendar.is_workday(date(2026, 10, d))
    ]
    assert holiday and all(day < local.date() for day in holiday)
    # With this package's 2026 data: 8, 9, 10 (a make-up Saturday), 12 and 13 October.
    make_up_saturday = date(2026, 10, 10)
    if chinese_calendar.is_workday(make_up_saturday):
        assert local.date() == date(2026, 10, 13)


def test_a_working_day_count_starting_on_a_holiday_begins_at_the_next_working_day(ctx: Ctx) -> None:
    start = datetime(2026, 10, 3, 1, 0, tzinfo=UTC)
    due = compute_deadline(
        {"start": start.isoformat(), "duration": "P1D", "working_days": True}, ctx
    )
    local = datetime.fromisoformat(due["due"]).astimezone(CHINA).date()
    first_working = next(
        start.date() + timedelta(days=n)
        for n in range(1, 20)
        if chinese_calendar.is_workday(start.date() + timedelta(days=n))
    )
    assert local == first_working


def test_calendar_day_deadlines_ignore_holidays(ctx: Ctx) -> None:
    start = "2026-09-30T02:00:00+00:00"
    assert compute_deadline({"start": start, "duration": "P15D"}, ctx) == {
        "due": "2026-10-15T02:00:00+00:00"
    }
    assert compute_deadline({"duration": "P60D"}, ctx) == {"due": "2026-05-01T01:00:00+00:00"}
    assert compute_deadline({"start": "2026-08-31T02:00:00+00:00", "duration": "P6M"}, ctx) == {
        "due": "2027-02-28T02:00:00+00:00"
    }


def test_add_days_moves_back_for_a_reminder_before_the_due_date(ctx: Ctx) -> None:
    due = "2026-05-04T01:00:00+00:00"
    assert add_days_handler({"start": due, "days": -5}, ctx) == {"at": "2026-04-29T01:00:00+00:00"}
    assert compute_deadline({"start": due, "duration": "-P5D"}, ctx) == {
        "due": "2026-04-29T01:00:00+00:00"
    }
    back = add_days_handler({"start": due, "days": -2, "working_days": True}, ctx)
    back_day = datetime.fromisoformat(back["at"]).astimezone(CHINA).date()
    assert chinese_calendar.is_workday(back_day)
    span = (date(2026, 5, 4) - back_day).days  # the due day itself does not count
    assert sum(chinese_calendar.is_workday(back_day + timedelta(days=n)) for n in range(span)) == 2


def test_deadline_parameters_are_checked(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        compute_deadline({"duration": "15 days"}, ctx)
    with pytest.raises(ValueError, match="whole days"):
        compute_deadline({"duration": "P1M", "working_days": True}, ctx)
    with pytest.raises(ValueError, match="UTC offset"):
        compute_deadline({"start": "2026-03-02T09:00:00", "duration": "P1D"}, ctx)


# ---------------------------------------------------------------- referrals and disclosure


def test_a_referral_is_recorded_once_per_task_and_its_result_reported_later(ctx: Ctx) -> None:
    params = {
        "kind": "inspection_team",
        "target": "中央第三生态环境保护督察组",
        "reason": "久拖未决",
    }
    first = record_referral(params, ctx)
    assert record_referral(params, ctx) == first
    assert first["kind"] == "inspection_team" and first["result"] is None
    later = replace(ctx, idempotency_key="1:task-9", now=NOW + timedelta(days=7))
    reported = record_referral_result({"result": "已督促整改到位"}, later)
    assert reported["referral_id"] == first["referral_id"]
    assert reported["reported_at"] == "2026-03-09T01:00:00+00:00"
    assert record_referral_result({"result": "已督促整改到位"}, later) == reported
    with pytest.raises(ValueError, match="already has a result"):
        record_referral_result({"result": "不同", "referral_id": first["referral_id"]}, later)
    assert ctx.session.scalar(select(func.count()).select_from(Referral)) == 1
    with pytest.raises(ValueError, match="'kind' must be one of"):
        record_referral({"kind": "police", "target": "x"}, replace(ctx, idempotency_key="z"))


def test_the_monthly_disclosure_counts_complaints_and_holds_no_identity(ctx: Ctx) -> None:
    registered(ctx, "HB-2026-000001", datetime(2026, 2, 1, 1, tzinfo=UTC))
    registered(ctx, "HB-2026-000002", datetime(2026, 2, 10, tzinfo=UTC), category="noise")
    registered(ctx, "HB-2026-000003", datetime(2026, 1, 31, 17, tzinfo=UTC))  # 1 Feb in Beijing
    registered(ctx, "HB-2026-000004", datetime(2026, 3, 1, 1, tzinfo=UTC))
    update_complaint(
        {"status": "closed", "closed_at": "2026-02-20T00:00:00+00:00"},
        replace(ctx, business_key="HB-2026-000001"),
    )
    result = record_disclosure({}, ctx)  # ctx.now is in March: publishes February
    assert result["period"] == "2026-02"
    assert (result["total"], result["closed"]) == (3, 1)
    assert result["by_category"] == {"noise": 1, "water": 2}
    assert result["by_region"] == {"420102": 3}
    assert result["by_status"] == {"closed": 1, "registered": 2}
    stored = json.dumps(ctx.session.scalar(select(Disclosure.counts)), ensure_ascii=False)
    assert "张三" not in stored and "13800000000" not in stored
    assert (
        record_disclosure({"period": "2026-02"}, replace(ctx, now=NOW + timedelta(days=1)))
        == result
    )


# ---------------------------------------------------------------- registry


def test_the_default_registry_offers_every_handler_once() -> None:
    assert sorted(handlers.default_registry()) == [
        "add_days",
        "compute_deadline",
        "compute_deadlines",
        "detect_repeat",
        "extend_deadline",
        "notify_complainant",
        "notify_staff",
        "record_disclosure",
        "record_referral",
        "record_referral_result",
        "register_complaint",
        "route_to_region",
        "sample_return_visit",
        "update_complaint",
    ]


def test_deadlines_of_a_step_come_with_their_reminders(ctx: Ctx) -> None:
    result = handlers.default_registry()["compute_deadlines"](
        {
            "start": "2026-09-30T02:00:00+00:00",
            "codes": ["routing", "objection"],
            "durations": {"routing": "P15D", "objection": "P5D"},
            "working_day_codes": ["objection"],
            "reminder_before": "P2D",
        },
        ctx,
    )
    assert result["routing"] == "2026-10-15T02:00:00+00:00"
    assert result["routing_reminder"] == "2026-10-13T02:00:00+00:00"
    assert result["objection"] == "2026-10-13T02:00:00+00:00"  # holiday week, make-up Saturday


def test_an_extension_moves_the_deadline_and_its_reminder(ctx: Ctx) -> None:
    extend = handlers.default_registry()["extend_deadline"]
    moved = extend(
        {"deadline": "2026-05-01T02:00:00+00:00", "days": 30, "reminder_before": "P5D"},
        ctx,
    )
    assert moved == {
        "due": "2026-05-31T02:00:00+00:00",
        "reminder_at": "2026-05-26T02:00:00+00:00",
    }
    with pytest.raises(ValueError, match="days"):
        extend({"deadline": "2026-05-01T02:00:00+00:00", "days": 0}, ctx)


def test_return_visit_sample_is_stable_and_near_its_rate() -> None:
    from handlers.sampling import is_sampled

    numbers = [f"HB-2026-{n:06d}" for n in range(1, 2001)]
    chosen = [n for n in numbers if is_sampled(n, 10)]
    assert 150 < len(chosen) < 250
    assert chosen == [n for n in numbers if is_sampled(n, 10)]
