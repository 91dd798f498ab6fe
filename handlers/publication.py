"""The monthly disclosure records petition_office approved for publication, as the public
disclosure page shows them: counts only. handlers/disclosure.py writes the records; the
approval is a user task of processes/periodic_disclosure.bpmn, read from the engine's tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from .models import Disclosure
from .stats_sql import AUDIT_EVENTS, HUMAN_TASKS
from .times import CHINA

DISCLOSURES = Disclosure.__table__

# The monthly disclosure diagram (processes/periodic_disclosure.bpmn) records the month before
# its run and asks petition_office to approve it in this user task.
APPROVE_DISCLOSURE_TASK = "approve_disclosure"


def published_disclosures(connection: Connection, limit: int = 24) -> list[dict[str, Any]]:
    """The monthly records petition_office approved for publication, newest first, each as
    counts only (by category, region and status): never text, identities or respondents.

    A record counts as approved when an `approve_disclosure` task completed with
    decision == 'publish'; that task belongs to the month before the task was created, the
    month its run recorded (record_disclosure's default period, same transaction)."""
    h, a = HUMAN_TASKS.c, AUDIT_EVENTS.c
    query = (
        select(h.created_at)
        .select_from(AUDIT_EVENTS.join(HUMAN_TASKS, h.id == a.task_id))
        .where(
            a.event == "task_completed",
            a.element_id == APPROVE_DISCLOSURE_TASK,
            a.data_after["decision"].as_string() == "publish",
        )
    )
    approved = {previous_month(moment) for moment in connection.execute(query).scalars()}
    if not approved:
        return []
    d = DISCLOSURES.c
    records = connection.execute(
        select(d.period, d.total, d.closed, d.counts)
        .where(d.period.in_(sorted(approved)))
        .order_by(d.period.desc())
        .limit(limit)
    ).mappings()
    return [
        {
            "period": row["period"],
            "total": row["total"],
            "closed": row["closed"],
            "by_category": _counts(row["counts"], "by_category"),
            "by_region": _counts(row["counts"], "by_region"),
            "by_status": _counts(row["counts"], "by_status"),
        }
        for row in records
    ]


def _counts(counts: Any, name: str) -> dict[str, int]:
    values = counts.get(name, {}) if isinstance(counts, Mapping) else {}
    return {str(k): int(v) for k, v in sorted(values.items(), key=lambda kv: (-int(kv[1]), kv[0]))}


def previous_month(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"
