"""Every track of a complaint through the real processes: intake to end, with the injected clock.
What the complainant is told is read from the notices outbox, what staff must do from the task
list, and where the matter stands from the complaints read model."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from engine import Conflict, Engine, InvalidData, NotFound
from tests.conftest import START
from tests.lifecycle import (
    BUREAU,
    DISCIPLINE,
    ENFORCEMENT,
    HEAD,
    INSPECTION,
    INTAKE,
    LEADER,
    OFFICE,
    OPINION,
    RE_REVIEWER,
    REGION,
    REVIEWER,
    Case,
    days,
    lifecycle_engine,
)

NewCase = Callable[..., Case]


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def new_case(engine: Engine, clock) -> NewCase:
    numbers = iter(range(1, 1000))

    def make(number: str | None = None, **data) -> Case:
        return Case(engine, clock, number or f"HB-2026-{next(numbers):06d}", **data)

    return make


def accept_simple(case: Case, subject: str, owner=OFFICE) -> None:
    case.triage(subject)
    case.complete("assess_complexity", owner, complexity="simple")


def investigate_and_find(case: Case, violation: bool) -> None:
    case.complete("investigate", OFFICE, investigation_plan="现场核查排污口")
    case.complete(
        "inspect_on_site", ENFORCEMENT, violation_found=violation, findings="发现暗管排放"
    )


def order(case: Case, deadline: str) -> None:
    case.complete(
        "order_rectification",
        ENFORCEMENT,
        case_number="WH-2026-017",
        rectification_deadline=deadline,
        measures="封堵暗管，限期整改",
    )


def staff_notices(case: Case, kind: str) -> list:
    return [n for n in case.notices(kind) if n.recipient != "complainant"]


# ------------------------------------------------------------------ intake and triage


def test_a_registered_complaint_is_acknowledged_and_waits_for_triage(new_case: NewCase) -> None:
    case = new_case()
    assert case.open_elements() == ["triage"]
    assert case.task("triage").candidate_groups == ["petition_office"]
    assert case.task("triage").due_at == START + days(15)
    assert case.complaint().status == "registered"
    [receipt] = case.notices("receipt")
    assert case.number in receipt.text and "网站" in receipt.text


@pytest.mark.parametrize(
    ("flag", "kind", "code"),
    [
        ("raised_again_with_higher_level", "not_admitted", "B-01"),
        ("after_re_review_same_facts", "not_readmitted", "B-04"),
        ("outside_eeb_competence", "outside_competence", "B-06"),
    ],
)
def test_each_refusal_sends_its_notice_and_ends_the_matter(
    new_case: NewCase, flag: str, kind: str, code: str
) -> None:
    case = new_case()
    case.triage("pollution_report", **{flag: True})
    [notice] = case.notices(kind)
    assert case.number in notice.text
    complaint = case.complaint()
    assert (complaint.status, complaint.pathway_code) == ("diverted", code)
    assert case.status() == "completed" and case.open_elements() == []


@pytest.mark.parametrize(
    ("subject", "code", "route"),
    [
        ("penalty_dispute", "P-05", "行政复议"),
        ("information_request", "P-12", "政府信息公开"),
        ("labour_dispute", "P-17", "劳动"),
    ],
)
def test_a_matter_for_a_legal_pathway_is_diverted_naming_route_body_and_basis(
    new_case: NewCase, subject: str, code: str, route: str
) -> None:
    case = new_case()
    case.triage(subject)
    [notice] = case.notices("diverted")
    assert route in notice.text and "依据" in notice.text and "提出" in notice.text
    assert (case.complaint().status, case.complaint().pathway_code) == ("diverted", code)
    assert case.status() == "completed"


def test_a_subject_outside_the_statutory_list_is_refused_by_the_form(new_case: NewCase) -> None:
    case = new_case()
    with pytest.raises(InvalidData) as refused:
        case.triage("not_a_listed_subject_code")
    assert "subject" in refused.value.fields
    assert case.open_elements() == ["triage"]


def test_urgent_complaint_is_reported_to_leaders_at_once(new_case: NewCase) -> None:
    case = new_case(urgent=True, title="化工厂泄漏，群众聚集")
    [report] = staff_notices(case, "urgent_report")
    assert report.recipient == "leader,petition_office" and "化工厂泄漏" in report.text
    assert case.open_elements() == ["triage"]


def test_a_letter_to_the_leader_gets_the_leaders_annotation_before_triage(
    new_case: NewCase,
) -> None:
    case = new_case(channel="mailbox", addressed_to_leader=True)
    assert case.open_elements() == ["leader_annotation"]
    assert case.task("leader_annotation").candidate_groups == ["leader"]
    case.complete(
        "leader_annotation",
        LEADER,
        leader_instruction="请生态环境局从严查处",
        leader_owns_case=True,
    )
    assert case.open_elements() == ["triage"]


def test_a_repeat_of_an_open_complaint_is_merged_with_the_earlier_one(new_case: NewCase) -> None:
    first = new_case()
    second = new_case(description="同一工厂又在夜间排污")
    assert second.open_elements() == ["decide_repeat"]
    second.complete("decide_repeat", OFFICE, repeat_decision="merge")
    assert second.complaint().status == "merged"
    assert second.complaint().repeat_of == first.number
    [notice] = second.notices("merged")
    assert first.number in notice.text
    assert second.status() == "completed"


def test_a_repeat_with_new_facts_is_investigated_again(new_case: NewCase) -> None:
    new_case()
    second = new_case()
    second.complete("decide_repeat", OFFICE, repeat_decision="reinvestigate")
    assert second.open_elements() == ["triage"]


# ------------------------------------------------------------------ transfer to the local bureau


def test_a_matter_for_the_local_bureau_is_transferred_and_owned_by_it(new_case: NewCase) -> None:
    case = new_case()
    case.triage("pollution_report", lower_level_competent=True)
    [route] = case.notices("route")
    assert "江岸区" in route.text
    assert case.complaint().owner_group == f"bureau:{REGION}"
    assert case.task("review_assignment").candidate_groups == [f"bureau:{REGION}"]

    case.complete("review_assignment", BUREAU, assignment_decision="accept")
    assert case.complaint().status == "accepted"
    assert case.task("assess_complexity").candidate_groups == [f"bureau:{REGION}"]
    case.complete("assess_complexity", BUREAU, complexity="simple")
    assert case.task("investigate").candidate_groups == [f"bureau:{REGION}"]


def test_an_upheld_objection_returns_the_matter_to_triage(new_case: NewCase) -> None:
    case = new_case()
    case.triage("pollution_report", lower_level_competent=True)
    case.complete(
        "review_assignment", BUREAU, assignment_decision="object", objection_reason="属市级"
    )
    case.complete(
        "decide_objection", OFFICE, objection_upheld=True, objection_ruling="改由市局办理"
    )
    assert case.open_elements() == ["triage"]


def test_a_rejected_objection_leaves_the_matter_with_the_bureau(new_case: NewCase) -> None:
    case = new_case()
    case.triage("pollution_report", lower_level_competent=True)
    case.complete(
        "review_assignment", BUREAU, assignment_decision="object", objection_reason="不属本局"
    )
    case.complete("decide_objection", OFFICE, objection_upheld=False, objection_ruling="属地管理")
    assert case.open_elements() == ["assess_complexity"]


def test_the_objection_window_closes_after_five_working_days(new_case: NewCase) -> None:
    case = new_case()  # received Monday 2 March 2026
    case.triage("pollution_report", lower_level_competent=True)
    window_end = case.due("objection_window")
    assert window_end == START + days(7)  # five working days: Monday 9 March
    case.advance_to(window_end - days(0.01))
    assert case.open_elements() == ["review_assignment"]
    case.advance_to(window_end + days(0.01))
    assert case.open_elements() == ["assess_complexity"]


# ------------------------------------------------------------------ first-visit responsibility


def test_a_complex_matter_is_coordinated_with_co_handling_units(new_case: NewCase) -> None:
    case = new_case()
    case.triage("pollution_report")
    case.complete(
        "assess_complexity", OFFICE, complexity="complex", co_units=["enforcement", "opinion_unit"]
    )
    groups = sorted(t.candidate_groups[0] for t in case.open_tasks())
    assert groups == ["enforcement", "opinion_unit"]
    for task in case.open_tasks():
        actor = ENFORCEMENT if task.candidate_groups == ["enforcement"] else OPINION
        case.engine.complete_task(task.id, {"co_input": f"{actor.id} 的协办意见"}, actor)
    assert case.open_elements() == ["consolidate"]
    case.complete("consolidate", OFFICE, consolidated_opinion="汇总后立即核查")
    assert case.open_elements() == ["investigate"]


# ------------------------------------------------------------------ Track A: duty request


def test_pollution_report_is_rectified_after_a_failed_check_and_answered_in_writing(
    new_case: NewCase,
) -> None:
    case = new_case()
    accept_simple(case, "pollution_report")
    [acceptance] = case.notices("acceptance")
    assert "2026年5月1日" in acceptance.text  # 60 days from acceptance on 2 March
    investigate_and_find(case, violation=True)
    order(case, "2026-03-20")
    assert case.open_elements() == []  # waiting for the rectification deadline
    case.advance_to(START + days(17))  # 19 March 09:00 Beijing
    assert case.open_elements() == []
    case.advance_to(START + days(18))
    case.complete(
        "verify_rectification", ENFORCEMENT, rectified=False, verification_note="仍在排放"
    )
    order(case, "2026-04-10")
    case.advance_to(START + days(40))
    case.complete("verify_rectification", ENFORCEMENT, rectified=True)
    case.complete("draft_reply", OFFICE, reply_text="已立案处罚并责令整改到位")

    [reply] = case.notices("duty_reply")
    assert "已立案处罚" in reply.text and "行政复议" in reply.text and "6个月" in reply.text
    assert case.complaint().status == "replied"
    assert case.referrals() == []
    assert "evaluation_invitation" in case.notice_kinds()


def test_repeated_failure_to_rectify_is_referred_to_discipline_inspection(
    new_case: NewCase,
) -> None:
    case = new_case()
    accept_simple(case, "pollution_report")
    investigate_and_find(case, violation=True)
    for deadline, moment in (("2026-03-20", 18), ("2026-04-10", 40)):
        order(case, deadline)
        case.advance_to(START + days(moment))
        case.complete("verify_rectification", ENFORCEMENT, rectified=False)
    [referral] = case.referrals()
    assert (referral.kind, referral.target) == ("discipline", "discipline")
    assert case.open_elements() == ["draft_reply"]


def test_no_violation_goes_straight_to_the_reply(new_case: NewCase) -> None:
    case = new_case()
    accept_simple(case, "pollution_report")
    investigate_and_find(case, violation=False)
    assert case.open_elements() == ["draft_reply"]


def test_track_a_reminds_on_day_55_and_supervises_on_day_60_not_before(
    new_case: NewCase,
) -> None:
    case = new_case()
    accept_simple(case, "pollution_report")
    case.advance_to(START + days(55) - days(0.01))
    assert staff_notices(case, "reminder") == []
    case.advance_to(START + days(55) + days(0.01))
    [reminder] = staff_notices(case, "reminder")
    assert reminder.recipient == "petition_office"
    case.advance_to(START + days(60) - days(0.01))
    assert staff_notices(case, "supervision") == []
    case.advance_to(START + days(60) + days(0.01))
    [supervision] = staff_notices(case, "supervision")
    assert "60日" in supervision.text
    assert sorted(case.open_elements()) == ["answer_supervision", "investigate"]
    case.complete("answer_supervision", OFFICE, supervision_answer="已加派人员，三日内答复")
    assert case.open_elements() == ["investigate"]


# ------------------------------------------------------------------ Track B: ordinary petition


def petition(new_case: NewCase) -> Case:
    case = new_case(category="other", title="对执法人员工作作风有意见")
    accept_simple(case, "other_petition")
    return case


def issue_opinion(case: Case, outcome: str = "supported") -> None:
    case.complete(
        "handle_petition",
        OFFICE,
        opinion_outcome=outcome,
        opinion_text="经核实，信访人反映情况属实",
        opinion_facts="执法人员未出示证件",
        opinion_basis="《生态环境行政处罚办法》",
    )


def request(case: Case, message: str) -> None:
    payload = {"requested_at": case.clock.now().isoformat(), "reason": "不服"}
    case.engine.send_message(case.number, message, payload, INTAKE)


def test_petition_runs_through_opinion_review_and_re_review_to_finality(
    new_case: NewCase,
) -> None:
    case = petition(new_case)
    assert case.task("handle_petition").due_at == START + days(60)
    issue_opinion(case, "supported")
    [opinion] = case.notices("opinion")
    assert "支持您的请求" in opinion.text and "30日内" in opinion.text
    case.complete("execute_decision", OFFICE, execution_note="已责令整改作风问题")

    case.advance(days=10)
    request(case, "review_requested")
    assert case.complaint().status == "in_review"
    assert case.task("review").candidate_groups == ["reviewer"]
    case.complete(
        "review",
        REVIEWER,
        review_outcome="upheld",
        review_opinion="处理得当",
        review_basis="条例第35条",
    )
    assert "维持原处理意见" in case.notices("review_opinion")[0].text

    case.advance(days=10)
    request(case, "re_review_requested")
    case.complete(
        "re_review",
        RE_REVIEWER,
        re_review_outcome="upheld",
        re_review_opinion="维持",
        re_review_basis="条例第36条",
    )
    assert "不再受理" in case.notices("re_review_opinion")[0].text
    assert case.complaint().status in ("final", "closed")
    assert case.reached("mark_final")


def test_an_approved_extension_moves_the_deadline_and_tells_the_complainant(
    new_case: NewCase,
) -> None:
    case = petition(new_case)
    assert case.due("handling_overdue") == START + days(60)
    case.complete(
        "handle_petition",
        OFFICE,
        request_extension=True,
        extension_days=30,
        extension_reason="需要组织听证",
    )
    case.complete("approve_extension", HEAD, extension_approved=True)
    assert case.due("handling_overdue") == START + days(90)
    assert case.due("handling_reminder") == START + days(85)
    assert case.task("handle_petition").due_at == START + days(90)
    [notice] = case.notices("extension")
    assert "2026年5月31日" in notice.text and "需要组织听证" in notice.text
    case.advance_to(START + days(61))
    assert staff_notices(case, "supervision") == []  # the old deadline no longer applies
    case.complete("handle_petition", OFFICE, request_extension=True, extension_days=10)
    assert case.open_elements() == ["handle_petition"]  # no second extension: back to handling
    assert len(case.notices("extension")) == 1


def test_a_refused_extension_returns_to_handling_with_the_old_deadline(new_case: NewCase) -> None:
    case = petition(new_case)
    case.complete("handle_petition", OFFICE, request_extension=True, extension_days=30)
    case.complete("approve_extension", HEAD, extension_approved=False)
    assert case.due("handling_overdue") == START + days(60)
    assert case.open_elements() == ["handle_petition"]


def test_petition_handling_is_supervised_when_overdue(new_case: NewCase) -> None:
    case = petition(new_case)
    case.advance_to(START + days(55) + days(0.01))
    assert [n.recipient for n in staff_notices(case, "reminder")] == ["petition_office"]
    case.advance_to(START + days(60) + days(0.01))
    assert len(staff_notices(case, "supervision")) == 1
    assert case.open_elements() == ["handle_petition"]


def test_review_window_lapsing_makes_the_matter_final(new_case: NewCase) -> None:
    case = petition(new_case)
    issue_opinion(case, "not_supported")
    case.advance(days=29)
    assert case.complaint().status == "replied"
    case.advance(days=2)
    assert case.reached("review_window_lapsed", "mark_final")
    with pytest.raises((NotFound, Conflict)):
        request(case, "review_requested")


def test_re_review_window_lapsing_makes_the_matter_final(new_case: NewCase) -> None:
    case = petition(new_case)
    issue_opinion(case, "explained")
    request(case, "review_requested")
    case.complete(
        "review", REVIEWER, review_outcome="changed", review_opinion="部分变更", review_basis="条例"
    )
    case.advance(days=31)
    assert case.reached("re_review_window_lapsed", "mark_final")


def test_review_not_decided_in_30_days_is_supervised(new_case: NewCase) -> None:
    case = petition(new_case)
    issue_opinion(case)
    case.complete("execute_decision", OFFICE, execution_note="已落实")
    request(case, "review_requested")
    [acceptance] = case.notices("review_acceptance")
    assert case.number in acceptance.text
    case.advance(days=29)
    assert staff_notices(case, "supervision") == []
    case.advance(days=2)
    [supervision] = staff_notices(case, "supervision")
    assert supervision.recipient == "reviewer"


def test_a_request_after_finality_is_refused(new_case: NewCase) -> None:
    case = petition(new_case)
    issue_opinion(case, "explained")
    case.advance(days=31)
    case.advance(days=16)  # evaluation window passes too
    assert case.status() == "completed"
    with pytest.raises(NotFound):
        request(case, "re_review_requested")


# ------------------------------------------------------------------ Tracks C and D, referrals


def test_a_suggestion_is_studied_and_answered(new_case: NewCase) -> None:
    case = new_case(category="noise", title="建议增设噪声监测点")
    accept_simple(case, "suggestion")
    case.complete(
        "study_suggestion", OFFICE, adoption="partly_adopted", reply_text="将纳入明年监测计划"
    )
    [reply] = case.notices("suggestion_reply")
    assert "部分采纳" in reply.text and "明年监测计划" in reply.text


def test_an_accusation_is_forwarded_to_discipline_without_the_accusers_material(
    new_case: NewCase,
) -> None:
    case = new_case(title="执法人员收受好处", description="举报人亲眼所见，可提供录音")
    accept_simple(case, "accusation")
    [referral] = case.referrals()
    assert referral.kind == "discipline" and "录音" not in (referral.reason or "")
    assert case.task("acknowledge_accusation").candidate_groups == ["discipline"]
    case.complete("acknowledge_accusation", DISCIPLINE, acknowledged=True)
    assert "不会转给被检举人" in case.notices("forwarded")[0].text
    assert case.complaint().status == "forwarded"


def test_a_long_unresolved_matter_goes_to_the_inspection_team_and_reports_back(
    new_case: NewCase,
) -> None:
    case = petition(new_case)
    case.complete("handle_petition", OFFICE, request_extension=True, extension_days=30)
    case.complete("approve_extension", HEAD, extension_approved=True)
    case.advance_to(START + days(180) + days(0.01))
    [referral] = case.referrals()
    assert referral.kind == "inspection_team"
    case.complete("report_inspection_result", INSPECTION, referral_result="已约谈并挂牌督办")
    assert case.referrals()[0].result == "已约谈并挂牌督办"
    assert "handle_petition" in case.open_elements()


def test_a_long_unresolved_subject_is_referred_to_the_supervision_office(new_case: NewCase) -> None:
    case = new_case()
    accept_simple(case, "long_unresolved")
    [referral] = case.referrals()
    assert referral.kind == "supervision_office"
    case.complete("report_supervision_result", INSPECTION, referral_result="区域督察局已督办")
    assert case.notices("evaluation_invitation")


def test_repeated_complaints_with_weak_rectification_go_to_discipline(new_case: NewCase) -> None:
    case = new_case()
    accept_simple(case, "repeated_weak_rectification")
    assert [r.kind for r in case.referrals()] == ["discipline"]


# ------------------------------------------------------------------ after closure


def test_satisfaction_evaluation_closes_the_complaint(new_case: NewCase) -> None:
    case = new_case()
    accept_simple(case, "suggestion")
    case.complete("study_suggestion", OFFICE, adoption="adopted", reply_text="已采纳")
    case.engine.send_message(
        case.number, "evaluation_submitted", {"satisfaction": "satisfied"}, INTAKE
    )
    assert (case.complaint().status, case.complaint().satisfaction) == ("closed", "satisfied")


def test_evaluation_lapses_after_fifteen_days_and_the_complaint_closes(new_case: NewCase) -> None:
    case = new_case()
    accept_simple(case, "suggestion")
    case.complete("study_suggestion", OFFICE, adoption="adopted", reply_text="已采纳")
    case.advance(days=14)
    assert case.complaint().status == "replied"
    case.advance(days=2)
    assert case.complaint().status == "closed" and case.complaint().satisfaction is None


def test_a_sampled_closed_complaint_gets_a_return_visit(new_case: NewCase) -> None:
    from handlers.sampling import is_sampled

    number = next(
        f"HB-2026-{n:06d}" for n in range(500, 2000) if is_sampled(f"HB-2026-{n:06d}", 10)
    )
    case = new_case(number)
    accept_simple(case, "suggestion")
    case.complete("study_suggestion", OFFICE, adoption="adopted", reply_text="已采纳")
    case.advance(days=16)
    assert case.open_elements() == ["return_visit"]
    case.complete("return_visit", OFFICE, visit_outcome="satisfied")
    assert case.status() == "completed"


def test_routing_is_reminded_on_day_ten_and_supervised_on_day_fifteen(new_case: NewCase) -> None:
    case = new_case()
    case.advance_to(START + days(10) - days(0.01))
    assert staff_notices(case, "reminder") == []
    case.advance_to(START + days(10) + days(0.01))
    assert [n.recipient for n in staff_notices(case, "reminder")] == ["petition_office"]
    case.advance_to(START + days(15) - days(0.01))
    assert staff_notices(case, "supervision") == []
    case.advance_to(START + days(15) + days(0.01))
    [supervision] = staff_notices(case, "supervision")
    assert "15日" in supervision.text
    assert case.open_elements() == ["triage"]


def test_review_may_be_requested_while_a_supported_decision_is_still_being_carried_out(
    new_case: NewCase,
) -> None:
    case = petition(new_case)
    issue_opinion(case, "supported")
    request(case, "review_requested")  # the 30-day window runs from the opinion, not execution
    assert sorted(case.open_elements()) == ["execute_decision", "review"]
    case.complete(
        "review", REVIEWER, review_outcome="upheld", review_opinion="维持", review_basis="条例"
    )
    case.advance(days=31)
    assert not case.reached("mark_final")  # final only once the decision is carried out
    case.complete("execute_decision", OFFICE, execution_note="已落实")
    assert case.reached("mark_final")
