"""The complainant's side of a complaint, shared by the JSON API, the public pages and Open311:
checking a submission, registering it and starting its process so that a failure leaves nothing
behind, the public view (status in plain words, notices as a timeline, deadline), and requests
for review, re-review and evaluation with every refusal explained."""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine import Actor, Conflict, Engine, EngineError, NotFound
from handlers.complaint_rows import complaint_row
from handlers.complaints import CATEGORIES, CHANNELS, SATISFACTION
from handlers.intake import (
    STARTED,
    Intake,
    IntakeContext,
    digest,
    discard_intake,
    intake_by_key,
    mark_started,
    pending_intakes,
    record_intake,
    record_public_action,
    replace_token,
    stored_token_hash,
)
from handlers.models import Complaint, Notice
from handlers.notice_templates import CHANNEL_NAMES
from handlers.notices import notify_complainant
from handlers.regions import full_name

from .json_api import ApiError, iso

PROCESS_ID = "complaint"
STAFF_CHANNELS = CHANNELS - {"web"}
ABANDONED_AFTER = timedelta(minutes=10)
# An intake is abandoned only after ABANDONED_AFTER, so looking for them once a minute finds
# them soon enough; looking on every submission cost each one a transaction more.
SWEEP_EVERY = timedelta(minutes=1)

MAX_TITLE = 300
MAX_DESCRIPTION = 4000  # Open311's limit for a description, and plenty for a complaint
MAX_ADDRESS = 500
MAX_RESPONDENT = 300
MAX_OUTCOME = 2000
MAX_NAME = 100
MAX_EMAIL = 254
MAX_REASON = 2000
MAX_IDEMPOTENCY_KEY = 200
MAX_TRACKING_NUMBER = 40

_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,28}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REGION = re.compile(r"[0-9]{6}")
_KEY = re.compile(r"[\x21-\x7e]+")

# ------------------------------------------------------------ words for the public

CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "air": ("大气污染", "Air pollution"),
    "water": ("水污染", "Water pollution"),
    "noise": ("噪声污染", "Noise"),
    "soil": ("土壤污染", "Soil pollution"),
    "solid_waste": ("固体废物", "Solid waste"),
    "radiation": ("辐射", "Radiation"),
    "ecology": ("生态破坏", "Ecological damage"),
    "other": ("其他", "Other"),
}

CHANNEL_NAMES_EN = {
    "web": "website",
    "hotline": "12369 hotline",
    "letter": "letter",
    "visit": "visit",
    "email": "e-mail",
    "wechat": "WeChat",
    "weibo": "Weibo",
    "mailbox": "leader's mailbox",
    "platform": "national complaint platform",
}

STATUS_WORDS: dict[str, tuple[str, str]] = {
    "registered": ("已登记，正在审查分流", "Registered; being examined and routed"),
    "routed": ("已审查分流", "Examined and routed"),
    "transferred": (
        "已转送属地生态环境部门办理",
        "Transferred to the local environment bureau, which now handles it",
    ),
    "diverted": (
        "已告知通过法定途径解决，不作为信访事项办理",
        "You were told which legal procedure to use; it is not handled as a petition",
    ),
    "accepted": ("已受理，正在办理", "Accepted; being handled"),
    "investigating": ("正在调查核实", "Being investigated"),
    "extended": ("已延长办理期限", "The handling period was extended"),
    "replied": ("已作出答复", "Answered"),
    "in_review": ("复查（复核）中", "Under review by a higher authority"),
    "final": ("已办理终结", "Final: concluded after review"),
    "closed": ("已办结", "Closed"),
    "merged": (
        "已与此前反映的同一事项合并办理",
        "Merged with an earlier report of the same matter",
    ),
    "forwarded": ("已移送纪检监察机关", "Forwarded to discipline inspection"),
}

CLOSED_STATUSES = frozenset({"closed", "final", "diverted", "merged"})

AGENCIES: dict[str, tuple[str, str]] = {
    "petition_office": ("生态环境部门信访工作机构", "Environmental complaints office"),
    "enforcement": ("生态环境综合执法机构", "Environmental enforcement"),
    "inspection_team": ("生态环境保护督察机构", "Environmental inspection team"),
    "discipline": ("纪检监察机关", "Discipline inspection"),
    "leader": ("生态环境部门负责人", "Head of the environment department"),
}

# The public actions, their messages in the process and the timers that close their windows.
# Names are element ids of processes/complaint.bpmn and petition.bpmn: the engine files the
# timer of an event-based gateway under the gateway's id, so both ids are listed. While such a
# timer is pending, the process waits for the message.
ACTIONS: dict[str, str] = {
    "review_request": "review_requested",
    "re_review_request": "re_review_requested",
    "evaluation": "evaluation_submitted",
}
WINDOW_TIMERS: dict[str, str] = {
    "await_review_request": "review_request",
    "review_window_lapsed": "review_request",
    "await_re_review_request": "re_review_request",
    "re_review_window_lapsed": "re_review_request",
    "await_evaluation": "evaluation",
    "evaluation_lapsed": "evaluation",
}
REQUEST_NAMES = {"review_request": "复查申请", "re_review_request": "复核请求"}


def words(pair: tuple[str, str]) -> dict[str, str]:
    return {"zh": pair[0], "en": pair[1]}


def status_words(status: str) -> dict[str, str]:
    return words(STATUS_WORDS.get(status, (status, status)))


def agency_words(group: str | None) -> dict[str, str] | None:
    if not group:
        return None
    if group.startswith("bureau:"):
        code = group.split(":", 1)[1]
        place = full_name(code) or code
        return {"zh": f"{place}生态环境部门", "en": f"Environment bureau of region {code}"}
    return words(AGENCIES.get(group, (group, group)))


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


# ------------------------------------------------------------ checking input


class Problems:
    """Field errors collected in both languages, so a form can show all of them at once."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[str, str]]] = {}

    def add(self, name: str, zh: str, en: str) -> None:
        self.items.setdefault(name, []).append((zh, en))

    def __bool__(self) -> bool:
        return bool(self.items)

    def fields(self, lang: str = "en") -> dict[str, list[str]]:
        index = 0 if lang == "zh" else 1
        return {name: [m[index] for m in found] for name, found in self.items.items()}

    def error(self) -> ApiError:
        fields = self.fields("en")
        summary = "; ".join(f"{name}: {', '.join(found)}" for name, found in fields.items())
        error = ApiError(422, "invalid_data", summary, fields)
        error.problems = self  # type: ignore[attr-defined]  # the web form shows Chinese too
        return error


def problems_of(error: ApiError) -> Problems | None:
    return getattr(error, "problems", None)


def _text(
    problems: Problems,
    body: Mapping[str, Any],
    key: str,
    limit: int,
    *,
    name: str | None = None,
    required: bool = False,
) -> str | None:
    name = name or key
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(name, "必填", "required")
        return None
    if not isinstance(value, str):
        problems.add(name, "应为文字", "must be text")
        return None
    value = value.strip()
    if len(value) > limit:
        problems.add(name, f"不超过{limit}个字", f"at most {limit} characters")
        return None
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        problems.add(name, "含有不可见的控制字符", "contains control characters")
        return None
    return value


def _flag(problems: Problems, body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    problems.add(key, "应为是或否", "must be true or false")
    return None


def _number(
    problems: Problems, body: Mapping[str, Any], key: str, name: str, low: float, high: float
) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(name, "应为数字", "must be a number")
        return None
    if not low <= value <= high:
        problems.add(name, f"应在{low}到{high}之间", f"must be between {low} and {high}")
        return None
    return float(value)


def _unknown(problems: Problems, body: Mapping[str, Any], allowed: set[str], prefix: str = ""):
    for key in sorted(set(body) - allowed):
        problems.add(f"{prefix}{key}", "不是可以提交的项目", "unknown field")


SUBMISSION_FIELDS = {
    "channel",
    "category",
    "title",
    "description",
    "location",
    "respondent",
    "requested_outcome",
    "urgent",
    "addressed_to_leader",
    "complainant",
    "written_reply",
    "reward_interest",
}
LOCATION_FIELDS = {"region_code", "address", "lat", "lon"}
COMPLAINANT_FIELDS = {"anonymous", "name", "phone", "email", "address"}


@dataclass(frozen=True)
class Submission:
    """A checked complaint: `data` is the process's start data (every key present, None when
    not given); `complainant` goes to `complainant_identities` only, never into the process."""

    data: dict[str, Any]
    complainant: dict[str, Any]

    def fingerprint(self, client: str) -> str:
        canonical = json.dumps(
            {"data": self.data, "complainant": self.complainant, "client": client},
            sort_keys=True,
            ensure_ascii=False,
        )
        return digest(canonical)


def check_submission(body: Mapping[str, Any]) -> Submission:
    """The body of `POST /api/complaints` (ARCHITECTURE.md) or ApiError 422 naming every field
    at fault (nested fields as `location.region_code`)."""
    problems = Problems()
    _unknown(problems, body, SUBMISSION_FIELDS)
    channel = _text(problems, body, "channel", 20, required=True)
    if channel is not None and channel not in CHANNELS:
        problems.add("channel", "不是已知的渠道", f"one of {', '.join(sorted(CHANNELS))}")
    category = _text(problems, body, "category", 20, required=True)
    if category is not None and category not in CATEGORIES:
        problems.add("category", "不是已知的类别", f"one of {', '.join(sorted(CATEGORIES))}")
    data: dict[str, Any] = {
        "channel": channel,
        "category": category,
        "title": _text(problems, body, "title", MAX_TITLE),
        "description": _text(problems, body, "description", MAX_DESCRIPTION, required=True),
        "location": _location(problems, body.get("location")),
        "respondent": _text(problems, body, "respondent", MAX_RESPONDENT),
        "requested_outcome": _text(problems, body, "requested_outcome", MAX_OUTCOME),
        "urgent": _flag(problems, body, "urgent"),
        "addressed_to_leader": _flag(problems, body, "addressed_to_leader"),
        "written_reply": _flag(problems, body, "written_reply"),
        "reward_interest": _flag(problems, body, "reward_interest"),
    }
    complainant = _complainant(problems, body.get("complainant"))
    if problems:
        raise problems.error()
    return Submission(data=data, complainant=complainant)


def _location(problems: Problems, value: Any) -> dict[str, Any]:
    location: dict[str, Any] = dict.fromkeys(("region_code", "address", "lat", "lon"))
    if value is None:
        problems.add("location.region_code", "必填", "required")
        return location
    if not isinstance(value, Mapping):
        problems.add("location", "应为对象", "must be an object")
        return location
    _unknown(problems, value, LOCATION_FIELDS, "location.")
    code = _text(problems, value, "region_code", 6, name="location.region_code", required=True)
    if code is not None and not _REGION.fullmatch(code):
        problems.add(
            "location.region_code",
            "应为6位行政区划代码（GB/T 2260）",
            "a 6-digit administrative division code (GB/T 2260)",
        )
    location["region_code"] = code
    location["address"] = _text(problems, value, "address", MAX_ADDRESS, name="location.address")
    location["lat"] = _number(problems, value, "lat", "location.lat", -90, 90)
    location["lon"] = _number(problems, value, "lon", "location.lon", -180, 180)
    if (location["lat"] is None) != (location["lon"] is None) and not problems.items.get(
        "location.lat"
    ):
        problems.add("location.lat", "经纬度须同时填写", "give both lat and lon, or neither")
    return location


def _complainant(problems: Problems, value: Any) -> dict[str, Any]:
    """Real name: a name and one way to reach the person. Anonymous: no name, contact details
    optional (a phone number for a call back is common and kept confidential all the same)."""
    identity: dict[str, Any] = {
        "anonymous": True,
        "name": None,
        "phone": None,
        "email": None,
        "address": None,
    }
    if value is None:
        return identity
    if not isinstance(value, Mapping):
        problems.add("complainant", "应为对象", "must be an object")
        return identity
    _unknown(problems, value, COMPLAINANT_FIELDS, "complainant.")
    anonymous = value.get("anonymous", False)
    if not isinstance(anonymous, bool):
        problems.add("complainant.anonymous", "应为是或否", "must be true or false")
        anonymous = True
    name = _text(problems, value, "name", MAX_NAME, name="complainant.name")
    phone = _text(problems, value, "phone", 30, name="complainant.phone")
    email = _text(problems, value, "email", MAX_EMAIL, name="complainant.email")
    address = _text(problems, value, "address", MAX_ADDRESS, name="complainant.address")
    if phone is not None and not _PHONE.fullmatch(phone):
        problems.add("complainant.phone", "电话号码格式不正确", "not a phone number")
    if email is not None and not _EMAIL.fullmatch(email):
        problems.add("complainant.email", "电子邮箱格式不正确", "not an e-mail address")
    if anonymous and name:
        problems.add(
            "complainant.name",
            "匿名反映时请不要填写姓名，或改为实名反映",
            "leave the name empty when anonymous, or choose to give your name",
        )
    if not anonymous:
        if not name:
            problems.add("complainant.name", "实名反映须填写姓名", "required when not anonymous")
        if not (phone or email or address):
            problems.add(
                "complainant.phone",
                "实名反映须留下电话、电子邮箱或通信地址之一",
                "give a phone number, e-mail or postal address when not anonymous",
            )
    identity.update(anonymous=anonymous, name=name, phone=phone, email=email, address=address)
    return identity


def check_idempotency_key(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    key = raw.strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or not _KEY.fullmatch(key):
        raise ApiError(
            422,
            "invalid_data",
            f"Idempotency-Key: 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            {"Idempotency-Key": [f"1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters"]},
        )
    return key


def check_request(action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The complainant's part of a message payload (the time is the server's)."""
    problems = Problems()
    if action == "evaluation":
        _unknown(problems, body, {"satisfaction", "comment"})
        satisfaction = _text(problems, body, "satisfaction", 30, required=True)
        if satisfaction is not None and satisfaction not in SATISFACTION:
            problems.add(
                "satisfaction",
                "请选择满意、基本满意或不满意",
                "one of satisfied, basically_satisfied, dissatisfied",
            )
        comment = _text(problems, body, "comment", MAX_REASON)
        if problems:
            raise problems.error()
        return {"satisfaction": satisfaction, "comment": comment or ""}
    _unknown(problems, body, {"reason"})
    reason = _text(problems, body, "reason", MAX_REASON, required=True)
    if problems:
        raise problems.error()
    return {"reason": reason}


# Access tokens are read aloud on the hotline and copied from paper: 25 characters of
# Crockford's base32 (no I, L, O, U) in groups of five, 125 random bits.
TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TOKEN_READ = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_access_token() -> str:
    chars = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(25))
    return "-".join(chars[i : i + 5] for i in range(0, 25, 5))


def normal_token(raw: str) -> str:
    """What was typed, as it was issued: case, spaces and hyphens do not matter, and O/I/L
    read as 0/1."""
    return "".join(c for c in raw.upper() if c.isalnum()).translate(_TOKEN_READ)[:100]


def token_digest(token: str) -> str:
    return digest(f"access:{normal_token(token)}")


def normal_number(raw: str | None) -> str:
    return (raw or "").strip().upper()[: MAX_TRACKING_NUMBER + 1]


# ------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Receipt:
    tracking_number: str
    access_token: str
    status: str
    replayed: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "tracking_number": self.tracking_number,
            "access_token": self.access_token,
            "status": self.status,
            "status_text": status_words(self.status),
        }


@dataclass(frozen=True)
class Refusal:
    """Why a complainant's request cannot be taken, in plain words."""

    action: str
    reason: str
    zh: str
    en: str
    final: bool = False

    def message(self) -> str:
        return f"{self.zh} / {self.en}"


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message())
        self.refusal = refusal


class IntakeUnavailable(Exception):
    """The process could not be started; the submission was undone."""


# ------------------------------------------------------------ the desk


class PublicDesk:
    """Registers submissions and answers complainants; one per app (see `the_desk`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine.sql, expire_on_commit=False)
        # What an unknown tracking number is compared with, so both cases do the same work.
        self._decoy = token_digest(new_access_token())
        self._next_sweep: datetime | None = None

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def now(self) -> datetime:
        return self.engine.clock.now()

    # ---- intake

    def submit(
        self,
        submission: Submission,
        *,
        actor: Actor,
        client: str,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Two transactions: (1) number, complaint row, identity, token hash and idempotency
        record, short, as the number's counter row stays locked until it commits; (2)
        `engine.start`, which marks the intake started in its own transaction. When (2) fails,
        (1) is undone by deleting its rows; should the request die before that, `_sweep`
        finishes the job for it."""
        self._sweep()
        token = new_access_token()
        request_hash = submission.fingerprint(client)
        key_hash = digest(f"idempotency:{idempotency_key}") if idempotency_key else None
        now = self.now()
        try:
            with self._transaction() as session:
                if key_hash is not None:
                    replay = self._replay(session, key_hash, request_hash, token, client)
                    if replay is not None:
                        return replay
                number = record_intake(
                    session,
                    data=submission.data,
                    complainant=submission.complainant,
                    now=now,
                    token_hash=token_digest(token),
                    request_hash=request_hash,
                    idempotency_hash=key_hash,
                )
        except IntegrityError:
            if key_hash is None:
                raise
            # The same key was registered meanwhile by a concurrent request: answer as a replay.
            with self._transaction() as session:
                replay = self._replay(session, key_hash, request_hash, token, client)
            if replay is None:
                raise
            return replay
        status = "registered"

        def started(session: Session) -> None:
            nonlocal status
            mark_started(session, number, self.now())
            complaint = complaint_row(session, number)  # kept by the process's first step
            if complaint is not None:
                status = complaint.status

        try:
            self.engine.start(PROCESS_ID, submission.data, number, actor, within=started)
        except BaseException as err:
            with self._transaction() as session:
                discard_intake(session, number)
            if isinstance(err, EngineError):
                raise IntakeUnavailable(str(err)) from err
            raise
        return Receipt(number, token, status)

    def _replay(
        self, session: Session, key_hash: str, request_hash: str, token: str, client: str
    ) -> Receipt | None:
        intake = intake_by_key(session, key_hash)
        if intake is None:
            return None
        if not hmac.compare_digest(intake.request_hash, request_hash):
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different submission; send a new key",
                {"Idempotency-Key": ["used for a different submission"]},
            )
        if intake.status != STARTED:
            raise ApiError(
                409,
                "submission_in_progress",
                "this submission is still being registered; repeat it in a moment",
                headers={"Retry-After": "2"},
            )
        replace_token(session, intake, token_digest(token))
        record_public_action(
            session,
            now=self.now(),
            tracking_number=intake.tracking_number,
            action="submission_repeated",
            outcome="accepted",
            client=digest(client),
        )
        status = session.scalar(
            select(Complaint.status).where(Complaint.tracking_number == intake.tracking_number)
        )
        return Receipt(intake.tracking_number, token, status or "registered", replayed=True)

    def _sweep(self) -> None:
        """Undo intakes whose request died between its steps (an intake recorded before the
        start marked it in its own transaction may have started: that one is marked). At most
        once every SWEEP_EVERY in this process."""
        now = self.now()
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        with self._transaction() as session:
            numbers = pending_intakes(session, self.now() - ABANDONED_AFTER)
        for number in numbers:
            started = self.engine.instances(process_id=PROCESS_ID, business_key=number, limit=1)
            with self._transaction() as session:
                if started:
                    mark_started(session, number, self.now())
                else:
                    discard_intake(session, number)

    # ---- access

    def authorize(self, number: str, token: str | None) -> bool:
        """Whether `token` opens `number`. Known and unknown numbers cost the same: one indexed
        read, one hash and one constant-time comparison (with a decoy hash when unknown)."""
        number = normal_number(number)
        with self._transaction() as session:
            stored = stored_token_hash(session, number) if len(number) <= 40 else None
        presented = token_digest(token or "")
        matches = hmac.compare_digest(presented, stored if stored is not None else self._decoy)
        return matches and stored is not None and bool(token)

    def known(self, number: str) -> bool:
        """Whether a complaint with this number exists and its process has started (staff
        see complaints of every channel, including those without an intake record)."""
        number = normal_number(number)
        with self._transaction() as session:
            exists = session.scalar(select(Complaint.id).where(Complaint.tracking_number == number))
            pending = session.scalar(
                select(Intake.id).where(Intake.tracking_number == number, Intake.status != STARTED)
            )
        return exists is not None and pending is None

    # ---- the complainant's view

    def view(self, number: str) -> dict[str, Any]:
        """Status in plain words, the notices sent to the complainant (title, date, full text),
        the current deadline and which requests are open now. Never identity, staff names or
        internal notes: only the complaint's own fields and complainant notices are read."""
        number = normal_number(number)
        with self._transaction() as session:
            complaint = session.scalar(select(Complaint).where(Complaint.tracking_number == number))
            if complaint is None:
                raise NotFound(f"no complaint {number}")
            notices = list(
                session.scalars(
                    select(Notice)
                    .where(Notice.tracking_number == number, Notice.recipient == "complainant")
                    .order_by(Notice.created_at, Notice.id)
                )
            )
        windows = self.windows(number)
        now = self.now()
        return {
            "tracking_number": complaint.tracking_number,
            "status": complaint.status,
            "status_text": status_words(complaint.status),
            "category": complaint.category,
            "category_text": words(CATEGORY_NAMES[complaint.category]),
            "channel": complaint.channel,
            "channel_text": {
                "zh": CHANNEL_NAMES.get(complaint.channel, complaint.channel),
                "en": CHANNEL_NAMES_EN.get(complaint.channel, complaint.channel),
            },
            "title": complaint.title,
            "description": complaint.description,
            "submitted_at": iso(complaint.created_at),
            "updated_at": iso(complaint.updated_at),
            "deadline_at": iso(complaint.deadline_at),
            "agency": agency_words(complaint.owner_group),
            "satisfaction": complaint.satisfaction,
            "timeline": [
                {
                    "at": iso(n.created_at),
                    "kind": n.kind,
                    "title": n.text.split("\n", 1)[0],
                    "text": n.text,
                }
                for n in notices
            ],
            "actions": {
                action: {
                    "open": action in windows and windows[action] > now,
                    "until": iso(windows.get(action)),
                }
                for action in ACTIONS
            },
        }

    def windows(self, number: str) -> dict[str, datetime]:
        """The requests the running process waits for now, with the end of each window."""
        running = self.engine.instances(
            process_id=PROCESS_ID, business_key=number, status="running", limit=1
        )
        if not running:
            return {}
        instance = self.engine.instance(running[0]["id"])
        return {
            WINDOW_TIMERS[t.element_id]: t.due_at
            for t in instance.timers
            if t.status == "pending" and t.element_id in WINDOW_TIMERS
        }

    # ---- the complainant's requests

    def request(
        self, number: str, action: str, fields: Mapping[str, Any], *, actor: Actor, client: str
    ) -> dict[str, Any]:
        """Send the action's message; on refusal raise Refused with the reason, after recording
        it (and, for a request after finality, the written `final_refusal` notice)."""
        number = normal_number(number)
        message = ACTIONS[action]
        now = self.now()
        payload = dict(fields)
        if action != "evaluation":
            payload = {"requested_at": now.isoformat(), "reason": fields["reason"]}
        windows = self.windows(number)
        if action in windows and windows[action] <= now:
            # The window's timer is due but not yet fired: the process would still take it.
            self._refuse(number, action, fields, client, self._window_closed(action))
        try:
            self._send(number, message, payload, actor, action)
        except (NotFound, Conflict):
            self._refuse(number, action, fields, client, self.refusal(number, action))
        with self._transaction() as session:
            record_public_action(
                session,
                now=now,
                tracking_number=number,
                action=action,
                outcome="accepted",
                client=digest(client),
                detail=payload,
            )
        return self.view(number)

    def _send(self, number: str, message: str, payload: dict, actor: Actor, action: str) -> None:
        try:
            self.engine.send_message(number, message, payload, actor)
        except Conflict:
            # Also raised when a timer or a colleague changed the instance meanwhile: try once
            # more if the process still waits for this request.
            if action not in self.windows(number):
                raise
            self.engine.send_message(number, message, payload, actor)

    def _refuse(
        self, number: str, action: str, fields: Mapping[str, Any], client: str, refusal: Refusal
    ) -> None:
        now = self.now()
        with self._transaction() as session:
            row = record_public_action(
                session,
                now=now,
                tracking_number=number,
                action=action,
                outcome="refused",
                reason=refusal.reason,
                client=digest(client),
                detail={**fields, "message": refusal.message()},
            )
            if refusal.final:
                context = IntakeContext(
                    session=session,
                    now=now,
                    business_key=number,
                    idempotency_key=f"public_action:{row.id}",
                )
                notify_complainant(
                    {
                        "kind": "final_refusal",
                        "tracking_number": number,
                        "request_date": now.isoformat(),
                        "request": REQUEST_NAMES[action],
                        "reason": refusal.zh,
                    },
                    context,
                )
        raise Refused(refusal)

    def refusal(self, number: str, action: str) -> Refusal:
        """Why the process does not take the request now, read from the complaint's state."""
        with self._transaction() as session:
            complaint = session.scalar(select(Complaint).where(Complaint.tracking_number == number))
            kinds = set(
                session.scalars(
                    select(Notice.kind).where(
                        Notice.tracking_number == number, Notice.recipient == "complainant"
                    )
                )
            )
        if complaint is None:
            return Refusal(action, "unknown", "没有该编号的事项", "No such complaint")
        status, track = complaint.status, complaint.track
        final = status == "final" or (status == "closed" and track in ("B", "special"))
        if action == "evaluation":
            return self._evaluation_refusal(complaint, final)
        if final:
            if "re_review_opinion" in kinds:
                zh = "复核意见已经作出，为终结意见"
                en = "the re-review opinion has been given and is final"
            elif "review_opinion" in kinds:
                zh = "在收到复查意见书之日起30日内未提出复核请求"
                en = "no re-review was requested within 30 days of the review opinion"
            else:
                zh = "在收到处理意见书之日起30日内未提出复查申请"
                en = "no review was requested within 30 days of the written opinion"
            return Refusal(
                action,
                "final",
                f"{zh}，该信访事项已办理终结，不再受理复查、复核",
                f"The matter is final ({en}); no further review is possible",
                final=True,
            )
        if status == "diverted":
            return Refusal(
                action,
                "not_a_petition",
                "该事项已告知通过法定途径解决，不作为信访事项办理，不适用复查、复核",
                "This matter was referred to a legal procedure; review does not apply",
            )
        if status == "merged":
            return Refusal(
                action,
                "merged",
                f"该事项已与编号{complaint.repeat_of}的事项合并办理，请凭该编号查询",
                f"This report was merged with {complaint.repeat_of}; follow that one",
            )
        if track == "A":
            return Refusal(
                action,
                "duty_request",
                "投诉举报（履职申请）事项不适用信访复查；对处理决定不服的，"
                "可以依法申请行政复议或者提起行政诉讼",
                "A pollution report is not open to petition review; you may apply for "
                "administrative reconsideration or go to court",
            )
        if track in ("C", "D", "supervision", "discipline"):
            return Refusal(
                action,
                "no_review",
                "该类事项不适用复查、复核",
                "Review does not apply to this kind of matter",
            )
        if action == "review_request":
            if status == "in_review" or "review_acceptance" in kinds:
                return Refusal(
                    action,
                    "already_requested",
                    "已经提出复查申请，正在复查",
                    "Review has already been requested and is under way",
                )
            if "opinion" not in kinds:
                return Refusal(
                    action,
                    "no_opinion_yet",
                    "尚未作出处理意见；复查申请应在收到处理意见书之日起30日内提出",
                    "No written opinion yet; review can be requested within 30 days of it",
                )
            return Refusal(
                action,
                "not_open",
                "处理意见正在落实，暂不能受理复查申请，请稍后再试",
                "The decision is being carried out; review cannot be requested at this moment",
            )
        if "review_opinion" not in kinds:
            return Refusal(
                action,
                "no_review_opinion",
                "尚未作出复查意见；复核请求应在收到复查意见书之日起30日内提出",
                "No review opinion yet; re-review can be requested within 30 days of it",
            )
        return Refusal(
            action,
            "already_requested",
            "已经提出复核请求，正在复核",
            "Re-review has already been requested and is under way",
        )

    def _evaluation_refusal(self, complaint: Complaint, final: bool) -> Refusal:
        if complaint.satisfaction is not None:
            return Refusal(
                "evaluation",
                "already_evaluated",
                "已经评价过，不能重复评价",
                "You have already given your evaluation",
            )
        if complaint.status in CLOSED_STATUSES or final:
            return Refusal(
                "evaluation",
                "window_closed",
                "评价期限已过",
                "The time for evaluating has passed",
            )
        return Refusal(
            "evaluation",
            "not_yet",
            "事项办结后方可评价",
            "You can evaluate once the matter has been handled",
        )

    def _window_closed(self, action: str) -> Refusal:
        if action == "evaluation":
            return Refusal(
                action, "window_closed", "评价期限已过", "The time for evaluating has passed"
            )
        name = REQUEST_NAMES[action]
        return Refusal(
            action,
            "window_closed",
            f"已超过提出{name}的30日期限",
            "The 30-day period for this request has passed",
        )


def the_desk() -> PublicDesk:
    """One desk per app, built on first use (nothing at import time)."""
    app = current_app
    desk = app.extensions.get("complaints.public")
    if desk is None:
        desk = app.extensions["complaints.public"] = PublicDesk(app.extensions["complaints.engine"])
    return desk


@dataclass(frozen=True)
class Caller:
    """Who sends a public request: the engine actor, and the client fingerprint that binds an
    idempotency key to its submitter (address and browser, session, staff user or API key)."""

    actor: Actor
    client: str
    staff: bool = False
