"""Configuration from `COMPLAINTS_*` environment variables, read once by the composition root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str
    processes_dir: Path
    forms_dir: Path
    secret_key: str
    public_rate_limit: str
    timer_interval_seconds: float
    timer_batch: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        default_db = f"sqlite:///{ROOT / 'var' / 'complaints.db'}"
        return cls(
            database_url=env.get("COMPLAINTS_DATABASE_URL", default_db),
            processes_dir=Path(env.get("COMPLAINTS_PROCESSES_DIR", ROOT / "processes")),
            forms_dir=Path(env.get("COMPLAINTS_FORMS_DIR", ROOT / "forms")),
            secret_key=env.get("COMPLAINTS_SECRET_KEY", ""),
            public_rate_limit=env.get("COMPLAINTS_PUBLIC_RATE_LIMIT", "30/minute"),
            timer_interval_seconds=float(env.get("COMPLAINTS_TIMER_INTERVAL", "0.25")),
            timer_batch=int(env.get("COMPLAINTS_TIMER_BATCH", "200")),
        )
