"""How the admin pages show things: times in the office's time zone with the offset written out,
and an audit row's data before and after as a field-by-field difference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from engine import AuditView

from .json_api import iso, jsonable

DEFAULT_ZONE = "Asia/Shanghai"


def display_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("COMPLAINTS_DISPLAY_TIMEZONE") or DEFAULT_ZONE)


def local_time(moment: datetime | None) -> str:
    """`2026-03-02 09:00:00 +08:00`: readable, and unambiguous when printed or pasted."""
    if moment is None:
        return ""
    local = moment.astimezone(display_zone())
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


@dataclass(frozen=True)
class Change:
    field: str
    kind: str  # added, removed, changed
    before: str
    after: str


def _shown(value: Any) -> str:
    value = jsonable(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def data_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """Fields that differ, in the order they first appear; unchanged fields are left out. A
    null counts as no value: null to a value is `added`, a value to null `removed`."""
    before = before or {}
    after = after or {}
    changes = []
    for name in dict.fromkeys([*before, *after]):
        old, new = jsonable(before.get(name)), jsonable(after.get(name))
        if old == new:
            continue
        if old is None:
            changes.append(Change(str(name), "added", "", _shown(new)))
        elif new is None:
            changes.append(Change(str(name), "removed", _shown(old), ""))
        else:
            changes.append(Change(str(name), "changed", _shown(old), _shown(new)))
    return changes


def timeline_entry(event: AuditView, names: dict[str, str]) -> dict[str, Any]:
    """One row of an instance's timeline, as the template and the page's script use it."""
    element = event.element_id
    return {
        "id": int(event.id),
        "at": iso(event.at),
        "at_local": local_time(event.at),
        "actor": event.actor,
        "event": event.event,
        "task_id": event.task_id,
        "element_id": element,
        "element_name": names.get(element, "") if element else "",
        "changes": [c.__dict__ for c in data_diff(event.data_before, event.data_after)],
        "reason": event.reason,
        "detail": _shown(event.detail) if event.detail else "",
    }
