"""Statistics as web pages: `/admin/stats` (staff: petition_office, leaders, admins) with charts
drawn on the server as inline SVG and the figures' tables, `/admin/stats.csv` for a signed-in
browser, and the public `/disclosure` page of the approved monthly publications (counts only:
no identity, no respondent, no free text). Chinese by default, `?lang=en` for English.

The staff page accepts the staff session of the web UI (its token under `SESSION_TOKEN_KEY`)
or a bearer token; without either it sends the browser to the sign-in page when the app has
one (`web.login`), else answers 401."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from handlers.complaints import CATEGORIES, CHANNELS
from handlers.publication import published_disclosures

from . import stats_labels
from .json_api import the_accounts
from .stats_api import compute, csv_text, may_read_statistics, parse_filters, snapshot
from .stats_svg import bar_chart, line_chart

bp = Blueprint("stats_web", __name__)

SESSION_TOKEN_KEY = "staff_token"  # where api.web keeps the signed-in staff member's token
SESSION_LANGUAGE_KEY = "lang"
LOGIN_ENDPOINT = "web.login"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
TOP_REGIONS_CHARTED = 15

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "stats_title": "信访投诉统计分析",
        "disclosure_title": "生态环境信访投诉办理情况公开",
        "from": "起始日期",
        "to": "截止日期",
        "region": "行政区划代码前缀",
        "category": "污染类型",
        "channel": "渠道",
        "all": "全部",
        "apply": "查询",
        "csv": "下载CSV",
        "received": "受理登记",
        "closed": "办结",
        "closed_rate": "办结率",
        "avg_days": "平均办结天数",
        "p90_days": "办结天数（90%分位）",
        "on_time_rate": "按期办结率",
        "overdue_now": "当前超期",
        "repeat_rate": "重复信访率",
        "satisfaction_rate": "满意率",
        "review_rate": "复查率",
        "re_review_rate": "复核率",
        "monthly": "按月受理与办结",
        "by_channel": "按渠道",
        "by_region": "按地区",
        "by_category": "按污染类型",
        "by_track": "按办理途径",
        "by_status": "按状态",
        "satisfaction": "满意度评价",
        "top_respondents": "被投诉较多的对象（前20）",
        "respondent": "被投诉对象",
        "reviews": "复查复核",
        "opinions": "出具处理意见",
        "reviewed": "复查",
        "re_reviewed": "复核",
        "in_review_now": "正在复查复核",
        "review_outcomes": "复查结论",
        "re_review_outcomes": "复核结论",
        "on_time_by_track": "按办理途径的按期办结",
        "with_deadline": "有期限的办结件",
        "on_time": "按期办结",
        "item": "项目",
        "count": "件数",
        "rate": "占比",
        "avg_days_short": "平均天数",
        "definitions": "口径说明",
        "no_data": "无数据",
        "month": "月份",
        "invalid": "查询条件有误",
        "period": "{year}年{month}月",
        "total_received": "本月受理",
        "total_closed": "本月办结",
        "handling_results": "办理情况",
        "no_publication": "暂无已批准公开的月度数据。",
        "disclosure_note": "本页仅公开数量统计，不公开任何个人信息、被投诉对象或投诉内容。",
        "other_language": "English",
    },
    "en": {
        "stats_title": "Complaint statistics",
        "disclosure_title": "Environmental complaints: monthly handling results",
        "from": "From",
        "to": "To",
        "region": "Region code prefix",
        "category": "Pollutant",
        "channel": "Channel",
        "all": "All",
        "apply": "Apply",
        "csv": "Download CSV",
        "received": "Received",
        "closed": "Closed",
        "closed_rate": "Closed rate",
        "avg_days": "Average days to close",
        "p90_days": "Days to close (90th percentile)",
        "on_time_rate": "Closed on time",
        "overdue_now": "Overdue now",
        "repeat_rate": "Repeat rate",
        "satisfaction_rate": "Satisfaction rate",
        "review_rate": "Review rate",
        "re_review_rate": "Re-review rate",
        "monthly": "Received and closed by month",
        "by_channel": "By channel",
        "by_region": "By region",
        "by_category": "By pollutant",
        "by_track": "By track",
        "by_status": "By status",
        "satisfaction": "Satisfaction",
        "top_respondents": "Most complained-about (top 20)",
        "respondent": "Respondent",
        "reviews": "Review and re-review",
        "opinions": "Written opinions",
        "reviewed": "Reviewed",
        "re_reviewed": "Re-reviewed",
        "in_review_now": "In review now",
        "review_outcomes": "Review outcomes",
        "re_review_outcomes": "Re-review outcomes",
        "on_time_by_track": "Closed on time by track",
        "with_deadline": "Closed with a deadline",
        "on_time": "On time",
        "item": "Item",
        "count": "Count",
        "rate": "Share",
        "avg_days_short": "Avg. days",
        "definitions": "Definitions",
        "no_data": "No data",
        "month": "Month",
        "invalid": "Invalid filter",
        "period": "{month_name} {year}",
        "total_received": "Received this month",
        "total_closed": "Closed this month",
        "handling_results": "Handling results",
        "no_publication": "No monthly figures have been approved for publication yet.",
        "disclosure_note": "Counts only: no personal data, no respondent and no complaint text "
        "is published here.",
        "other_language": "中文",
    },
}
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip


def _language() -> str:
    asked = request.args.get("lang")
    if asked in stats_labels.LANGUAGES:
        return asked
    return stats_labels.language(session.get(SESSION_LANGUAGE_KEY))


def _other_language_url(lang: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = ["en" if lang == "zh" else "zh"]
    return url_for(request.endpoint, **args)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _headers(response: Response, *, public: bool) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "public, max-age=300" if public else "no-store")
    return response


# ------------------------------------------------------------ who may see the staff page


def _signed_in() -> Any:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return the_accounts().authenticate(token.strip())
    token = session.get(SESSION_TOKEN_KEY)
    if isinstance(token, str) and token:
        return the_accounts().authenticate(token)
    return None


def _staff_page_guard() -> Response | None:
    account = _signed_in()
    if account is None:
        if LOGIN_ENDPOINT in current_app.view_functions and "Authorization" not in request.headers:
            return redirect(url_for(LOGIN_ENDPOINT, next=request.full_path.rstrip("?")))
        return _plain(401, "Sign in to see the statistics. 请先登录。")
    if not may_read_statistics(account):
        return _plain(403, "The statistics are for petition_office, leaders and admins. 无权查看。")
    g.account = account
    return None


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="complaints"'
    return _headers(response, public=False)


# ------------------------------------------------------------ the staff page


@bp.get("/admin/stats")
def admin_stats():
    refused = _staff_page_guard()
    if refused is not None:
        return refused
    lang = _language()
    text = TEXT[lang]
    filters, problems = parse_filters(request.args)
    figures = None if problems else compute(filters)
    charts = _charts(figures, lang) if figures else {}
    html = render_template(
        "stats/admin.html",
        lang=lang,
        t=text,
        args=request.args,
        problems=problems,
        figures=figures,
        charts=charts,
        categories=[(c, stats_labels.label("category", c, lang)) for c in sorted(CATEGORIES)],
        channels=[(c, stats_labels.label("channel", c, lang)) for c in sorted(CHANNELS)],
        label=lambda dim, code: stats_labels.label(dim, code, lang),
        percent=percent,
        number=number,
        csv_url=url_for("stats_web.admin_stats_csv", **request.args.to_dict()),
        other_language_url=_other_language_url(lang),
    )
    return _headers(Response(html, status=422 if problems else 200), public=False)


@bp.get("/admin/stats.csv")
def admin_stats_csv():
    refused = _staff_page_guard()
    if refused is not None:
        return refused
    filters, problems = parse_filters(request.args)
    if problems:
        return _plain(422, "; ".join(f"{k}: {v[0]}" for k, v in problems.items()))
    figures = compute(filters)
    stamp = figures["generated_at"][:10].replace("-", "")
    response = Response(
        "\ufeff" + csv_text(figures),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="complaint-statistics-{stamp}.csv"'},
    )
    return _headers(response, public=False)


def _charts(figures: dict[str, Any], lang: str) -> dict[str, Markup]:
    text = TEXT[lang]
    empty = text["no_data"]

    def bars(section: str, dimension: str, limit: int | None = None) -> Markup:
        rows = figures[section][:limit] if limit else figures[section]
        items = [(stats_labels.label(dimension, r["key"], lang), r["count"]) for r in rows]
        return bar_chart(items, title=text[section], empty_text=empty)

    monthly = figures["monthly"]
    return {
        "monthly": line_chart(
            [row["month"] for row in monthly],
            [
                (text["received"], [row["received"] for row in monthly]),
                (text["closed"], [row["closed"] for row in monthly]),
            ],
            title=text["monthly"],
            empty_text=empty,
        ),
        "by_channel": bars("by_channel", "channel"),
        "by_region": bars("by_region", "region", TOP_REGIONS_CHARTED),
        "by_category": bars("by_category", "category"),
        "by_track": bars("by_track", "track"),
        "by_status": bars("by_status", "status"),
        "satisfaction": bars("satisfaction", "satisfaction"),
    }


# ------------------------------------------------------------ the public page


@bp.get("/disclosure")
def disclosure():
    lang = _language()
    text = TEXT[lang]
    with snapshot() as connection:
        records = published_disclosures(connection)
    periods = []
    for record in records:
        year, month = (int(part) for part in record["period"].split("-"))
        title = text["period"].format(year=year, month=month, month_name=MONTH_NAMES[month - 1])
        periods.append(
            {
                "title": title,
                "total": record["total"],
                "closed": record["closed"],
                "sections": [
                    (text[name], _named(record[key], dimension, lang))
                    for name, key, dimension in (
                        ("by_category", "by_category", "category"),
                        ("by_region", "by_region", "region"),
                        ("handling_results", "by_status", "status"),
                    )
                ],
                "chart": bar_chart(
                    [
                        (stats_labels.label("category", k, lang), v)
                        for k, v in record["by_category"].items()
                    ],
                    title=f"{title} {text['by_category']}",
                    empty_text=text["no_data"],
                ),
            }
        )
    html = render_template(
        "stats/disclosure.html",
        lang=lang,
        t=text,
        periods=periods,
        other_language_url=_other_language_url(lang),
    )
    return _headers(Response(html), public=True)


def _named(counts: dict[str, int], dimension: str, lang: str) -> list[tuple[str, int]]:
    return [
        (stats_labels.label(dimension, None if k == "unknown" else k, lang), v)
        for k, v in counts.items()
    ]


@bp.get("/stats.css")
def stylesheet():
    css = render_template("stats/stats.css")
    return _headers(Response(css, mimetype="text/css"), public=True)
