"""Repeat complaints (SPEC R1): earlier complaints about the same respondent, or the same place
in the same region, within a window, so the process can merge them instead of inspecting twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from .complaint_rows import complaint_row
from .context import Context, tracking_number_of
from .models import Complaint
from .normalise import normal_key
from .params import optional_text
from .routing import check_region_code


def register(registry: Any) -> None:
    registry.register("detect_repeat")(detect_repeat)


def detect_repeat(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """{"repeat_of": earliest earlier tracking number or None, "repeat_count": n,
    "earlier": [tracking numbers, oldest first]}.

    Matches on the normalised respondent, or on normalised address plus region; looks back
    `window_days` (required, a positive integer) from context.now. Respondent, address and
    region default to this complaint's own row when not given."""
    number = tracking_number_of(params, context)
    window = params.get("window_days")
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise ValueError(f"parameter 'window_days' must be a positive integer, got {window!r}")
    own = complaint_row(context.session, number)

    def given(name: str) -> str | None:
        if name in params:
            return optional_text(params, name)
        return getattr(own, name) if own is not None else None

    respondent_key = normal_key(given("respondent"))
    address_key = normal_key(given("address"))
    region_code = given("region_code")
    if region_code is not None:
        check_region_code(region_code)

    matches = []
    if respondent_key:
        matches.append(Complaint.respondent_key == respondent_key)
    if address_key and region_code:
        matches.append(
            and_(Complaint.address_key == address_key, Complaint.region_code == region_code)
        )
    if not matches:
        return {"repeat_of": None, "repeat_count": 0, "earlier": []}

    since = context.now - timedelta(days=window)
    earlier = context.session.scalars(
        select(Complaint.tracking_number)
        .where(
            Complaint.tracking_number != number,
            Complaint.created_at >= since,
            Complaint.created_at <= context.now,
            or_(*matches),
        )
        .order_by(Complaint.created_at, Complaint.id)
    ).all()
    return {
        "repeat_of": earlier[0] if earlier else None,
        "repeat_count": len(earlier),
        "earlier": list(earlier),
    }
