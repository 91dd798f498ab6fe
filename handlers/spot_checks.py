"""The monthly spot check: which complaints closed in a month the office looks at again, a
stable sample so that a second look gets the same list."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from .stats_sql import COMPLAINTS
from .times import CHINA


def spot_check_sample(connection: Connection, period: str, size: int) -> list[dict[str, Any]]:
    """Up to `size` complaints closed in Beijing month `period` ("YYYY-MM") for the monthly spot
    check: a stable choice (ordered by CRC-32 of the tracking number, as return visits are
    sampled), so the office and a second look get the same list. Reads only the month's
    closed tracking numbers, never identities."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=CHINA)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA)
    c = COMPLAINTS.c
    rows = connection.execute(
        select(c.tracking_number, c.category, c.region_code, c.track, c.status).where(
            c.closed_at >= start, c.closed_at < end
        )
    ).all()
    chosen = sorted(rows, key=lambda r: (zlib.crc32(r.tracking_number.encode()), r[0]))[:size]
    return [
        {
            "tracking_number": r.tracking_number,
            "category": r.category,
            "region_code": r.region_code,
            "track": r.track,
            "status": r.status,
        }
        for r in sorted(chosen, key=lambda r: r.tracking_number)
    ]
