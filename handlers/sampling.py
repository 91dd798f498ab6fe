"""Choosing closed complaints for a return visit: a stable sample, so a retried step or a second
look at the same complaint gives the same answer and the office can plan its calls."""

from __future__ import annotations

import zlib
from typing import Any

from .context import Context, tracking_number_of


def register(registry: Any) -> None:
    registry.register("sample_return_visit")(sample_return_visit)


def sample_return_visit(params: dict[str, Any], context: Context) -> dict[str, bool]:
    """{"sampled": bool}: one complaint in `rate` (default 10), chosen by the tracking number."""
    rate = params.get("rate", 10)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise ValueError(f"parameter 'rate' must be a positive integer, got {rate!r}")
    number = tracking_number_of(params, context)
    return {"sampled": is_sampled(number, rate)}


def is_sampled(tracking_number: str, rate: int) -> bool:
    return zlib.crc32(tracking_number.encode()) % rate == 0
