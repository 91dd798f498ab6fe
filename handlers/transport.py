"""Where notices go after they are written to the outbox. The default transport delivers
nothing (the notice stays `recorded`, shown on the tracking page and to staff); a real one (SMS,
e-mail, letter printing) is plugged in with `set_transport` or `default_registry(transport=...)`."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Notice

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, notice: Notice) -> None:
        """Deliver the notice and set `status` to "sent" (or leave it "recorded" for later);
        raise on failure. Runs inside the engine's transaction, so a transport with external
        effects should rather be driven by `deliver_pending` after the commit."""
        ...


class RecordingTransport:
    """Keeps notices in the outbox only: nothing leaves the system, nothing can be sent twice."""

    def send(self, notice: Notice) -> None:
        notice.status = "recorded"


_current: Transport = RecordingTransport()


def get_transport() -> Transport:
    return _current


def set_transport(transport: Transport) -> Transport:
    """Swap the process-wide transport; returns the previous one so a test can put it back."""
    global _current
    previous, _current = _current, transport
    return previous


def hand_over(notice: Notice, transport: Transport, now: datetime) -> None:
    """Give the notice to the transport; a failure marks it `failed` with the error instead of
    failing the process step, so a gateway outage never blocks a complaint and the row can be
    retried."""
    try:
        transport.send(notice)
    except Exception as err:  # noqa: BLE001 - any transport error is recorded, not raised
        log.warning("notice %s (%s) failed: %s", notice.id, notice.kind, err)
        notice.status = "failed"
        notice.last_error = f"{type(err).__name__}: {err}"
        return
    if notice.status == "sent" and notice.sent_at is None:
        notice.sent_at = now
    if notice.last_error is not None:  # a retry that went through; a new row has none to clear
        notice.last_error = None


def deliver_pending(session: Session, transport: Transport, now: datetime, limit: int = 100) -> int:
    """Hand recorded and failed notices to `transport` (an outbox relay to run after commits);
    returns how many ended up sent. The caller owns the transaction."""
    pending = session.scalars(
        select(Notice)
        .where(Notice.status.in_(("recorded", "failed")))
        .order_by(Notice.id)
        .limit(limit)
    ).all()
    for notice in pending:
        hand_over(notice, transport, now)
    session.flush()
    return sum(1 for notice in pending if notice.status == "sent")
