"""The Chinese texts of the notices a complaint process sends, one per kind. Every placeholder
must be given: a notice with a blank where the competent body or the deadline should be is worse
than a failed step. Fields named `*_date` accept ISO dates or date-times and print as
2026年10月9日 (Beijing date)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .times import chinese_date


class MissingNoticeValue(ValueError):
    """A template value the diagram did not supply; names the kind and the field."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"notice '{kind}' needs a value for '{name}'")
        self.kind = kind
        self.field = name


@dataclass(frozen=True)
class NoticeTemplate:
    """`choices` turn a coded value (outcome=supported) into its wording, which may itself hold
    placeholders; `defaults` are statutory figures (30 days to ask for review) a diagram may
    override; `optional` fields print as nothing when absent, and only where the text reads
    whole without them."""

    kind: str
    title: str
    body: str
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()


CHANNEL_NAMES = {
    "web": "网站",
    "hotline": "12369环保举报热线",
    "letter": "来信",
    "visit": "来访",
    "email": "电子邮件",
    "wechat": "微信",
    "weibo": "微博",
    "mailbox": "领导信箱",
    "platform": "全国生态环境信访投诉举报管理平台",
}

COMPLAINANT = "投诉人（信访人）：\n"
REPORTER = "投诉（举报）人：\n"  # Track A is a duty request, not a petition: no 信访 wording
APPLICANT = "申请人：\n"

TEMPLATES: dict[str, NoticeTemplate] = {
    t.kind: t
    for t in (
        NoticeTemplate(
            "receipt",
            "信访事项登记告知书",
            COMPLAINANT + "您于{received_date}通过{channel}反映的事项已登记，"
            "编号为{tracking_number}。"
            "我们将依法审查，并在规定期限内书面告知您处理途径。"
            "您可以凭编号和查询码在网上查询办理进度、评价办理结果。",
            choices={"channel": CHANNEL_NAMES},
        ),
        NoticeTemplate(
            "route",
            "信访事项转送告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），按照属地管理、"
            "分级负责，谁主管、谁负责的原则，已于{routed_date}转送{receiver}办理。"
            "您可以凭编号继续查询办理进度。",
        ),
        NoticeTemplate(
            "transfer",
            "信访事项交办告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），已交办{receiver}"
            "办理，并要求其于{feedback_date}前报送办理结果。您可以凭编号继续查询办理进度。",
        ),
        NoticeTemplate(
            "not_admitted",
            "不予受理告知书",
            COMPLAINANT + "您于{received_date}提出的信访事项（编号{tracking_number}），经审查，"
            "{reason}。依据{legal_basis}，本机关决定不予受理。建议您{guidance}。",
        ),
        NoticeTemplate(
            "not_readmitted",
            "不再受理告知书",
            COMPLAINANT + "您于{received_date}提出的信访事项（编号{tracking_number}），与已办理终结"
            "的事项（{earlier_reference}）事实和理由相同：{reason}。依据{legal_basis}，"
            "各级机关不再受理。有关部门将继续做好解释、疏导和帮扶工作。",
        ),
        NoticeTemplate(
            "diverted",
            "导入法定途径告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），经审查，"
            "属于应当通过{pathway}途径解决的事项，不作为信访事项受理。"
            "依据{legal_basis}，请您依法向{competent_body}提出{pathway}。{time_limit_note}",
            optional=frozenset({"time_limit_note"}),
        ),
        NoticeTemplate(
            "outside_competence",
            "非生态环境部门职责事项告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），经审查，"
            "不属于生态环境部门的职责范围。依据《信访工作条例》第二十三条和"
            "《生态环境信访工作办法》第十七条，请您向{competent_body}反映。",
        ),
        NoticeTemplate(
            "acceptance",
            "受理告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），本机关已于"
            "{accepted_date}依法受理，预计于{expected_completion_date}前办结。"
            "您可以凭编号查询办理进度。",
        ),
        NoticeTemplate(
            "extension",
            "延期办理告知书",
            COMPLAINANT + "您于{received_date}提出的信访事项（编号{tracking_number}），因{reason}，"
            "不能在规定期限内办结。依据《信访工作条例》第三十四条，经本机关负责人批准，"
            "办理期限延长至{new_deadline_date}。",
        ),
        NoticeTemplate(
            "opinion",
            "信访处理意见书",
            COMPLAINANT + "您于{received_date}提出的信访事项（编号{tracking_number}）收悉。"
            "您的请求：{request}。\n经调查核实：{facts}。\n处理意见：{outcome}。理由：{reasoning}。"
            "依据：{legal_basis}。\n如对本处理意见不服，可以自收到本意见书之日起{review_days}日内，"
            "向{review_body}书面提出复查申请。",
            choices={
                "outcome": {
                    "supported": "支持您的请求",
                    "explained": "对您的请求予以解释说明",
                    "not_supported": "不予支持您的请求",
                }
            },
            defaults={"review_days": 30},
        ),
        NoticeTemplate(
            "duty_reply",
            "投诉（举报）处理情况告知书",
            REPORTER + "您于{received_date}反映的{subject}问题（编号{tracking_number}），"
            "本机关已依法调查处理。\n调查核实情况：{findings}。\n处理情况：{actions}。\n{relief}",
            choices={
                "relief": {
                    "reconsideration_or_litigation": "如对上述处理不服，可以自知道该行政行为之日起"
                    "{reconsideration_days}日内依法申请行政复议，或者自知道或者应当知道作出行政行为"
                    "之日起{litigation_months}个月内依法提起行政诉讼。",
                    "new_evidence": "如有新的事实和证据，可以再次向本机关反映。",
                }
            },
            defaults={
                "relief": "reconsideration_or_litigation",
                "reconsideration_days": 60,
                "litigation_months": 6,
            },
        ),
        NoticeTemplate(
            "review_acceptance",
            "复查申请受理告知书",
            APPLICANT + "您于{request_date}对编号{tracking_number}信访事项的处理意见"
            "提出的复查申请，"
            "本机关已于{accepted_date}受理，将于{decision_due_date}前作出复查意见。",
        ),
        NoticeTemplate(
            "review_opinion",
            "信访事项复查意见书",
            APPLICANT + "您对编号{tracking_number}信访事项的处理意见提出的复查申请，本机关已复查。"
            "\n复查意见：{conclusion}。理由：{reasoning}。依据：{legal_basis}。"
            "\n如对本复查意见不服，可以自收到本意见书之日起{re_review_days}日内，"
            "向{re_review_body}书面提出复核请求。",
            defaults={"re_review_days": 30},
        ),
        NoticeTemplate(
            "re_review_opinion",
            "信访事项复核意见书",
            APPLICANT + "您对编号{tracking_number}信访事项的复查意见提出的复核请求，本机关已复核。"
            "\n复核意见：{conclusion}。理由：{reasoning}。依据：{legal_basis}。"
            "\n本复核意见为终结意见。您以同一事实和理由再提出信访事项的，各级机关不再受理。",
        ),
        NoticeTemplate(
            "final_refusal",
            "不予办理告知书",
            APPLICANT + "您于{request_date}提出的{request}（编号{tracking_number}），因{reason}，"
            "本机关不予办理。该信访事项已办理终结。",
        ),
        NoticeTemplate(
            "supervision",
            "信访事项督办函",
            "{target}：\n编号{tracking_number}的信访事项{issue}。依据《信访工作条例》第三十八条和"
            "《生态环境信访工作办法》第三十四条，现予督办。请你单位{requirements}，"
            "并于收到本函之日起{reply_days}个工作日内将办理情况书面报告本机关。",
            defaults={"reply_days": 5},
        ),
        NoticeTemplate(
            "reminder",
            "办理期限提醒",
            "编号{tracking_number}的信访事项，“{task_name}”将于{due_date}到期，请及时办理。",
        ),
        NoticeTemplate(
            "escalation",
            "逾期督促",
            "编号{tracking_number}的信访事项，“{task_name}”已于{due_date}到期而未办结，"
            "请督促承办人员立即办理。",
        ),
        NoticeTemplate(
            "merged",
            "合并办理告知书",
            COMPLAINANT + "您于{received_date}反映的事项（编号{tracking_number}），与编号"
            "{earlier_reference}的事项属同一事项，已合并办理，不再重复核查。"
            "办理结果将一并告知，您可以凭编号查询进度。",
        ),
        NoticeTemplate(
            "suggestion_reply",
            "建议意见答复书",
            COMPLAINANT + "感谢您于{received_date}提出的建议意见（编号{tracking_number}）。"
            "经研究，{adoption}。\n{reply}",
            choices={
                "adoption": {
                    "adopted": "您的建议已被采纳",
                    "partly_adopted": "您的建议已被部分采纳",
                    "not_adopted": "您的建议暂未被采纳",
                }
            },
        ),
        NoticeTemplate(
            "forwarded",
            "检举控告事项移送告知书",
            COMPLAINANT + "您于{received_date}提出的检举控告事项（编号{tracking_number}），"
            "依据《信访工作条例》第三十条和《生态环境信访工作办法》第二十三条，已移送{body}"
            "依规依纪依法处理。您的检举材料不会转给被检举人。",
        ),
        NoticeTemplate(
            "urgent_report",
            "重大紧急信访事项报告",
            "编号{tracking_number}的信访事项可能造成社会影响（{summary}），"
            "依据《信访工作条例》第二十五条，现立即报告，请即时处置。",
        ),
        NoticeTemplate(
            "evaluation_invitation",
            "满意度评价邀请",
            COMPLAINANT + "您反映的事项（编号{tracking_number}）已办结。请凭编号和查询码"
            "对办理情况进行满意度评价，欢迎提出意见和建议。",
        ),
    )
}


def template_fields(kind: str) -> list[str]:
    """Every value the kind needs, in order of appearance, including those inside choices."""
    template = _template(kind)
    names = _placeholders(template.body)
    for choice in template.choices.values():
        for text in choice.values():
            names += [n for n in _placeholders(text) if n not in names]
    return names


def render(
    kind: str,
    values: Mapping[str, Any],
    *,
    tracking_number: str | None,
    today: date,
    authority: str | None = None,
) -> tuple[str, str]:
    """(title, full text): title, the body with every placeholder filled, and the signature
    (issuing body if given, then today's date)."""
    template = _template(kind)
    given = {**template.defaults, **{k: v for k, v in values.items() if not _blank(v)}}
    if tracking_number:
        given["tracking_number"] = tracking_number
    body = _fill(template, template.body, given)
    footer = [authority] if authority else []
    footer.append(chinese_date(today, "today"))
    text = "\n".join([template.title, "", body, "", *footer])
    return template.title, text


def _fill(template: NoticeTemplate, text: str, given: Mapping[str, Any]) -> str:
    filled: dict[str, str] = {}
    for name in _placeholders(text):
        if name in template.choices:
            filled[name] = _fill(template, _choose(template, name, given), given)
        elif name in given:
            filled[name] = _printable(template.kind, name, given[name])
        elif name in template.optional:
            filled[name] = ""
        else:
            raise MissingNoticeValue(template.kind, name)
    return text.format_map(filled)


def _choose(template: NoticeTemplate, name: str, given: Mapping[str, Any]) -> str:
    options = template.choices[name]
    if name not in given:
        raise MissingNoticeValue(template.kind, name)
    value = given[name]
    if value not in options:
        raise ValueError(
            f"notice '{template.kind}': '{name}' must be one of {sorted(options)}, got {value!r}"
        )
    return options[value]


def _printable(kind: str, name: str, value: Any) -> str:
    if name.endswith("_date"):
        return chinese_date(value, f"notice '{kind}' field '{name}'")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"notice '{kind}': '{name}' must be text or a number, got {value!r}")
    # The template supplies the sentence's full stop; a value ending in one would double it.
    return str(value).strip().rstrip("。.")


def _placeholders(text: str) -> list[str]:
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name and name not in names:
            names.append(name)
    return names


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _template(kind: str) -> NoticeTemplate:
    try:
        return TEMPLATES[kind]
    except KeyError:
        raise ValueError(f"unknown notice kind '{kind}'; known: {sorted(TEMPLATES)}") from None
