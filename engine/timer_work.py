"""Timers: due rows are claimed for a while by one worker and fired each in its own
transaction; a failing one is retried with back-off, then left to administrators as an
incident to retry or skip."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, func, or_, select, update

from .audit_trail import audit
from .contracts import Actor, TimerView
from .errors import InvalidData, NotFound
from .models import Instance, Timer
from .readmodels import OPEN_TIMER_STATUSES, move_timer, timer_view

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger(__name__)

# The timer with its instance and the instance's other open timer rows, which the firing's
# sync then need not read. A worker of its own rarely has the workflow in memory: the state
# comes with the instance, joined to the fired timer's row alone so that it is read once.
_INSTANCE_OF_TIMER = select(Timer.instance_id).where(Timer.id == bindparam("timer_id"))
_TIMER_WITH_INSTANCE = (
    select(Timer, Instance)
    .outerjoin(Instance, and_(Instance.id == Timer.instance_id, Timer.id == bindparam("timer_id")))
    .where(
        Timer.instance_id == _INSTANCE_OF_TIMER.scalar_subquery(),
        or_(Timer.id == bindparam("timer_id"), Timer.status.in_(OPEN_TIMER_STATUSES)),
    )
    .order_by(Timer.id)
)


class TimerWork:
    """Engine operations on timers and incidents; mixed into `Engine`."""

    def fire_due_timers(self: Engine, limit: int = 100) -> int:
        """Claim due timers and fire each in its own transaction; returns how many fired."""
        fired = 0
        for timer_id in self.claim_due_timers(limit):
            if self.fire_claimed_timer(timer_id):
                fired += 1
        return fired

    def claim_due_timers(self: Engine, limit: int = 100) -> list[int]:
        """Mark due rows as ours until the claim expires, so a crashed worker's claims return."""
        return [timer_id for group in self.claim_due_timer_groups(limit) for timer_id in group]

    def claim_due_timer_groups(self: Engine, limit: int = 100) -> list[list[int]]:
        """Claim as `claim_due_timers` does, grouped by instance in due order: timers of one
        instance must fire one after another (each saves the same workflow), while groups of
        different instances may fire side by side."""
        now = self.clock.now()
        with self._transaction() as session:
            query = (
                select(Timer.id, Timer.instance_id)
                .where(Timer.status == "pending", Timer.fire_at < now)
                .where((Timer.claim_expires_at.is_(None)) | (Timer.claim_expires_at < now))
                .order_by(Timer.fire_at)
                .limit(limit)
            )
            if self.sql.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            groups: dict[int, list[int]] = {}
            for timer_id, instance_id in session.execute(query):
                groups.setdefault(instance_id, []).append(timer_id)
            if groups:
                session.execute(
                    update(Timer)
                    .where(Timer.id.in_([t for group in groups.values() for t in group]))
                    .values(claimed_by=self.worker_id, claim_expires_at=now + self.claim_ttl)
                )
            return list(groups.values())

    def fire_claimed_timer(self: Engine, timer_id: int) -> bool:
        actor = Actor.system_actor("timer")
        try:
            with self._transaction() as session:
                query = _TIMER_WITH_INSTANCE
                if self._lock_rows():
                    query = query.with_for_update(of=Timer)
                found = session.execute(query, {"timer_id": timer_id}).all()
                claimed = next((f for f in found if f.Timer.id == timer_id), None)
                if claimed is None:
                    return False
                timer, row = claimed.Timer, claimed.Instance
                if timer.status != "pending" or timer.claimed_by != self.worker_id:
                    return False
                due_before = timer.due_at
                wf = self._restore(session, row)
                wf.advance()
                # moves `timer` on: fired, cycled or still due (its row is set right whatever
                # the workflow's waits: an incident retried may lag behind its cycle); every
                # row found is open, the fired one being pending
                self._save(session, row, wf, actor, timer_rows=[f.Timer for f in found])
                cycled = timer.status == "pending" and timer.due_at != due_before
                if timer.status == "pending" and not cycled:  # not due for SpiffWorkflow yet
                    move_timer(session, timer, claimed_by=None, claim_expires_at=None)
                return timer.status == "fired" or cycled
        except Exception as err:  # noqa: BLE001 - any failure is recorded and retried
            self._timer_failed(timer_id, err)
            return False

    def _timer_failed(self: Engine, timer_id: int, err: Exception) -> None:
        log.warning("timer %s failed: %s", timer_id, err)
        now = self.clock.now()
        with self._transaction() as session:
            timer = session.get(Timer, timer_id)
            if timer is None:
                return
            timer.attempts += 1
            timer.last_error = f"{type(err).__name__}: {err}"
            timer.claimed_by = None
            timer.claim_expires_at = None
            if timer.attempts >= self.max_timer_attempts:
                timer.status = "incident"
                event = "incident_opened"
            else:
                timer.fire_at = now + timedelta(seconds=2 ** min(timer.attempts, 12))
                event = "timer_failed"
            audit(
                session,
                now,
                "timer",
                event,
                instance_id=timer.instance_id,
                element_id=timer.element_id,
                detail={"error": timer.last_error, "attempts": timer.attempts},
            )

    def incidents(self: Engine) -> list[TimerView]:
        with self._transaction() as session:
            rows = session.scalars(select(Timer).where(Timer.status == "incident"))
            return [timer_view(r) for r in rows]

    def retry_incident(self: Engine, timer_id: int, actor: Actor) -> None:
        with self._transaction() as session:
            timer = session.get(Timer, timer_id)
            if timer is None or timer.status != "incident":
                raise NotFound(f"no incident {timer_id}")
            timer.status = "pending"
            timer.attempts = 0
            timer.fire_at = self.clock.now()
            audit(
                session,
                self.clock.now(),
                actor.id,
                "incident_retried",
                instance_id=timer.instance_id,
                element_id=timer.element_id,
            )

    def next_timer_due(self: Engine) -> datetime | None:
        with self._transaction() as session:
            return session.scalar(select(func.min(Timer.fire_at)).where(Timer.status == "pending"))

    def _lock_rows(self: Engine) -> bool:
        return self.sql.dialect.name == "postgresql"

    def skip_incident(self: Engine, timer_id: int, actor: Actor, reason: str) -> None:
        """An administrator gives up on a failed timer: it is marked `skipped`, which no worker
        claims, and the decision is audited with its reason."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidData("a reason is required", {"reason": ["required"]})
        with self._transaction() as session:
            timer = session.get(Timer, timer_id, with_for_update=self._lock_rows())
            if timer is None or timer.status != "incident":
                raise NotFound(f"no incident {timer_id}")
            instance = session.get(Instance, timer.instance_id)
            wf = self._restore(session, instance)
            wf.cancel_boundary_timer(timer.task_id)  # refused for timers on the only path
            self._save(session, instance, wf, actor)
            timer.status = "skipped"
            timer.claimed_by = None
            timer.claim_expires_at = None
            audit(
                session,
                self.clock.now(),
                actor.id,
                "incident_skipped",
                instance=instance,
                instance_id=timer.instance_id,
                element_id=timer.element_id,
                data_before={"status": "incident"},
                data_after={"status": "skipped"},
                reason=reason.strip(),
                detail={
                    "timer_id": timer.id,
                    "due_at": timer.due_at.isoformat(),
                    "attempts": timer.attempts,
                    "error": timer.last_error,
                },
            )
