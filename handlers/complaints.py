"""The complaint read model: `register_complaint` writes it (identity apart) when a process
starts, `update_complaint` keeps status, track, owner and deadlines current as the process moves;
`identity_of` reads the identity back for the staff who may reveal it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from .complaint_rows import complaint_row, identity_row, keep
from .context import Context, tracking_number_of
from .models import ComplainantIdentity, Complaint
from .normalise import normal_key
from .params import flag, one_of, optional_number, optional_text, required_text
from .routing import check_region_code
from .times import iso, optional_instant

CHANNELS = frozenset(
    {"web", "hotline", "letter", "visit", "email", "wechat", "weibo", "mailbox", "platform"}
)
CATEGORIES = frozenset(
    {"air", "water", "noise", "soil", "solid_waste", "radiation", "ecology", "other"}
)
STATUSES = frozenset(
    {
        "registered",  # S1
        "routed",  # S2 decided, notice of route given
        "transferred",  # S3a
        "diverted",  # S3b-S3e (pathway_code says which)
        "accepted",  # S4
        "investigating",  # A1/B1
        "extended",  # B2
        "replied",  # A3/B3
        "in_review",  # B5-B8
        "forwarded",  # D1
        "merged",  # R1: merged into an earlier report of the same matter
        "final",  # B9
        "closed",  # A4 / end
    }
)
TRACKS = frozenset(
    {"diversion", "transfer", "A", "B", "C", "D", "special", "supervision", "discipline"}
)
SATISFACTION = frozenset({"satisfied", "basically_satisfied", "dissatisfied"})
UPDATABLE_TEXT = ("track", "pathway_code", "owner_group", "repeat_of", "satisfaction")
UPDATABLE_TIMES = ("accepted_at", "deadline_at", "closed_at")
# Track D (检举控告) runs in processes/accusation.bpmn, called from the complaint process.
ACCUSATION_TRACK = "D"
ACCUSATION_PROCESS = "accusation"
IDENTITY_FIELDS = ("anonymous", "name", "phone", "email", "address")


def register(registry: Any) -> None:
    registry.register("register_complaint")(register_complaint)
    registry.register("update_complaint")(update_complaint)


def register_complaint(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """Write the complaint and its complainant for the instance's tracking number. A retried or
    repeated call finds the row and returns it unchanged, so restarting a step is harmless.

    `location` (as POST /api/complaints sends it) or flat region_code/address/lat/lon both work."""
    number = tracking_number_of(params, context)
    session = context.session
    existing = complaint_row(session, number)
    if existing is not None:
        return complaint_view(existing, identity_row(session, number))
    return write_complaint(params, context)


def write_complaint(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """`register_complaint` for a tracking number known to be new (just drawn from its
    counter), so there is no earlier row to look for."""
    number = tracking_number_of(params, context)
    session = context.session
    fields = _flatten_location(params)
    region_code = optional_text(fields, "region_code")
    if region_code is not None:
        check_region_code(region_code)
    respondent = optional_text(fields, "respondent")
    address = optional_text(fields, "address")
    complaint = Complaint(
        tracking_number=number,
        channel=one_of(required_text(fields, "channel"), "channel", CHANNELS),
        category=one_of(required_text(fields, "category"), "category", CATEGORIES),
        title=optional_text(fields, "title"),
        description=required_text(fields, "description"),
        region_code=region_code,
        address=address,
        lat=optional_number(fields, "lat"),
        lon=optional_number(fields, "lon"),
        respondent=respondent,
        respondent_key=normal_key(respondent),
        address_key=normal_key(address),
        requested_outcome=optional_text(fields, "requested_outcome"),
        urgent=flag(fields, "urgent"),
        addressed_to_leader=flag(fields, "addressed_to_leader"),
        written_reply=flag(fields, "written_reply"),
        reward_interest=flag(fields, "reward_interest"),
        status="registered",
        created_at=context.now,
        updated_at=context.now,
    )
    identity = _identity_from(fields.get("complainant"), number, context.now)
    session.add(complaint)
    session.flush()  # the identity's foreign key needs the complaint row first
    session.add(identity)
    session.flush()
    keep(session, complaint)
    keep(session, identity)
    return complaint_view(complaint, identity)


def update_complaint(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """Apply the given fields (a field given as None is cleared) and return only those whose
    value changed, as JSON values; unknown parameter names are refused so a typo in a diagram
    cannot go unnoticed."""
    number = tracking_number_of(params, context)
    allowed = {"tracking_number", "status", *UPDATABLE_TEXT, *UPDATABLE_TIMES}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"update_complaint does not know {unknown}; allowed: {sorted(allowed)}")
    row = complaint_row(context.session, number)
    if row is None:
        raise LookupError(f"no complaint {number}")

    wanted: dict[str, Any] = {}
    if "status" in params:
        wanted["status"] = one_of(required_text(params, "status"), "status", STATUSES)
    for name in UPDATABLE_TEXT:
        if name in params:
            wanted[name] = optional_text(params, name)
    if "track" in wanted:
        one_of(wanted["track"], "track", TRACKS)
    if wanted.get("satisfaction") is not None:
        one_of(wanted["satisfaction"], "satisfaction", SATISFACTION)
    for name in UPDATABLE_TIMES:
        if name in params:
            wanted[name] = optional_instant(params[name], name)

    changed: dict[str, Any] = {}
    for name, value in wanted.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed[name] = iso(value) if isinstance(value, datetime) else value
    if changed:
        row.updated_at = context.now
        context.session.flush()
    return changed


def complaint_view(row: Complaint, identity: ComplainantIdentity | None) -> dict[str, Any]:
    """What lands in task data: the facts gateways branch on, never the complainant's identity
    (only whether they are anonymous and whether they can be reached for a written notice)."""
    contactable = identity is not None and any((identity.phone, identity.email, identity.address))
    return {
        "tracking_number": row.tracking_number,
        "status": row.status,
        "channel": row.channel,
        "category": row.category,
        "region_code": row.region_code,
        "respondent": row.respondent,
        "urgent": row.urgent,
        "addressed_to_leader": row.addressed_to_leader,
        "written_reply": row.written_reply,
        "reward_interest": row.reward_interest,
        "anonymous": identity is None or identity.anonymous,
        "contactable": contactable,
        "created_at": iso(row.created_at),
    }


def identity_of(connection: Connection | Session, tracking_number: str) -> dict[str, Any] | None:
    """The complainant of `tracking_number` (anonymous flag, name, phone, e-mail, address), or
    None when none is recorded. Only for a caller that has decided the reader may see it."""
    columns = [getattr(ComplainantIdentity, name) for name in IDENTITY_FIELDS]
    found = connection.execute(
        select(*columns).where(ComplainantIdentity.tracking_number == tracking_number)
    ).one_or_none()
    return None if found is None else dict(zip(IDENTITY_FIELDS, found, strict=True))


def is_accusation(connection: Connection | Session, tracking_number: str, process_id: str) -> bool:
    """Whether the matter is an accusation (track D, or the accusation process itself): the
    accuser's identity and material are never passed on, so no staff surface reveals them."""
    if process_id == ACCUSATION_PROCESS:
        return True
    track = connection.execute(
        select(Complaint.track).where(Complaint.tracking_number == tracking_number)
    ).scalar_one_or_none()
    return track == ACCUSATION_TRACK


def _flatten_location(params: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(params)
    location = params.get("location")
    if location is not None:
        if not isinstance(location, Mapping):
            raise ValueError("parameter 'location' must be an object")
        for key in ("region_code", "address", "lat", "lon"):
            if fields.get(key) is None and key in location:
                fields[key] = location[key]
    return fields


def _identity_from(value: Any, number: str, now: datetime) -> ComplainantIdentity:
    if value is None:
        value = {"anonymous": True}
    if not isinstance(value, Mapping):
        raise ValueError("parameter 'complainant' must be an object")
    return ComplainantIdentity(
        tracking_number=number,
        anonymous=flag(value, "anonymous"),
        name=optional_text(value, "name"),
        phone=optional_text(value, "phone"),
        email=optional_text(value, "email"),
        address=optional_text(value, "address"),
        created_at=now,
    )
