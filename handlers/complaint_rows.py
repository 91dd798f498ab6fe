"""The complaint row and its complainant's identity, read once per transaction.

One step of a process calls several handlers that need the same complaint (its registration,
the receipt notice, the repeat check, a status change), and each read by tracking number is a
round trip to the database that the session's identity map cannot answer (it is keyed by id).
Both are read together, and kept for the rest of the transaction once found; a row not found
is asked for again, since a later handler of the same transaction may write it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ComplainantIdentity, Complaint

_KEPT = "handlers.complaint_rows"  # in `Session.info`: (the transaction, {(class, number): row})

Row = TypeVar("Row", Complaint, ComplainantIdentity)


def complaint_row(session: Session, number: str) -> Complaint | None:
    return _kept_row(session, Complaint, number) or _load(session, number)[0]


def identity_row(session: Session, number: str) -> ComplainantIdentity | None:
    return _kept_row(session, ComplainantIdentity, number) or _load(session, number)[1]


def keep(session: Session, row: Complaint | ComplainantIdentity) -> None:
    """A row this transaction has just written: later reads of it need no query."""
    _kept(session)[(type(row), row.tracking_number)] = row


def _kept_row(session: Session, kind: type[Row], number: str) -> Row | None:
    held = session.info.get(_KEPT)
    if held is not None and held[0] is session.get_transaction():
        return held[1].get((kind, number))
    return None


def _load(session: Session, number: str) -> tuple[Complaint | None, ComplainantIdentity | None]:
    """Both rows in one round trip: the handlers that need one mostly need the other."""
    found = session.execute(
        select(Complaint, ComplainantIdentity)
        .outerjoin(
            ComplainantIdentity, ComplainantIdentity.tracking_number == Complaint.tracking_number
        )
        .where(Complaint.tracking_number == number)
    ).one_or_none()
    if found is None:
        return None, None
    complaint, identity = found
    for row in (complaint, identity):
        if row is not None:
            keep(session, row)
    return complaint, identity


def _kept(session: Session) -> dict[tuple[type, str], Any]:
    """The rows kept for the session's current transaction; those of an earlier one are
    dropped, since other transactions may have changed them since."""
    transaction = session.get_transaction()
    held = session.info.get(_KEPT)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_KEPT] = held
    return held[1]
