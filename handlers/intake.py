"""What a public or staff intake writes before its complaint process starts: the tracking number,
the complaint row with its complainant's identity (apart, as `register_complaint` keeps it), the
hash of the access token and the idempotency record; plus the trail of complainants' requests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .complaints import write_complaint
from .models import Base, ComplainantIdentity, Complaint, UtcDateTime
from .numbering import next_tracking_number

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for the trail.
BigId = BigInteger().with_variant(Integer(), "sqlite")

PENDING = "pending"
STARTED = "started"


class Intake(Base):
    """One submission: `token_hash` is the SHA-256 of the access token the complainant holds
    (the token itself is never stored); `idempotency_hash` (of the client's key) with
    `request_hash` (of body + client) lets the same submitter repeat a submission and get the
    same tracking number. `pending` until the process has started, then `started`."""

    __tablename__ = "intakes"
    __table_args__ = (Index("ix_intakes_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    idempotency_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PublicAction(Base):
    """Append-only trail of what complainants asked for through the public surface (review,
    re-review, evaluation, a repeated submission) and whether it was accepted or refused, with
    the refusal's reason code. Accepted messages are also in the engine's audit; refusals only
    here. `client` is a hash of the address, not the address."""

    __tablename__ = "public_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


@dataclass
class IntakeContext:
    """The handler context `register_complaint` expects, for a call made by the intake itself
    (in the intake's transaction) rather than by the engine."""

    session: Session
    now: datetime
    business_key: str
    idempotency_key: str = ""
    instance_id: int = 0
    process_id: str = "complaint"
    element_id: str = "intake"
    data: Mapping[str, Any] = field(default_factory=dict)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_intake(
    session: Session,
    *,
    data: Mapping[str, Any],
    complainant: Mapping[str, Any] | None,
    now: datetime,
    token_hash: str,
    request_hash: str,
    idempotency_hash: str | None = None,
    prefix: str = "HB",
) -> str:
    """Number the complaint and write, in the caller's transaction, the complaint row, the
    complainant's identity and the intake record; returns the tracking number.

    The complaint row is written here, not left to the process's `register_complaint` step,
    because `complainant_identities.tracking_number` references it and the identity must never
    travel in process data. `register_complaint`'s own writer is used, so the row is the one
    the process would write; when the process reaches that step it finds the row and keeps it
    and the identity unchanged."""
    number = next_tracking_number(session, now, prefix)
    params = {**data, "tracking_number": number, "complainant": complainant or {"anonymous": True}}
    context = IntakeContext(
        session=session, now=now, business_key=number, idempotency_key=f"intake:{number}"
    )
    write_complaint(params, context)
    session.add(
        Intake(
            tracking_number=number,
            token_hash=token_hash,
            idempotency_hash=idempotency_hash,
            request_hash=request_hash,
            status=PENDING,
            created_at=now,
        )
    )
    session.flush()
    return number


def intake_by_key(session: Session, idempotency_hash: str) -> Intake | None:
    return session.scalar(select(Intake).where(Intake.idempotency_hash == idempotency_hash))


def stored_token_hash(session: Session, number: str) -> str | None:
    """The token hash of a started intake; None for an unknown or not yet started number."""
    return session.scalar(
        select(Intake.token_hash).where(Intake.tracking_number == number, Intake.status == STARTED)
    )


def replace_token(session: Session, intake: Intake, token_hash: str) -> None:
    """A repeated submission gets a fresh token; the one handed out before stops working."""
    intake.token_hash = token_hash
    session.flush()


def mark_started(session: Session, number: str, now: datetime) -> None:
    session.execute(
        update(Intake)
        .where(Intake.tracking_number == number, Intake.status != STARTED)
        .values(status=STARTED, started_at=now)
    )


def discard_intake(session: Session, number: str) -> None:
    """Undo `record_intake` after the process failed to start (its own transaction rolled back,
    so nothing else refers to the number). The tracking number itself is not given back: the
    engine's audit names it in its `start_failed` row."""
    session.execute(
        delete(ComplainantIdentity).where(ComplainantIdentity.tracking_number == number)
    )
    session.execute(delete(Complaint).where(Complaint.tracking_number == number))
    session.execute(delete(Intake).where(Intake.tracking_number == number))
    session.flush()


def pending_intakes(session: Session, before: datetime, limit: int = 20) -> list[str]:
    """Intakes still pending since before `before`: their request died between writing the rows
    and starting the process (or undoing them); the caller decides by asking the engine."""
    return list(
        session.scalars(
            select(Intake.tracking_number)
            .where(Intake.status == PENDING, Intake.created_at < before)
            .order_by(Intake.id)
            .limit(limit)
        )
    )


def record_public_action(
    session: Session,
    *,
    now: datetime,
    tracking_number: str,
    action: str,
    outcome: str,
    reason: str | None = None,
    client: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> PublicAction:
    row = PublicAction(
        at=now,
        tracking_number=tracking_number,
        action=action,
        outcome=outcome,
        reason=reason,
        client=client,
        detail=dict(detail) if detail is not None else None,
    )
    session.add(row)
    session.flush()
    return row


def public_actions(session: Session, number: str) -> list[PublicAction]:
    return list(
        session.scalars(
            select(PublicAction)
            .where(PublicAction.tracking_number == number)
            .order_by(PublicAction.id)
        )
    )
