"""Monthly publication of results (SPEC P1; Hubei publishes monthly): counts of the month's
complaints by category, region and status, read from `complaints` only, so no identity and no
complaint text can reach a published record."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from .context import Context
from .models import Complaint, Disclosure
from .times import CHINA, iso

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def register(registry: Any) -> None:
    registry.register("record_disclosure")(record_disclosure)


def record_disclosure(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """Count complaints received in `period` ("YYYY-MM", Beijing months; default: the month
    before context.now) and store the record once: a period already published is returned as
    it was, because a publication must not change after the fact."""
    period = params.get("period") or _previous_month(context.now)
    if not isinstance(period, str) or not _PERIOD.fullmatch(period):
        raise ValueError(f"parameter 'period' must look like 2026-03, got {period!r}")
    session = context.session
    existing = session.scalar(select(Disclosure).where(Disclosure.period == period))
    if existing is not None:
        return _view(existing)

    start, end = _month_bounds(period)
    in_month = (Complaint.created_at >= start, Complaint.created_at < end)
    counts = {
        name: {
            (str(key) if key is not None else "unknown"): n
            for key, n in session.execute(
                select(column, func.count()).where(*in_month).group_by(column).order_by(column)
            )
        }
        for name, column in (
            ("by_category", Complaint.category),
            ("by_region", Complaint.region_code),
            ("by_status", Complaint.status),
        )
    }
    total = session.scalar(select(func.count()).select_from(Complaint).where(*in_month)) or 0
    closed = (
        session.scalar(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.closed_at >= start, Complaint.closed_at < end)
        )
        or 0
    )
    record = Disclosure(
        period=period, total=total, closed=closed, counts=counts, created_at=context.now
    )
    session.add(record)
    session.flush()
    return _view(record)


def _previous_month(now: datetime) -> str:
    local = now.astimezone(CHINA)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _month_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in period.split("-"))
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=CHINA),
        datetime(following.year, following.month, 1, tzinfo=CHINA),
    )


def _view(record: Disclosure) -> dict[str, Any]:
    return {
        "disclosure_id": record.id,
        "period": record.period,
        "total": record.total,
        "closed": record.closed,
        "by_category": record.counts.get("by_category", {}),
        "by_region": record.counts.get("by_region", {}),
        "by_status": record.counts.get("by_status", {}),
        "created_at": iso(record.created_at),
    }
