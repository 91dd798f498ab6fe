"""The context a handler may rely on, described structurally so `handlers` never imports the
engine: anything with these attributes (the engine's HandlerContext, a test double) will do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


class Context(Protocol):
    """`idempotency_key` is stable per instance and task; `session` belongs to the engine's
    transaction: handlers add and flush, they never commit or roll back."""

    idempotency_key: str
    instance_id: int
    process_id: str
    business_key: str | None
    element_id: str
    data: Mapping[str, Any]
    now: datetime
    session: Session


def tracking_number_of(params: Mapping[str, Any], context: Context) -> str:
    """The complaint a step is about: an explicit `tracking_number` parameter (for processes such
    as supervision that run under a key of their own), else the instance's business key."""
    number = params.get("tracking_number") or context.business_key
    if not number:
        raise ValueError("no tracking number: no 'tracking_number' parameter and no business key")
    return str(number)
