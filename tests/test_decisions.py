"""The decision tables a process designer edits (admissibility, legal pathway, deadlines), run
through the real engine: each table deploys with a small harness process in tests/decisions/
(start -> business rule task -> end), and the finished instance shows what the table decided."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.composition import bundle_files, compile_form
from engine import Engine, WorkflowFailed
from engine.validation import check_dmn
from tests.conftest import ADMIN, TESTS

PROCESSES = TESTS.parent / "processes"
HARNESS = TESTS / "decisions"
DECISION_FILES = ("admissibility.dmn", "legal_pathway.dmn", "deadlines.dmn")

# The names the triage form sets, in the order of the table's rows B-01..B-10.
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
    "urgent",
)
# flag -> (code, outcome, notice, an article the basis must cite)
ADMISSIBILITY_ROWS = {
    "raised_again_with_higher_level": ("B-01", "not_admitted", "不予受理告知书", "第19条第3款"),
    "visit_skipped_levels": ("B-02", "not_admitted", "不予受理告知书", "第20条第1款"),
    "within_court_jurisdiction": ("B-03", "not_admitted", "不予受理告知书", "第18条第3项"),
    "after_re_review_same_facts": ("B-04", "not_readmitted", "", "第36条第3款"),
    "litigation_closed": ("B-05", "not_readmitted", "", "第37条第3款"),
    "outside_eeb_competence": ("B-06", "outside_competence", "告知书", "第23条第1款"),
    "lower_level_competent": (
        "B-07",
        "transfer",
        "信访事项告知书；信访事项转送单或者交办函",
        "第17条第1款第2项",
    ),
    "spans_regions": ("B-08", "joint_acceptance", "", "第24条第1款"),
    "spans_departments": ("B-09", "lead_department", "", "几点提示》第5点"),
    "urgent": ("B-10", "continue", "", "第25条"),
}
# subject code -> (pathway code, track)
PATHWAYS = {
    "suggestion": ("P-01", "C"),
    "public_notice_opinion": ("P-02", "C"),
    "accusation": ("P-03", "D"),
    "party_personnel_appeal": ("P-04", "divert"),
    "penalty_dispute": ("P-05", "divert"),
    "licence_dispute": ("P-06", "divert"),
    "reward_dispute": ("P-07", "divert"),
    "duty_outcome_dispute": ("P-08", "divert"),
    "petition_reply_dispute": ("P-09", "divert"),
    "disclosure_grievance": ("P-10", "divert"),
    "other_administrative_act": ("P-11", "divert"),
    "information_request": ("P-12", "divert"),
    "mediation_request": ("P-13", "divert"),
    "civil_damage_dispute": ("P-14", "divert"),
    "contract_dispute": ("P-15", "divert"),
    "staff_private_dispute": ("P-16", "divert"),
    "labour_dispute": ("P-17", "divert"),
    "leverage_dispute": ("P-18", "A"),
    "damages_demand": ("P-19", "A"),
    "pollution_report": ("P-20", "A"),
    "third_party_misconduct": ("P-21", "A"),
    "supervise_lower_level": ("P-22", "B"),
    "standards_consultation": ("P-23", "C"),
    "law_consultation": ("P-24", "C"),
    "other_petition": ("P-25", "B"),
    "nimby": ("P-26", "special"),
    "compliant_but_disturbing": ("P-27", "special"),
    "long_unresolved": ("P-28", "supervision"),
    "repeated_weak_rectification": ("P-29", "discipline"),
}
PATHWAY_OUTPUTS = (
    "pathway_code",
    "track",
    "pathway_route",
    "competent_body",
    "legal_basis",
    "notice_document",
)
# deadline code -> (ISO 8601 duration, counted in working days)
DEADLINES = {
    "routing": ("P15D", False),
    "objection": ("P5D", True),
    "transfer_platform": ("P3D", True),
    "track_a_reply": ("P60D", False),
    "track_b_handling": ("P60D", False),
    "track_b_extension_max": ("P30D", False),
    "review_request": ("P30D", False),
    "review_decision": ("P30D", False),
    "re_review_request": ("P30D", False),
    "re_review_decision": ("P30D", False),
    "spot_check_correction": ("P5D", True),
    "reminder_before": ("P5D", False),
    "evaluation_window": ("P15D", False),
    "repeat_window": ("P90D", False),
    "long_unresolved_age": ("P180D", False),
}
# SPEC's shorthand must be expanded to full titles in text that goes into a notice.
SHORTHAND = re.compile(r"(?<!》)(条例|办法|清单)\d|EPL|几点提示\d")


def decision_bundle() -> dict[str, bytes]:
    files = bundle_files(HARNESS)
    files.update({name: (PROCESSES / name).read_bytes() for name in DECISION_FILES})
    return files


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One deployment for the module: the tables are read-only, every case is a new instance."""
    path = tmp_path_factory.mktemp("decisions") / "engine.db"
    engine = Engine(f"sqlite:///{path}", compile_form=compile_form)
    engine.create_schema()
    engine.deploy(decision_bundle(), ADMIN)
    yield engine
    engine.close()


def decide(engine: Engine, decision: str, data: dict) -> dict:
    started = engine.start(f"decide_{decision}", data, None, ADMIN)
    finished = engine.instance(started.id)
    assert finished.status == "completed"
    return finished.data


def triage(**flags: bool) -> dict[str, bool]:
    unknown = set(flags) - set(TRIAGE_FLAGS)
    assert not unknown, unknown
    return {flag: flags.get(flag, False) for flag in TRIAGE_FLAGS}


def admissibility(engine: Engine, **flags: bool) -> dict:
    return decide(engine, "admissibility", triage(**flags))


# ---------------------------------------------------------------- the files


@pytest.mark.parametrize("name", DECISION_FILES)
def test_each_decision_file_passes_the_deploy_time_dmn_check(name: str) -> None:
    assert check_dmn(name, (PROCESSES / name).read_bytes()) == []


def test_the_tables_deploy_with_the_harness_processes(engine: Engine) -> None:
    assert engine.deployments()[0].process_ids == [
        "decide_admissibility",
        "decide_deadlines",
        "decide_legal_pathway",
    ]


# ---------------------------------------------------------------- admissibility (B rows)


@pytest.mark.parametrize("flag", TRIAGE_FLAGS)
def test_each_admissibility_ground_alone_gives_its_row(engine: Engine, flag: str) -> None:
    code, outcome, notice, article = ADMISSIBILITY_ROWS[flag]
    result = admissibility(engine, **{flag: True})
    assert (
        result["admissibility_code"],
        result["admissibility_outcome"],
        result["admissibility_notice"],
    ) == (code, outcome, notice)
    assert article in result["admissibility_basis"]
    assert not SHORTHAND.search(result["admissibility_basis"])


def test_no_ground_flagged_is_admissible_and_continues_to_classification(engine: Engine) -> None:
    result = admissibility(engine)
    assert (
        result["admissibility_code"],
        result["admissibility_outcome"],
        result["admissibility_notice"],
        result["admissibility_basis"],
    ) == ("OK", "continue", "", "")


@pytest.mark.parametrize("row", range(len(TRIAGE_FLAGS)))
def test_each_row_wins_over_every_row_below_it(engine: Engine, row: int) -> None:
    flags = dict.fromkeys(TRIAGE_FLAGS[row:], True)
    expected = ADMISSIBILITY_ROWS[TRIAGE_FLAGS[row]][0]
    assert admissibility(engine, **flags)["admissibility_code"] == expected


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (("raised_again_with_higher_level", "outside_eeb_competence"), "B-01"),
        (("visit_skipped_levels", "lower_level_competent"), "B-02"),
        (("after_re_review_same_facts", "litigation_closed"), "B-04"),
        (("outside_eeb_competence", "lower_level_competent"), "B-06"),
        (("lower_level_competent", "spans_regions"), "B-07"),
        (("spans_regions", "spans_departments"), "B-08"),
    ],
)
def test_the_first_matching_row_wins_when_two_grounds_apply(
    engine: Engine, flags: tuple[str, ...], code: str
) -> None:
    assert admissibility(engine, **dict.fromkeys(flags, True))["admissibility_code"] == code


@pytest.mark.parametrize("flag", TRIAGE_FLAGS[:-1])
def test_urgent_gives_b10_only_when_no_other_ground_matched(engine: Engine, flag: str) -> None:
    result = admissibility(engine, **{flag: True, "urgent": True})
    assert result["admissibility_code"] == ADMISSIBILITY_ROWS[flag][0]
    assert result["urgent"] is True  # the process reads the flag itself to report at once


def test_a_triage_flag_left_unset_fails_the_step_instead_of_admitting(engine: Engine) -> None:
    data = triage()
    del data["litigation_closed"]
    with pytest.raises(WorkflowFailed, match="litigation_closed"):
        decide(engine, "admissibility", data)


# ---------------------------------------------------------------- legal pathway (P rows)


@pytest.mark.parametrize("subject", PATHWAYS)
def test_each_subject_code_gives_its_pathway_and_track(engine: Engine, subject: str) -> None:
    result = decide(engine, "legal_pathway", {"subject": subject})
    assert (result["pathway_code"], result["track"]) == PATHWAYS[subject]
    assert all(isinstance(result[name], str) for name in PATHWAY_OUTPUTS)
    for name in ("pathway_route", "competent_body", "legal_basis"):
        assert result[name], f"{subject}: {name} is empty"
    assert not SHORTHAND.search(result["legal_basis"]), result["legal_basis"]


def test_every_pathway_row_is_reachable_by_exactly_one_subject() -> None:
    codes = [code for code, _ in PATHWAYS.values()]
    assert codes == [f"P-{n:02d}" for n in range(1, 30)]


@pytest.mark.parametrize(
    ("subject", "body", "basis"),
    [
        ("penalty_dispute", "人民法院", "《生态环境领域依法分类处理信访诉求清单》第13项"),
        ("duty_outcome_dispute", "人民法院", "第3点"),
        ("accusation", "纪检监察机关", "《信访工作条例》第22条第2款、第30条"),
        ("pollution_report", "生态环境部门", "《中华人民共和国环境保护法》第57条"),
        ("other_petition", "生态环境部门", "《生态环境信访工作办法》第24条第1款第4项"),
    ],
)
def test_the_notice_text_names_the_competent_body_and_the_full_basis(
    engine: Engine, subject: str, body: str, basis: str
) -> None:
    result = decide(engine, "legal_pathway", {"subject": subject})
    assert body in result["competent_body"]
    assert basis in result["legal_basis"]


@pytest.mark.parametrize("subject", ["", "Pollution_Report", "noise", "P-20"])
def test_an_unknown_subject_is_sent_back_for_review_not_mapped(
    engine: Engine, subject: str
) -> None:
    result = decide(engine, "legal_pathway", {"subject": subject})
    assert (result["pathway_code"], result["track"]) == ("unknown", "review")
    assert (result["competent_body"], result["legal_basis"], result["notice_document"]) == (
        "",
        "",
        "",
    )


# ---------------------------------------------------------------- deadlines


def test_every_deadline_is_loaded_at_once_with_its_duration_and_day_count(engine: Engine) -> None:
    result = decide(engine, "deadlines", {})
    rows = zip(result["duration"], result["working_days"], strict=True)
    loaded = dict(zip(result["deadline_code"], rows, strict=True))
    assert loaded == DEADLINES
    assert all(re.fullmatch(r"P\d+D", d) for d in result["duration"])
    assert all(label for label in result["label"])
