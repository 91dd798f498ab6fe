"""Following a complaint with its number and access token, and the complainant's requests for
review, re-review and evaluation, through the real complaint process: the Track B scenario to
finality, each refusal with its reason and audit, and what never shows (identity)."""

from __future__ import annotations

import hmac
import types
from collections.abc import Iterator

import pytest

import api.public_service as public_service
from engine import Engine
from handlers.intake import digest
from tests.lifecycle import OFFICE, RE_REVIEWER, REVIEWER, lifecycle_engine
from tests.test_public_support import Site, body, identity_free

REASON = {"reason": "处理意见认定事实不清，请求复查"}


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def site(engine: Engine, sqlite_url: str) -> Site:
    return Site(engine, sqlite_url)


def refusal(answer) -> str:
    found = answer.get_json()
    assert answer.status_code == 409, found
    assert found["error"] == "refused" and found["fields"] == {}
    assert found["reason_text"]["zh"] and found["reason_text"]["en"]
    assert found["reason_text"]["zh"] in found["message"]
    assert found["reason_text"]["en"] in found["message"]
    return found["reason"]


def test_the_complainant_sees_the_status_in_plain_words_the_notices_and_the_deadline(
    site: Site,
) -> None:
    number, token = site.submit()
    answer = site.view(number, token)
    assert answer.status_code == 200
    view = answer.get_json()
    assert view["tracking_number"] == number
    assert view["status"] == "registered"
    assert view["status_text"] == {
        "zh": "已登记，正在审查分流",
        "en": "Registered; being examined and routed",
    }
    [receipt] = view["timeline"]
    assert receipt["kind"] == "receipt" and receipt["title"] == "信访事项登记告知书"
    assert number in receipt["text"] and receipt["at"].endswith("+00:00")
    assert view["deadline_at"] is None
    assert not any(a["open"] for a in view["actions"].values())

    site.triage(number, "other_petition")
    view = site.view(number, token).get_json()
    assert view["status"] == "accepted"
    assert view["status_text"]["zh"] == "已受理，正在办理"
    assert view["deadline_at"] == "2026-05-01T01:00:00+00:00"  # 60 days from acceptance
    assert [n["kind"] for n in view["timeline"]] == ["receipt", "acceptance"]
    assert "2026年5月1日" in view["timeline"][1]["text"]
    assert view["agency"]["zh"]


def test_a_wrong_token_and_an_unknown_number_get_the_same_404_after_the_same_work(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, token = site.submit()
    calls: list[str] = []

    def counted_digest(text: str) -> str:
        calls.append("digest")
        return digest(text)

    def counted_compare(a, b) -> bool:
        calls.append("compare")
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(public_service, "digest", counted_digest)
    monkeypatch.setattr(
        public_service, "hmac", types.SimpleNamespace(compare_digest=counted_compare)
    )

    wrong_token = site.view(number, token[:-1] + ("A" if token[-1] != "A" else "B"))
    work_for_wrong_token, calls[:] = list(calls), []
    unknown_number = site.view("HB-2026-424242", token)
    work_for_unknown_number, calls[:] = list(calls), []
    no_token = site.client.get(f"/api/complaints/{number}")

    assert wrong_token.status_code == unknown_number.status_code == no_token.status_code == 404
    assert wrong_token.get_data() == unknown_number.get_data() == no_token.get_data()
    assert work_for_wrong_token == work_for_unknown_number == ["digest", "compare"]
    # numbers and codes are read case-blind; hyphens and spaces, O for 0 and I or L for 1 pass
    typed = token.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert site.view(number.lower(), typed).status_code == 200


def test_nothing_of_the_complainants_identity_reaches_any_reader(site: Site) -> None:
    number, token = site.submit()
    site.add_user("wang.enforce", "enforcement")
    staff = site.client.get(f"/api/complaints/{number}", headers=site.bearer("wang.enforce"))
    wrong = site.view(number, "not-the-token")
    own = site.view(number, token)
    assert staff.status_code == 200 and own.status_code == 200 and wrong.status_code == 404
    for answer in (staff, wrong, own):
        text = answer.get_data(as_text=True)
        assert identity_free(text)
        assert "complainant" not in (answer.get_json() or {})
    assert set(staff.get_json()) == set(own.get_json())
    # the notices do not name the complainant either
    assert all(identity_free(n["text"]) for n in own.get_json()["timeline"])


def test_a_petition_is_reviewed_and_re_reviewed_on_request_and_then_is_final(
    site: Site, clock
) -> None:
    number, token = site.submit()
    site.petition_answered(number)
    view = site.view(number, token).get_json()
    assert view["status"] == "replied"
    assert view["actions"]["review_request"] == {
        "open": True,
        "until": "2026-04-01T01:00:00+00:00",
    }
    assert "opinion" in [n["kind"] for n in view["timeline"]]

    clock.advance(days=10)
    answer = site.ask(number, token, "review-request", REASON)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "in_review"
    assert answer.get_json()["actions"]["review_request"]["open"] is False
    assert "review_acceptance" in [n["kind"] for n in answer.get_json()["timeline"]]
    [row] = site.engine.instances(process_id="complaint", business_key=number)
    [received] = [e for e in site.engine.history(row["id"]) if e.event == "message_received"]
    assert received.actor == "public"
    assert received.detail == {"message": "review_requested"}
    assert received.data_after["reason"] == REASON["reason"]
    assert received.data_after["requested_at"] == "2026-03-12T01:00:00+00:00"

    assert refusal(site.ask(number, token, "review-request", REASON)) == "already_requested"
    assert refusal(site.ask(number, token, "re-review-request", REASON)) == "no_review_opinion"
    site.complete(
        number,
        "review",
        REVIEWER,
        review_outcome="upheld",
        review_opinion="原处理意见认定事实清楚",
        review_basis="《信访工作条例》第三十五条",
    )
    assert site.view(number, token).get_json()["actions"]["re_review_request"]["open"] is True

    answer = site.ask(number, token, "re-review-request", REASON)
    assert answer.status_code == 200, answer.get_json()
    site.complete(
        number,
        "re_review",
        RE_REVIEWER,
        re_review_outcome="upheld",
        re_review_opinion="维持复查意见",
        re_review_basis="《信访工作条例》第三十六条",
    )
    view = site.view(number, token).get_json()
    assert view["status"] == "final"
    assert view["status_text"]["en"].startswith("Final")
    assert view["actions"]["evaluation"]["open"] is True

    # After finality a further request is refused, in writing.
    assert refusal(site.ask(number, token, "review-request", REASON)) == "final"
    [written] = site.notices(number, "final_refusal")
    assert written.recipient == "complainant"
    assert "复查申请" in written.text and "复核意见已经作出" in written.text
    assert "2026年3月12日" in written.text and number in written.text
    timeline = site.view(number, token).get_json()["timeline"]
    assert timeline[-1]["kind"] == "final_refusal"

    answer = site.ask(number, token, "evaluation", {"satisfaction": "basically_satisfied"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "closed"
    assert site.complaint(number).satisfaction == "basically_satisfied"
    again = site.ask(number, token, "evaluation", {"satisfaction": "satisfied"})
    assert refusal(again) == "already_evaluated"
    assert refusal(site.ask(number, token, "re-review-request", REASON)) == "final"

    trail = [(a.action, a.outcome, a.reason) for a in site.actions(number)]
    assert trail == [
        ("review_request", "accepted", None),
        ("review_request", "refused", "already_requested"),
        ("re_review_request", "refused", "no_review_opinion"),
        ("re_review_request", "accepted", None),
        ("review_request", "refused", "final"),
        ("evaluation", "accepted", None),
        ("evaluation", "refused", "already_evaluated"),
        ("re_review_request", "refused", "final"),
    ]
    assert len(site.notices(number, "final_refusal")) == 2


def test_a_review_request_before_the_written_opinion_is_refused(site: Site) -> None:
    number, token = site.submit()
    assert refusal(site.ask(number, token, "review-request", REASON)) == "no_opinion_yet"
    assert refusal(site.ask(number, token, "re-review-request", REASON)) == "no_review_opinion"
    assert refusal(site.ask(number, token, "evaluation", {"satisfaction": "satisfied"})) == (
        "not_yet"
    )
    assert site.notices(number, "final_refusal") == []
    assert [a.outcome for a in site.actions(number)] == ["refused"] * 3


def test_a_review_request_after_the_window_lapsed_is_refused_as_final_in_writing(
    site: Site, clock
) -> None:
    number, token = site.submit()
    site.petition_answered(number)
    clock.advance(days=31)
    site.engine.fire_due_timers()
    assert site.complaint(number).status == "final"
    answer = site.ask(number, token, "review-request", REASON)
    assert refusal(answer) == "final"
    assert "30日内未提出复查申请" in answer.get_json()["message"]
    [written] = site.notices(number, "final_refusal")
    assert "不予办理" in written.text


def test_a_request_after_the_window_ends_is_refused_even_before_the_timer_fires(
    site: Site, clock
) -> None:
    number, token = site.submit()
    site.petition_answered(number)
    clock.advance(days=30, seconds=1)  # due, but no timer worker ran yet
    answer = site.ask(number, token, "review-request", REASON)
    assert refusal(answer) == "window_closed"
    assert "30日" in answer.get_json()["message"]
    assert site.complaint(number).status == "replied"


def test_a_pollution_report_is_not_open_to_review_and_says_where_to_go(site: Site) -> None:
    number, token = site.submit()
    site.triage(number, "pollution_report")
    answer = site.ask(number, token, "review-request", REASON)
    assert refusal(answer) == "duty_request"
    assert "行政复议" in answer.get_json()["message"]


def test_a_matter_diverted_to_a_legal_pathway_is_not_open_to_review(site: Site) -> None:
    number, token = site.submit()
    site.triage(number, "penalty_dispute")
    assert site.view(number, token).get_json()["status"] == "diverted"
    assert refusal(site.ask(number, token, "review-request", REASON)) == "not_a_petition"


def test_requests_are_checked_before_they_reach_the_process(site: Site) -> None:
    number, token = site.submit()
    site.petition_answered(number)
    empty = site.ask(number, token, "review-request", {"reason": " "})
    assert empty.status_code == 422 and empty.get_json()["fields"] == {"reason": ["required"]}
    long = site.ask(number, token, "review-request", {"reason": "理" * 2001})
    assert long.get_json()["fields"] == {"reason": ["at most 2000 characters"]}
    odd = site.ask(number, token, "evaluation", {"satisfaction": "ecstatic", "stars": 5})
    assert set(odd.get_json()["fields"]) == {"satisfaction", "stars"}
    wrong = site.ask(number, "bad-token", "review-request", REASON)
    assert wrong.status_code == 404
    assert site.actions(number) == []
    assert site.complaint(number).status == "replied"


def test_staff_can_send_a_request_on_the_complainants_behalf(site: Site) -> None:
    """A review request that arrives by letter is entered by the petition office."""
    number, _ = site.submit(body(channel="web"))
    site.petition_answered(number)
    site.add_user("chen.office", "petition_office")
    answer = site.client.post(
        f"/api/complaints/{number}/review-request", json=REASON, headers=site.bearer("chen.office")
    )
    assert answer.status_code == 200
    [row] = site.engine.instances(process_id="complaint", business_key=number)
    [received] = [e for e in site.engine.history(row["id"]) if e.event == "message_received"]
    assert received.actor == "chen.office"


def test_a_merged_report_points_to_the_earlier_one_and_a_suggestion_has_no_review(
    site: Site,
) -> None:
    first, _ = site.submit()
    second, token = site.submit(body(description="同一家工厂今晚又在排污"))
    site.complete(second, "decide_repeat", OFFICE, repeat_decision="merge")
    answer = site.ask(second, token, "review-request", REASON)
    assert refusal(answer) == "merged"
    assert first in answer.get_json()["message"]

    suggestion = body(
        category="noise",
        description="建议增设噪声监测点",
        respondent=None,
        location={"region_code": "420106", "address": "武昌区中北路1号"},
    )
    number, token = site.submit(suggestion)
    site.triage(number, "suggestion")
    assert refusal(site.ask(number, token, "review-request", REASON)) == "no_review"


def test_staff_asking_for_an_unknown_number_get_a_plain_404(site: Site) -> None:
    site.add_user("wang.enforce", "enforcement")
    answer = site.client.get("/api/complaints/HB-2026-424242", headers=site.bearer("wang.enforce"))
    assert answer.status_code == 404
