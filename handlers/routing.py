"""Routing a complaint to the local bureau of the place concerned (属地管理): the candidate group
of that bureau is `bureau:<region code>`."""

from __future__ import annotations

import re
from typing import Any

from .context import Context
from .regions import NAMES, full_name
from .times import iso

_CODE = re.compile(r"[0-9]{6}")


def register(registry: Any) -> None:
    registry.register("route_to_region")(route_to_region)


def check_region_code(code: object) -> str:
    """Six ASCII digits or ValueError; unknown but well-formed codes are allowed because the
    division list changes more often than this table."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError("region_code must be 6 digits")
    return code


def route_to_region(params: dict[str, Any], context: Context) -> dict[str, str]:
    """{"bureau_group", "region_code", "region_name", "region_full_name"}; the names are "" for
    a code outside the built-in Hubei table, and the group is still `bureau:<code>`."""
    code = check_region_code(params.get("region_code"))
    return {
        "bureau_group": f"bureau:{code}",
        "region_code": code,
        "region_name": NAMES.get(code, ""),
        "region_full_name": full_name(code),
        "routed_at": iso(context.now),
    }
