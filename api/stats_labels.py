"""Names of the coded values the statistics pages show, in Chinese and English. Codes are those
of handlers.complaints (channels, categories, statuses, tracks, satisfaction) and of the review
forms (outcomes); an unknown code is shown as itself."""

from __future__ import annotations

from handlers.regions import NAMES as REGION_NAMES

LANGUAGES = ("zh", "en")

Labels = dict[str, tuple[str, str]]

CHANNELS: Labels = {
    "web": ("网站", "Web"),
    "hotline": ("12369热线", "12369 hotline"),
    "letter": ("来信", "Letter"),
    "visit": ("来访", "Visit"),
    "email": ("电子邮件", "E-mail"),
    "wechat": ("微信", "WeChat"),
    "weibo": ("微博", "Weibo"),
    "mailbox": ("领导信箱", "Leader's mailbox"),
    "platform": ("全国平台", "National platform"),
}
CATEGORIES: Labels = {
    "air": ("大气", "Air"),
    "water": ("水", "Water"),
    "noise": ("噪声", "Noise"),
    "soil": ("土壤", "Soil"),
    "solid_waste": ("固体废物", "Solid waste"),
    "radiation": ("辐射", "Radiation"),
    "ecology": ("生态", "Ecology"),
    "other": ("其他", "Other"),
}
STATUSES: Labels = {
    "registered": ("已登记", "Registered"),
    "routed": ("已告知途径", "Routed"),
    "transferred": ("已转送", "Transferred"),
    "diverted": ("已分流", "Diverted"),
    "accepted": ("已受理", "Accepted"),
    "investigating": ("调查中", "Investigating"),
    "extended": ("已延期", "Extended"),
    "replied": ("已答复", "Replied"),
    "in_review": ("复查复核中", "In review"),
    "forwarded": ("已移送", "Forwarded"),
    "merged": ("已合并", "Merged"),
    "final": ("已终结", "Final"),
    "closed": ("已办结", "Closed"),
}
TRACKS: Labels = {
    "diversion": ("分流", "Diversion"),
    "transfer": ("转送", "Transfer"),
    "A": ("履职请求", "A: duty request"),
    "B": ("信访事项", "B: petition"),
    "C": ("建议意见", "C: suggestion"),
    "D": ("检举控告", "D: accusation"),
    "special": ("专项", "Special"),
    "supervision": ("督办", "Supervision"),
    "discipline": ("纪检", "Discipline"),
}
SATISFACTION: Labels = {
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
}
OUTCOMES: Labels = {
    "upheld": ("维持", "Upheld"),
    "revoked": ("撤销", "Revoked"),
    "changed": ("变更", "Changed"),
    "sent_back": ("责令重新处理", "Sent back"),
}
UNKNOWN = ("未填", "Not set")

BY_DIMENSION: dict[str, Labels] = {
    "channel": CHANNELS,
    "category": CATEGORIES,
    "status": STATUSES,
    "track": TRACKS,
    "satisfaction": SATISFACTION,
    "outcome": OUTCOMES,
}


def language(asked: str | None) -> str:
    return asked if asked in LANGUAGES else "zh"


def label(dimension: str, code: str | None, lang: str = "zh") -> str:
    """The name of `code` in `lang`; regions by their GB/T 2260 name."""
    index = 0 if lang == "zh" else 1
    if code is None or code == "":
        return UNKNOWN[index]
    if dimension == "region":
        name = REGION_NAMES.get(code)
        return f"{name} ({code})" if name else code
    names = BY_DIMENSION.get(dimension, {}).get(code)
    return names[index] if names else code
