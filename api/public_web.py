"""Public pages, Chinese by default (`?lang=en` for English), working without JavaScript:
`/report` (the complaint form and, once, the tracking number and access code on a printable
page) and `/track` (number + access code, then status, notices, deadline and the review,
re-review and evaluation forms when they apply). Every form carries the session's CSRF token;
the report form also carries a one-time nonce that makes a double submission register once."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from engine import Actor, NotFound
from handlers.regions import NAMES, full_name
from handlers.times import CHINA

from .json_api import ApiError
from .public_limits import RateLimited, limit_this_request
from .public_service import (
    CATEGORY_NAMES,
    IntakeUnavailable,
    Problems,
    Refused,
    check_request,
    check_submission,
    normal_number,
    problems_of,
    status_words,
    the_desk,
)
from .request_numbers import decimal_number

bp = Blueprint("public_web", __name__)

CSRF_KEY = "public_csrf"
CLIENT_KEY = "public_client"
RECEIPT_KEY = "public_receipt"
TRACK_KEY = "public_track"
FLASH_KEY = "public_flash"
TRACK_SECONDS = 30 * 60
MAX_FORM = 64 * 1024
WEB_ACTOR = Actor("public")

# Texts of the pages: (Chinese, English).
TEXT: dict[str, tuple[str, str]] = {
    "site": ("生态环境信访投诉举报", "Environmental complaints"),
    "report": ("我要投诉举报", "Report a problem"),
    "track": ("查询办理进度", "Follow a complaint"),
    "intro": (
        "请如实反映生态环境问题。带 * 的为必填项。您的身份信息单独保存，依法保密，"
        "不会告知被投诉单位，也不会公开。",
        "Please describe the environmental problem truthfully. Fields marked * are required. "
        "Your identity is kept apart and confidential: it is never given to the party you "
        "complain about, nor published.",
    ),
    "no_attachments": (
        "本页面暂不支持上传照片等附件；如有材料，请在受理后按告知的方式提供。",
        "Attachments such as photos cannot be uploaded here; you will be told how to hand in "
        "material once the matter is accepted.",
    ),
    "category": ("问题类别", "Kind of problem"),
    "title": ("标题", "Short summary"),
    "description": ("问题描述", "What happened"),
    "description_hint": (
        "时间、地点、现象、持续情况等，不超过4000字",
        "When, where, what you saw, heard or smelled, how long it lasts (at most 4000 characters)",
    ),
    "region": ("所在县（市、区）", "District"),
    "choose": ("请选择", "Choose"),
    "address": ("详细地址", "Address"),
    "lat": ("纬度", "Latitude"),
    "lon": ("经度", "Longitude"),
    "coordinates_hint": ("可不填；两项须同时填写", "Optional; give both or neither"),
    "respondent": ("被投诉单位", "Enterprise or unit complained about"),
    "requested_outcome": ("您的诉求", "What you ask for"),
    "urgent": (
        "情况紧急（正在发生、可能造成严重后果）",
        "Urgent (happening now, may cause serious harm)",
    ),
    "addressed_to_leader": ("写给领导信箱", "Addressed to the leader's mailbox"),
    "identity": ("反映方式", "Your identity"),
    "anonymous": ("匿名反映", "Anonymous"),
    "real_name": ("实名反映", "With my name"),
    "identity_hint": (
        "实名反映须填写姓名和至少一种联系方式；匿名反映也可以留下联系方式以便回复。",
        "With your name, give it and at least one way to reach you; anonymous reporters may "
        "still leave a contact for the reply.",
    ),
    "name": ("姓名", "Name"),
    "phone": ("电话", "Phone"),
    "email": ("电子邮箱", "E-mail"),
    "contact_address": ("通信地址", "Postal address"),
    "written_reply": ("希望收到书面答复", "I would like a written reply"),
    "reward_interest": (
        "如举报属实，愿意申请有奖举报奖励",
        "I am interested in the reporting reward if the report proves true",
    ),
    "submit": ("提交", "Submit"),
    "errors": (
        "请修改标出的内容后重新提交。",
        "Please correct the marked fields and submit again.",
    ),
    "resubmitted": (
        "这张表单已经提交过。如要反映新的问题，请检查内容后再次提交。",
        "This form was already submitted. To report another problem, check it and submit again.",
    ),
    "in_progress": (
        "您的提交正在登记，请稍候刷新本页。",
        "Your submission is being registered; reload this page in a moment.",
    ),
    "done_title": ("已登记", "Registered"),
    "done_intro": (
        "您反映的问题已登记。请记下或打印编号和查询码：查询码只显示这一次，"
        "凭编号和查询码可以查询办理进度、申请复查和评价。",
        "Your complaint is registered. Write down or print the number and the access code: the "
        "code is shown only this once, and with both you can follow the matter, request review "
        "and evaluate.",
    ),
    "tracking_number": ("编号", "Tracking number"),
    "access_token": ("查询码", "Access code"),
    "status": ("办理状态", "Status"),
    "print_hint": (
        "可使用浏览器的“打印”功能保存本页。",
        "Use your browser's print function to keep this page.",
    ),
    "receipt_gone": (
        "编号和查询码只显示一次，已不能再次显示。",
        "The number and access code are shown only once and cannot be shown again.",
    ),
    "track_intro": (
        "请输入登记时获得的编号和查询码。",
        "Enter the tracking number and access code you were given.",
    ),
    "show": ("查询", "Show"),
    "not_found": (
        "没有与该编号和查询码相符的事项。",
        "There is no complaint with this number and access code.",
    ),
    "submitted_at": ("登记时间", "Registered on"),
    "deadline": ("当前办理期限", "Current deadline"),
    "agency": ("承办单位", "Handled by"),
    "no_deadline": ("尚未确定", "not yet set"),
    "timeline": ("告知记录", "Notices to you"),
    "no_notices": ("暂无告知。", "No notices yet."),
    "your_complaint": ("您反映的问题", "Your complaint"),
    "review_request": ("申请复查", "Request a review"),
    "review_hint": (
        "对处理意见不服的，可在期限内向上一级机关申请复查。",
        "If you disagree with the written opinion, you may ask the level above to review it.",
    ),
    "re_review_request": ("请求复核", "Request a re-review"),
    "re_review_hint": (
        "对复查意见不服的，可在期限内请求复核；复核意见为终结意见。",
        "If you disagree with the review opinion, you may ask for a re-review; its opinion is "
        "final.",
    ),
    "reason": ("理由", "Reasons"),
    "until": ("截止", "until"),
    "evaluation": ("满意度评价", "Evaluation"),
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
    "comment": ("意见建议", "Comments"),
    "sent": ("已提交。", "Sent."),
    "refused": ("未能受理：", "Not accepted: "),
    "leave": ("结束查询", "Close this complaint"),
    "session_expired": (
        "查询已超时，请重新输入编号和查询码。",
        "The page has expired; enter the number and access code again.",
    ),
    "too_many": ("请求过于频繁，请稍后再试。", "Too many requests; please try again later."),
    "unavailable": (
        "暂时无法登记，未保存任何内容，请稍后再试。",
        "The complaint could not be registered and nothing was kept; please try again later.",
    ),
    "bad_form": (
        "表单已过期或并非从本网站提交，请刷新页面后重试。",
        "The form has expired or was not sent from this site; reload the page and try again.",
    ),
    "error": ("出错了", "Something went wrong"),
    "no_secret": (
        "网站尚未配置会话密钥（COMPLAINTS_SECRET_KEY），暂不能使用表单。",
        "The site has no session key (COMPLAINTS_SECRET_KEY) yet, so forms cannot be used.",
    ),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


def t(key: str) -> str:
    pair = TEXT[key]
    return pair[1] if lang() == "en" else pair[0]


def words(pair: dict[str, str] | None) -> str:
    if not pair:
        return ""
    return pair["en"] if lang() == "en" else pair["zh"]


def link(endpoint: str, **values: Any) -> str:
    if lang() == "en":
        values["lang"] = "en"
    return url_for(endpoint, **values)


# A page answering a form post switches language on the page the form belongs to.
PAGE_OF = {
    "public_web.report_post": "public_web.report",
    "public_web.track_post": "public_web.track",
    "public_web.review_request": "public_web.status",
    "public_web.re_review_request": "public_web.status",
    "public_web.evaluation": "public_web.status",
    "public_web.leave": "public_web.track",
}


def other_language() -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    if lang() == "zh":
        args["lang"] = "en"
    endpoint = request.endpoint or "public_web.report"
    if request.method != "GET":
        endpoint = PAGE_OF.get(endpoint, "public_web.report")
    return url_for(endpoint, **(request.view_args or {}), **args)


def when(iso_text: str | None) -> str:
    """An ISO instant as a Beijing date and time for people."""
    if not iso_text:
        return ""
    moment = datetime.fromisoformat(iso_text).astimezone(CHINA)
    if lang() == "en":
        return moment.strftime("%Y-%m-%d %H:%M") + " (Beijing)"
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "t": t,
        "words": words,
        "link": link,
        "lang": lang,
        "when": when,
        "other_language": other_language,
        "csrf_token": csrf_token,
        "csp_nonce": g.get("csp_nonce", ""),
    }


# ------------------------------------------------------------ hooks


@bp.before_request
def prepare() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)
    if not current_app.secret_key:
        abort(503, description=t("no_secret"))
    if request.content_length is not None and request.content_length > MAX_FORM:
        abort(413)
    limit_this_request()
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get(CSRF_KEY, "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, description=t("bad_form"))


@bp.after_request
def headers(response):
    nonce = g.get("csp_nonce", "")
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(status: int, message: str, headers: dict[str, str] | None = None):
    body = render_template("public/error.html", status=status, message=message)
    return body, status, headers or {}


@bp.errorhandler(RateLimited)
def _rate_limited(err: RateLimited):
    return error_page(429, t("too_many"), {"Retry-After": str(err.retry_after)})


@bp.errorhandler(IntakeUnavailable)
def _unavailable(err: IntakeUnavailable):
    return error_page(503, t("unavailable"), {"Retry-After": "60"})


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    message = err.description if err.code in (400, 503) else t("error")
    return error_page(err.code or 500, message)


# ------------------------------------------------------------ report


def _client() -> str:
    """The submitter, for the double-submission check: this browser session."""
    client = session.get(CLIENT_KEY)
    if not client:
        client = session[CLIENT_KEY] = secrets.token_urlsafe(16)
    return f"session:{client}"


def _regions() -> list[tuple[str, str]]:
    return [(code, full_name(code) or name) for code, name in sorted(NAMES.items())]


def _report_form(values: dict[str, str], problems: Problems | None, status: int = 200, **extra):
    fields = problems.fields(lang()) if problems else {}
    body = render_template(
        "public/report.html",
        values=values,
        errors=fields,
        categories=[(code, words_pair(code)) for code in CATEGORY_NAMES],
        regions=_regions(),
        nonce=extra.pop("nonce", None) or secrets.token_urlsafe(16),
        **extra,
    )
    return body, status


def words_pair(code: str) -> str:
    zh, en = CATEGORY_NAMES[code]
    return en if lang() == "en" else zh


@bp.get("/report")
def report():
    return _report_form({"identity": "anonymous"}, None)


def _coordinate(raw: str, name: str, problems: Problems) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    value = decimal_number(raw)
    if value is None:
        problems.add(f"location.{name}", "应为数字", "must be a number")
    return value


@bp.post("/report")
def report_post():
    form = request.form
    values = {k: form.get(k, "") for k in form if k not in ("csrf_token",)}
    nonce = form.get("nonce", "")[:100]
    early = Problems()
    anonymous = form.get("identity", "anonymous") != "real_name"
    body: dict[str, Any] = {
        "channel": "web",
        "category": form.get("category") or None,
        "title": form.get("title") or None,
        "description": form.get("description") or None,
        "location": {
            "region_code": form.get("region_code") or None,
            "address": form.get("address") or None,
            "lat": _coordinate(form.get("lat", ""), "lat", early),
            "lon": _coordinate(form.get("lon", ""), "lon", early),
        },
        "respondent": form.get("respondent") or None,
        "requested_outcome": form.get("requested_outcome") or None,
        "urgent": form.get("urgent") == "1",
        "addressed_to_leader": form.get("addressed_to_leader") == "1",
        "written_reply": form.get("written_reply") == "1",
        "reward_interest": form.get("reward_interest") == "1",
        "complainant": {
            "anonymous": anonymous,
            "name": form.get("name") or None,
            "phone": form.get("phone") or None,
            "email": form.get("email") or None,
            "address": form.get("contact_address") or None,
        },
    }
    problems = Problems()
    try:
        submission = check_submission(body)
    except ApiError as err:
        submission = None
        problems = problems_of(err) or problems
    for name, found in early.items.items():  # the form's own, told beside the others
        for zh, en in found:
            problems.add(name, zh, en)
    if submission is None or problems:
        return _report_form(values, problems, 422, nonce=nonce, notice=t("errors"))
    try:
        receipt = the_desk().submit(
            submission,
            actor=WEB_ACTOR,
            client=_client(),
            idempotency_key=f"form:{nonce}" if nonce else None,
        )
    except ApiError as err:
        if err.error == "idempotency_key_reused":
            return _report_form(values, None, 409, notice=t("resubmitted"))
        if err.error == "submission_in_progress":
            return error_page(409, t("in_progress"), err.headers)
        raise
    session[RECEIPT_KEY] = {
        "tracking_number": receipt.tracking_number,
        "access_token": receipt.access_token,
        "status_text": words(status_words(receipt.status)),
    }
    return redirect(link("public_web.report_done"), code=303)


@bp.get("/report/done")
def report_done():
    """Shows the number and the access code once: they leave the session as the page is made."""
    receipt = session.pop(RECEIPT_KEY, None)
    return render_template("public/done.html", receipt=receipt)


# ------------------------------------------------------------ track


@bp.get("/track")
def track():
    return render_template("public/track.html", number="", error=None)


@bp.post("/track")
def track_post():
    number = normal_number(request.form.get("tracking_number"))
    token = request.form.get("access_token", "").strip()
    if not the_desk().authorize(number, token):
        body = render_template("public/track.html", number=number[:40], error=t("not_found"))
        return body, 404
    session[TRACK_KEY] = {"number": number, "until": int(time.time()) + TRACK_SECONDS}
    return redirect(link("public_web.status"), code=303)


def _tracked() -> str | None:
    """The complaint this browser opened, for 30 minutes after its last page."""
    found = session.get(TRACK_KEY)
    if not isinstance(found, dict) or found.get("until", 0) < time.time():
        session.pop(TRACK_KEY, None)
        return None
    session[TRACK_KEY] = {**found, "until": int(time.time()) + TRACK_SECONDS}
    return found.get("number")


def _status_page(number: str, status: int = 200, **extra):
    try:
        view = the_desk().view(number)
    except NotFound:
        session.pop(TRACK_KEY, None)
        return redirect(link("public_web.track"), code=303)
    flash = session.pop(FLASH_KEY, None)
    body = render_template("public/status.html", view=view, flash=flash, **extra)
    return body, status


@bp.get("/track/status")
def status():
    number = _tracked()
    if number is None:
        return render_template("public/track.html", number="", error=t("session_expired"))
    return _status_page(number)


def _act(action: str):
    number = _tracked()
    if number is None:
        return render_template("public/track.html", number="", error=t("session_expired"))
    if action == "evaluation":
        fields = {"satisfaction": request.form.get("satisfaction") or None}
        fields["comment"] = request.form.get("comment") or None
    else:
        fields = {"reason": request.form.get("reason") or None}
    try:
        checked = check_request(action, fields)
    except ApiError as err:
        problems = problems_of(err) or Problems()
        return _status_page(number, 422, form_errors={action: problems.fields(lang())})
    try:
        the_desk().request(number, action, checked, actor=WEB_ACTOR, client=_client())
    except Refused as refused:
        message = refused.refusal.en if lang() == "en" else refused.refusal.zh
        return _status_page(number, 409, refusal=message)
    session[FLASH_KEY] = action
    return redirect(link("public_web.status"), code=303)


@bp.post("/track/review-request")
def review_request():
    return _act("review_request")


@bp.post("/track/re-review-request")
def re_review_request():
    return _act("re_review_request")


@bp.post("/track/evaluation")
def evaluation():
    return _act("evaluation")


@bp.post("/track/leave")
def leave():
    session.pop(TRACK_KEY, None)
    return redirect(link("public_web.track"), code=303)
