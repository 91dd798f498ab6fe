"""Referrals of a complaint to another body (enforcement team, inspection team, regional
supervision office, discipline inspection, another department) and the result they report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .context import Context, tracking_number_of
from .models import Referral
from .params import one_of, optional_text, required_text
from .times import iso

KINDS = frozenset(
    {"enforcement", "inspection_team", "supervision_office", "discipline", "other_department"}
)


def register(registry: Any) -> None:
    registry.register("record_referral")(record_referral)
    registry.register("record_referral_result")(record_referral_result)


def record_referral(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """One referral per task (idempotency key): a retried step returns the referral it made."""
    session = context.session
    existing = session.scalar(
        select(Referral).where(Referral.idempotency_key == context.idempotency_key)
    )
    if existing is not None:
        return _view(existing)
    referral = Referral(
        tracking_number=tracking_number_of(params, context),
        kind=one_of(required_text(params, "kind"), "kind", KINDS),
        target=required_text(params, "target"),
        reason=optional_text(params, "reason"),
        idempotency_key=context.idempotency_key,
        created_at=context.now,
    )
    session.add(referral)
    session.flush()
    return _view(referral)


def record_referral_result(params: dict[str, Any], context: Context) -> dict[str, Any]:
    """Store what the body reported. Which referral: `referral_id` if given, else the newest one
    of this complaint (of `kind`, if given) still without a result. Repeating the same result
    for a referral is a no-op; a different result for an answered referral is refused."""
    session = context.session
    result = required_text(params, "result")
    referral_id = params.get("referral_id")
    if referral_id is not None:
        if isinstance(referral_id, bool) or not isinstance(referral_id, int):
            raise ValueError(f"parameter 'referral_id' must be an integer, got {referral_id!r}")
        referral = session.get(Referral, referral_id)
        if referral is None:
            raise LookupError(f"no referral {referral_id}")
    else:
        number = tracking_number_of(params, context)
        kind = one_of(optional_text(params, "kind"), "kind", KINDS)
        query = select(Referral).where(Referral.tracking_number == number)
        if kind is not None:
            query = query.where(Referral.kind == kind)
        candidates = session.scalars(query.order_by(Referral.id.desc())).all()
        referral = next((r for r in candidates if r.result is None), None) or next(
            (r for r in candidates if r.result == result), None
        )
        if referral is None:
            of_kind = f" of kind {kind}" if kind else ""
            raise LookupError(f"no open referral for {number}{of_kind}")
    if referral.result is not None and referral.result != result:
        raise ValueError(f"referral {referral.id} already has a result")
    if referral.result is None:
        referral.result = result
        referral.reported_at = context.now
        session.flush()
    return _view(referral)


def _view(referral: Referral) -> dict[str, Any]:
    return {
        "referral_id": referral.id,
        "tracking_number": referral.tracking_number,
        "kind": referral.kind,
        "target": referral.target,
        "result": referral.result,
        "created_at": iso(referral.created_at),
        "reported_at": iso(referral.reported_at),
    }
