"""Configuration from `COMPLAINTS_*` environment variables, read once by the composition root."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.service import WORKFLOW_CACHE

ROOT = Path(__file__).resolve().parent.parent

# What the task list shows and filters by, copied from the task data onto each task when it becomes
# ready: attribute name -> dotted path into the complaint's data (POST /api/complaints fields).
TASK_ATTRIBUTES = {
    "title": "title",
    "channel": "channel",
    "category": "category",
    "region": "location.region_code",
    "respondent": "respondent",
}
# The attributes free-text search (`q`) reads besides the tracking number.
TASK_SEARCH = ("title", "respondent")
# Who may reveal a complainant's identity on a task they work on; `bureau:*` is every local bureau.
IDENTITY_GROUPS = "intake,petition_office,leader,bureau:*"


@dataclass(frozen=True)
class Settings:
    database_url: str
    processes_dir: Path
    forms_dir: Path
    secret_key: str
    public_rate_limit: str
    timer_interval_seconds: float
    timer_batch: int
    # COMPLAINTS_TIMER_THREADS: timers fired side by side by one worker; unset: by database.
    timer_threads: int | None = None
    # COMPLAINTS_WORKFLOW_CACHE: running instances' workflows kept in memory between steps.
    workflow_cache: int = WORKFLOW_CACHE
    # Open311 API keys (COMPLAINTS_OPEN311_KEYS, comma-separated); none means POST is refused.
    open311_keys: frozenset[str] = field(default=frozenset(), repr=False)
    # Changing these applies to tasks that become ready afterwards; existing rows keep theirs.
    task_attributes: Mapping[str, str] = field(default_factory=lambda: dict(TASK_ATTRIBUTES))
    task_search: tuple[str, ...] = TASK_SEARCH
    # COMPLAINTS_IDENTITY_GROUPS: group names, or `prefix:*` for every group of that prefix.
    identity_groups: frozenset[str] = field(default_factory=lambda: parse_keys(IDENTITY_GROUPS))

    @property
    def public_rate(self) -> RateLimit | None:
        """COMPLAINTS_PUBLIC_RATE_LIMIT parsed; None when switched off ("0")."""
        return parse_rate_limit(self.public_rate_limit)

    def sees_identity(self, groups: Iterable[str]) -> bool:
        """Whether one of `groups` is among the identity groups (`bureau:*` matches any
        `bureau:<region>`); admin rights do not count, only group membership."""
        return any(group_matches(g, self.identity_groups) for g in groups)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        default_db = f"sqlite:///{ROOT / 'var' / 'complaints.db'}"
        settings = cls(
            database_url=env.get("COMPLAINTS_DATABASE_URL", default_db),
            processes_dir=Path(env.get("COMPLAINTS_PROCESSES_DIR", ROOT / "processes")),
            forms_dir=Path(env.get("COMPLAINTS_FORMS_DIR", ROOT / "forms")),
            secret_key=env.get("COMPLAINTS_SECRET_KEY", ""),
            public_rate_limit=env.get("COMPLAINTS_PUBLIC_RATE_LIMIT", "30/minute"),
            timer_interval_seconds=float(env.get("COMPLAINTS_TIMER_INTERVAL", "0.25")),
            timer_batch=int(env.get("COMPLAINTS_TIMER_BATCH", "200")),
            timer_threads=int(env["COMPLAINTS_TIMER_THREADS"])
            if env.get("COMPLAINTS_TIMER_THREADS")
            else None,
            workflow_cache=int(env.get("COMPLAINTS_WORKFLOW_CACHE", WORKFLOW_CACHE)),
            open311_keys=parse_keys(env.get("COMPLAINTS_OPEN311_KEYS", "")),
            identity_groups=parse_keys(env.get("COMPLAINTS_IDENTITY_GROUPS", IDENTITY_GROUPS)),
        )
        parse_rate_limit(settings.public_rate_limit)  # a typo fails at start, not per request
        return settings


@dataclass(frozen=True)
class RateLimit:
    """At most `hits` requests per client address in each window of `seconds`."""

    hits: int
    seconds: int


_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate_limit(text: str) -> RateLimit | None:
    """`30/minute`, `100/hour`, `5/10 seconds`; `0` (or nothing) switches the limit off."""
    if text.strip() in ("", "0"):
        return None
    match = _RATE.fullmatch(text)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"COMPLAINTS_PUBLIC_RATE_LIMIT: expected e.g. 30/minute, 100/hour or 0, got {text!r}"
        )
    count, unit = int(match.group(2) or 1), _UNIT_SECONDS[match.group(3).lower()]
    if count < 1:
        raise ValueError(f"COMPLAINTS_PUBLIC_RATE_LIMIT: the window must be positive: {text!r}")
    return RateLimit(hits=int(match.group(1)), seconds=count * unit)


def parse_keys(text: str) -> frozenset[str]:
    return frozenset(key.strip() for key in text.split(",") if key.strip())


def group_matches(group: str, patterns: frozenset[str]) -> bool:
    """`group` is named in `patterns`, or a pattern `prefix:*` covers it."""
    prefix, colon, _rest = group.partition(":")
    return group in patterns or (bool(colon) and f"{prefix}:*" in patterns)
