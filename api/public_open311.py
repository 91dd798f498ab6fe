"""Open311 GeoReport v2 at `/open311/v2/`: the complaint categories as services (with a service
definition asking for the region code), creating requests with an API key, and querying them.
XML (required by the spec) and JSON; ids and codes are always strings; one jurisdiction, so
`jurisdiction_id` is accepted and ignored. A request shows status, dates, place and the agency
in charge, never the complainant, the complaint text or the party complained about."""

from __future__ import annotations

import hmac
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from engine import Actor, EngineError
from handlers.intake import PENDING, Intake, digest
from handlers.models import Complaint
from handlers.regions import NAMES, full_name
from handlers.times import CHINA, OUT_OF_CALENDAR, within_calendar

from .json_api import ApiError
from .public_limits import RateLimited, limit_this_request
from .public_service import (
    CATEGORY_NAMES,
    CLOSED_STATUSES,
    MAX_DESCRIPTION,
    IntakeUnavailable,
    agency_words,
    check_idempotency_key,
    check_submission,
    normal_number,
    open311_status,
    problems_of,
    status_words,
    the_desk,
)
from .request_numbers import decimal_number

bp = Blueprint("public_open311", __name__, url_prefix="/open311/v2")

FORMATS = ("xml", "json")
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 100
MAX_BODY = 64 * 1024
CHANNEL = "platform"  # an Open311 client is an online platform relaying its users' reports

KEYWORDS = {
    "air": "废气,烟尘,异味,扬尘,air,smoke,odour,dust",
    "water": "污水,排污,黑臭水体,water,sewage,discharge",
    "noise": "噪声,噪音,施工噪声,noise",
    "soil": "土壤,污染地块,soil,contaminated land",
    "solid_waste": "垃圾,固体废物,危险废物,waste,garbage,hazardous waste",
    "radiation": "辐射,电磁,radiation,electromagnetic",
    "ecology": "生态,自然保护区,砍伐,ecology,habitat,nature reserve",
    "other": "其他,other",
}

# Where our names differ from Open311's parameters, errors name the parameter the client sent.
PARAMETERS = {
    "location.region_code": "attribute[region_code]",
    "location.address": "address_string",
    "location.lat": "lat",
    "location.lon": "long",
    "respondent": "attribute[respondent]",
    "title": "attribute[title]",
    "complainant.name": "first_name/last_name",
    "complainant.phone": "phone",
    "complainant.email": "email",
    "complainant.anonymous": "first_name/last_name",
    "category": "service_code",
}


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions


# ------------------------------------------------------------ rendering


def _format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    return fmt if fmt in FORMATS else "xml"


def _element(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, list):
        # Spark convention: a list is the plural element holding one element per item.
        singular = {"attributes": "attribute", "values": "value"}[name]
        for item in value:
            _fill(ET.SubElement(child, singular), item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def _fill(node: ET.Element, item: Mapping[str, Any]) -> None:
    for name, value in item.items():
        _element(node, name, value)


def render(root: str, item_name: str | None, payload: Any, status: int = 200) -> Response:
    """`payload` is a list of objects (wrapped as root > item in XML) or one object (root)."""
    if _format() == "json":
        text = json.dumps(payload, ensure_ascii=False)
        return Response(text, status, content_type="application/json; charset=utf-8")
    node = ET.Element(root)
    if item_name is None:
        _fill(node, payload)
    else:
        for item in payload:
            _fill(ET.SubElement(node, item_name), item)
    ET.indent(node)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(node, encoding="unicode")
    return Response(text.encode(), status, content_type="text/xml; charset=utf-8")


def error_response(status: int, descriptions: Iterable[str], headers=None) -> Response:
    items = [{"code": str(status), "description": d} for d in descriptions]
    response = render("errors", "error", items, status)
    response.headers.update(headers or {})
    return response


@bp.errorhandler(Open311Error)
def _open311_error(err: Open311Error):
    return error_response(err.status, err.descriptions)


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    descriptions = [
        f"{PARAMETERS.get(name, name)}: {message}"
        for name, messages in err.fields.items()
        for message in messages
    ] or [err.message]
    status = 400 if err.status == 422 else err.status
    return error_response(status, descriptions, err.headers)


@bp.errorhandler(RateLimited)
def _rate_limited(err: RateLimited):
    return error_response(
        429,
        [f"too many requests from this address; retry in {err.retry_after} s"],
        {"Retry-After": str(err.retry_after)},
    )


@bp.errorhandler(IntakeUnavailable)
def _unavailable(err: IntakeUnavailable):
    return error_response(503, ["the request could not be registered; nothing was kept"])


@bp.errorhandler(EngineError)
def _engine_error(err: EngineError):
    return error_response(400, [err.message])


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    return error_response(err.code or 400, [err.description or err.name])


# ------------------------------------------------------------ hooks


@bp.before_request
def check_format_key_and_limit() -> None:
    """Format first (so errors can be answered in it), then: a POST needs a valid API key and
    is not counted; everything else is counted against the client address."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt is not None and fmt not in FORMATS:
        raise Open311Error(400, f"format must be xml or json, not '{fmt}'")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Open311Error(413, f"the request may have at most {MAX_BODY} bytes")
    g.open311_key = None
    if request.method == "POST":
        key = request.values.get("api_key", "")
        g.open311_key = _known_key(key)
        if g.open311_key is None:
            raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request")
        return
    limit_this_request()


def _known_key(presented: str) -> str | None:
    keys = current_app.extensions["complaints.settings"].open311_keys
    found = None
    for key in keys:  # compare with every key, so the time says nothing about which matched
        if hmac.compare_digest(presented.encode(), key.encode()) and presented:
            found = key
    return found


# ------------------------------------------------------------ services


def service_json(code: str) -> dict[str, Any]:
    zh, en = CATEGORY_NAMES[code]
    return {
        "service_code": code,
        "service_name": f"{zh} {en}",
        "description": f"{zh}问题的投诉举报 / Complaints about {en.lower()}",
        "metadata": True,
        "type": "realtime",
        "keywords": KEYWORDS[code],
        "group": "生态环境 environment",
    }


def definition_json(code: str) -> dict[str, Any]:
    regions = [{"key": c, "name": full_name(c) or name} for c, name in sorted(NAMES.items())]
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "region_code",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": "行政区划代码 GB/T 2260 administrative division code",
                "order": 1,
                "description": "问题发生地所在的县（市、区） The district where it happens",
                "values": regions,
            },
            {
                "variable": True,
                "code": "respondent",
                "datatype": "string",
                "required": False,
                "datatype_description": "单位名称 Name of the enterprise or unit",
                "order": 2,
                "description": "被投诉的单位（可不填） The enterprise or unit complained about",
            },
            {
                "variable": True,
                "code": "title",
                "datatype": "string",
                "required": False,
                "datatype_description": "不超过300字 At most 300 characters",
                "order": 3,
                "description": "标题（可不填） A short summary",
            },
        ],
    }


@bp.get("/services.<fmt>")
def services(fmt: str):
    return render("services", "service", [service_json(code) for code in CATEGORY_NAMES])


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    if code not in CATEGORY_NAMES:
        raise Open311Error(404, f"service_code '{code}' not found")
    return render("service_definition", None, definition_json(code))


# ------------------------------------------------------------ requests


def _chinese(moment: datetime | None) -> str | None:
    """W3C date-time with the offset written out, in Beijing time (the jurisdiction's)."""
    return None if moment is None else moment.astimezone(CHINA).isoformat(timespec="seconds")


def request_json(row: Complaint) -> dict[str, Any]:
    """Only what the public may see (ARCHITECTURE: identity never leaves the staff side; the
    description can identify its author, so it is left out too)."""
    status = open311_status(row.status)
    zh, en = CATEGORY_NAMES.get(row.category, (row.category, row.category))
    words = status_words(row.status)
    agency = agency_words(row.owner_group)
    updated = row.closed_at if status == "closed" and row.closed_at else row.updated_at
    return {
        "service_request_id": row.tracking_number,
        "status": status,
        "status_notes": f"{words['zh']} / {words['en']}",
        "service_name": f"{zh} {en}",
        "service_code": row.category,
        "agency_responsible": f"{agency['zh']} / {agency['en']}" if agency else None,
        "requested_datetime": _chinese(row.created_at),
        "updated_datetime": _chinese(updated),
        "expected_datetime": _chinese(row.deadline_at),
        "address": row.address,
        "lat": row.lat,
        "long": row.lon,
    }


def _visible():
    """Complaints whose process has started (an intake still pending may yet be undone)."""
    pending = select(Intake.tracking_number).where(Intake.status == PENDING)
    return select(Complaint).where(Complaint.tracking_number.not_in(pending))


def _session() -> Session:
    return Session(current_app.extensions["complaints.engine"].sql)


def _listed(name: str) -> list[str]:
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def _instant(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C date-time, e.g. 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name} must carry a time zone (Z or +08:00)")
    if not within_calendar(moment):  # the 90-day span and the SQL bind must stay in range
        raise Open311Error(400, f"{name} {OUT_OF_CALENDAR}")
    return moment


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    """Filters as in the spec: `service_request_id` (comma list, overrides the rest),
    `service_code`, `start_date`/`end_date` (default and at most 90 days), `status`."""
    query = _visible()
    ids = _listed("service_request_id")
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values")
        query = query.where(Complaint.tracking_number.in_([normal_number(i) for i in ids]))
    else:
        start, end = _instant("start_date"), _instant("end_date")
        now = current_app.extensions["complaints.engine"].clock.now()
        if start is None and end is None:
            end, start = now, now - MAX_SPAN
        elif start is None:
            start = end - MAX_SPAN
        elif end is None:
            end = start + MAX_SPAN
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
        query = query.where(Complaint.created_at >= start, Complaint.created_at <= end)
        codes = _listed("service_code")
        if codes:
            query = query.where(Complaint.category.in_(codes))
        statuses = set(_listed("status"))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed (comma-separated)")
        if statuses == {"open"}:
            query = query.where(Complaint.status.not_in(sorted(CLOSED_STATUSES)))
        elif statuses == {"closed"}:
            query = query.where(Complaint.status.in_(sorted(CLOSED_STATUSES)))
    query = query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(MAX_RESULTS)
    with _session() as session:
        rows = list(session.scalars(query))
    return render("service_requests", "request", [request_json(r) for r in rows])


@bp.get("/requests/<request_id>.<fmt>")
def show_request(request_id: str, fmt: str):
    number = normal_number(request_id)
    with _session() as session:
        row = session.scalar(_visible().where(Complaint.tracking_number == number))
    if row is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    return render("service_requests", "request", [request_json(row)])


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    """Form-encoded as in the spec: service_code, lat/long or address_string, description,
    email, first_name, last_name, phone, attribute[region_code] (required, see the service
    definition), attribute[respondent], attribute[title]. address_id, device_id, account_id and
    media_url are not used (no address register, accounts or media here)."""
    values = request.values
    code = values.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    if code not in CATEGORY_NAMES:
        raise Open311Error(404, f"service_code '{code}' not found")
    lat, lon = _coordinate(values, "lat", -90, 90), _coordinate(values, "long", -180, 180)
    address = values.get("address_string", "").strip() or None
    if address is None and (lat is None or lon is None):
        raise Open311Error(
            400,
            "a location is required: lat and long, or address_string "
            "(address_id is not supported: there is no address register)",
        )
    if len(values.get("description", "")) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description: at most {MAX_DESCRIPTION} characters")
    body = {
        "channel": CHANNEL,
        "category": code,
        "title": values.get("attribute[title]") or None,
        "description": values.get("description") or None,
        "location": {
            "region_code": values.get("attribute[region_code]") or None,
            "address": address,
            "lat": lat,
            "lon": lon,
        },
        "respondent": values.get("attribute[respondent]") or None,
        "complainant": _complainant(values),
    }
    try:
        submission = check_submission(body)
    except ApiError as err:
        problems = problems_of(err)
        raise Open311Error(
            400,
            *[
                f"{PARAMETERS.get(name, name)}: {message}"
                for name, messages in (problems.fields("en") if problems else err.fields).items()
                for message in messages
            ],
        ) from None
    key_id = digest(g.open311_key)[:12]
    receipt = the_desk().submit(
        submission,
        actor=Actor(f"open311:{key_id}"),
        client=f"open311:{key_id}",
        idempotency_key=check_idempotency_key(request.headers.get("Idempotency-Key")),
    )
    notice = (
        f"已登记，编号{receipt.tracking_number}，查询码{receipt.access_token}。请凭编号和查询码在"
        "“投诉查询”页面（/track）查询办理进度、申请复查和评价；查询码不会再次显示。"
        f" / Registered as {receipt.tracking_number}; access code {receipt.access_token}. "
        "Use both on the tracking page (/track) to follow the matter, request review and "
        "evaluate; the access code is not shown again."
    )
    item = {"service_request_id": receipt.tracking_number, "service_notice": notice}
    response = render("service_requests", "request", [item])
    response.headers["Cache-Control"] = "no-store"
    return response


def _coordinate(values: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    raw = values.get(name, "").strip()
    if not raw:
        return None
    value = decimal_number(raw)
    if value is None:
        raise Open311Error(400, f"{name} must be a number")
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low} and {high}")
    return value


def _complainant(values: Mapping[str, str]) -> dict[str, Any] | None:
    first = values.get("first_name", "").strip()
    last = values.get("last_name", "").strip()
    phone = values.get("phone", "").strip() or None
    email = values.get("email", "").strip() or None
    if not (first or last or phone or email):
        return None
    # Chinese names are written family name first and without a space.
    cjk = any("\u4e00" <= c <= "\u9fff" for c in first + last)
    name = (last + first) if cjk else " ".join(p for p in (first, last) if p)
    return {"anonymous": not name, "name": name or None, "phone": phone, "email": email}
