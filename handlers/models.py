"""Tables the handlers own: the complaint read model, complainant identities (kept apart for
confidentiality), the notice outbox, referrals, monthly disclosures, numbering counters and the
statistics' monthly aggregate. Created by migrations 0002 and 0011; this metadata is the
handlers' own, not the engine's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend. A real timestamp column (timestamptz on PostgreSQL)
    rather than ISO text, so windows such as "created in the last 90 days" are indexed range
    comparisons; SQLite stores naive UTC and this type puts the zone back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Complaint(Base):
    """Read model of one complaint, written by service tasks so lists and statistics never
    deserialize a workflow. `respondent_key`/`address_key` are normalised forms for repeat
    detection; identities live in `complainant_identities`, never here."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_region_code", "region_code"),
        Index("ix_complaints_status", "status"),
        Index("ix_complaints_respondent_key", "respondent_key"),
        Index("ix_complaints_address_key", "address_key", "region_code"),
        Index("ix_complaints_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    respondent: Mapped[str | None] = mapped_column(String(300))
    respondent_key: Mapped[str | None] = mapped_column(String(300))
    address_key: Mapped[str | None] = mapped_column(String(500))
    requested_outcome: Mapped[str | None] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    addressed_to_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    written_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    reward_interest: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(30))
    track: Mapped[str | None] = mapped_column(String(20))
    pathway_code: Mapped[str | None] = mapped_column(String(20))
    owner_group: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    repeat_of: Mapped[str | None] = mapped_column(String(40))
    satisfaction: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ComplainantIdentity(Base):
    """Who complained, in a table of its own so that the complaint text can be shown, exported
    and disclosed without it (EPL Art 56-57: the reporter's identity is confidential)."""

    __tablename__ = "complainant_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(
        ForeignKey("complaints.tracking_number"), unique=True
    )
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(320))
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Notice(Base):
    """Outbox of rendered notices. `idempotency_key` (task key + kind [+ recipient]) makes a
    retried step find its notice instead of writing and sending a second one."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str | None] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(200))
    recipient_channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Referral(Base):
    """A matter handed to another body (enforcement, inspection team, supervision office,
    discipline inspection, another department) and what came back."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Disclosure(Base):
    """One monthly publication of results: counts only, so nothing in it can identify anyone."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)
    total: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Counter(Base):
    """Per-name, per-period sequence values (tracking numbers per year)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class StatsCell(Base):
    """The complaints summed per area ('' for all, else a region code's first 2 or 4 digits:
    province, city), Beijing month of receipt, category, channel and one value of one dimension
    (`dim`: track, status, satisfaction, region, closed month, days-to-close week, notice kind,
    review and re-review outcome; NULL stored as ''), so that the statistics add monthly rows
    instead of reading every complaint. Triggers of migration 0011 keep it equal to
    `complaints`, `notices` and `audit_events` in the writing transaction, whatever statement
    writes them; nothing writes it otherwise."""

    __tablename__ = "stats_cells"

    area: Mapped[str] = mapped_column(String(6), primary_key=True)
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    received: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    with_deadline: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    open_deadline: Mapped[int] = mapped_column(Integer)
    days_sum: Mapped[float] = mapped_column(Float)


class StatsRespondent(Base):
    """Complaints per respondent key (NULL and '' left out), for ranking the most
    complained-about bodies without grouping every complaint; kept by the triggers of
    migration 0011 like `stats_cells`."""

    __tablename__ = "stats_respondents"

    respondent_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    received: Mapped[int] = mapped_column(Integer)
