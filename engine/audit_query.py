"""Queries over the append-only audit trail: one filter shape for lists, counts and exports,
keyset pages by id, and a streamed export that never holds the whole trail in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .contracts import AuditView
from .errors import InvalidData
from .models import AuditEvent, Instance

MAX_PAGE = 5000  # a page, not an export: exports stream
STREAM_BATCH = 500


@dataclass(frozen=True)
class AuditFilters:
    """Every field narrows the trail; `events` is any of; `since` is inclusive, `until`
    exclusive. `process_id` matches rows of instances of that process (deployments have none)."""

    actor: str | None = None
    events: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    process_id: str | None = None
    business_key: str | None = None
    instance_id: int | None = None
    element_id: str | None = None
    task_id: str | None = None

    def check(self) -> None:
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidData(f"{name}: needs a time zone", {name: ["needs a time zone"]})
        if self.since and self.until and self.since >= self.until:
            raise InvalidData("since: must be before until", {"since": ["must be before until"]})


def filtered(query: Select, filters: AuditFilters) -> Select:
    filters.check()
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.events:
        query = query.where(AuditEvent.event.in_(filters.events))
    if filters.since is not None:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.at < filters.until)
    if filters.business_key:
        query = query.where(AuditEvent.business_key == filters.business_key)
    if filters.instance_id is not None:
        query = query.where(AuditEvent.instance_id == filters.instance_id)
    if filters.element_id:
        query = query.where(AuditEvent.element_id == filters.element_id)
    if filters.task_id:
        query = query.where(AuditEvent.task_id == filters.task_id)
    if filters.process_id:
        # Audit rows carry no process id; the instances table knows it (indexed by status and
        # process, and the audit index leads with instance_id).
        of_process = select(Instance.id).where(Instance.process_id == filters.process_id)
        query = query.where(AuditEvent.instance_id.in_(of_process))
    return query


def page_query(
    filters: AuditFilters, after_id: int | None, limit: int, newest_first: bool
) -> Select:
    """Keyset paging: `after_id` is the last id of the previous page in reading order."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidData(f"limit: 1 to {MAX_PAGE}", {"limit": [f"1 to {MAX_PAGE}"]})
    query = filtered(select(AuditEvent), filters)
    if newest_first:
        if after_id is not None:
            query = query.where(AuditEvent.id < after_id)
        return query.order_by(AuditEvent.id.desc()).limit(limit)
    if after_id is not None:
        query = query.where(AuditEvent.id > after_id)
    return query.order_by(AuditEvent.id).limit(limit)


def count_query(filters: AuditFilters) -> Select:
    """How many rows match and the highest id among them: an export streams up to that id, so
    its row count header stays true while new rows are appended meanwhile."""
    return filtered(select(func.count(AuditEvent.id), func.max(AuditEvent.id)), filters)


class AuditStream:
    """A counted export: `count` is known before the first row is read; iterating yields the
    rows oldest first in batches from a server-side cursor. Iterate once; `close()` (or the
    end of the iteration) ends the read transaction."""

    def __init__(
        self, session: Session, filters: AuditFilters, batch_size: int = STREAM_BATCH
    ) -> None:
        self._session = session
        try:
            count, last_id = session.execute(count_query(filters)).one()
        except BaseException:
            session.close()
            raise
        self.count = int(count or 0)
        # Plain rows, not ORM objects: nothing piles up in an identity map however long the
        # export runs.
        self._query = (
            filtered(select(*AuditEvent.__table__.columns), filters)
            .where(AuditEvent.id <= (last_id or 0))
            .order_by(AuditEvent.id)
            .execution_options(yield_per=batch_size)
        )
        self._rows = self._generate()

    def __iter__(self) -> Iterator[AuditView]:
        return self._rows

    def __next__(self) -> AuditView:
        return next(self._rows)

    def _generate(self) -> Iterator[AuditView]:
        try:
            if self.count:
                for row in self._session.execute(self._query):
                    yield audit_view(row)
        finally:
            self._session.close()

    def close(self) -> None:
        self._rows.close()  # runs the generator's `finally` even if it never started
        self._session.close()


def audit_view(row: AuditEvent | Any) -> AuditView:
    """From an ORM row or a plain result row with the same column names."""
    return AuditView(
        id=row.id,
        at=row.at,
        actor=row.actor,
        event=row.event,
        instance_id=row.instance_id,
        business_key=row.business_key,
        task_id=row.task_id,
        element_id=row.element_id,
        data_before=row.data_before,
        data_after=row.data_after,
        reason=row.reason,
        detail=row.detail,
    )
