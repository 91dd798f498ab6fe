"""The per-address limit of the public endpoints (`COMPLAINTS_PUBLIC_RATE_LIMIT`). Counted in the
database table `public_rate_limits` (migration 0005), not in memory: `complaints serve` runs
several gunicorn workers, and a count kept in each worker's memory would let every client have
N times the limit and forget it on every restart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from flask import current_app, request
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, delete
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.dialects import postgresql, sqlite

from .settings import RateLimit

metadata = MetaData()

rate_limits = Table(
    "public_rate_limits",
    metadata,
    Column("bucket", String(64), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("hits", Integer, nullable=False),
)


class RateLimited(Exception):
    """Over the limit; `retry_after` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after} s")
        self.retry_after = retry_after


class RateLimiter:
    """Fixed windows per client address: one atomic upsert per request (the same statement the
    tracking-number counter uses), so concurrent workers never lose a hit. A client can spend at
    most twice the limit across a window boundary; that is the price of one row per window."""

    def __init__(self, sql: SqlEngine, limit: RateLimit | None, now: Callable[[], datetime]):
        self.sql = sql
        self.limit = limit
        self.now = now

    def hit(self, address: str | None) -> None:
        """Count one request of `address`; raises RateLimited when it is one too many."""
        if self.limit is None:
            return
        moment = int(self.now().timestamp())
        window = moment - moment % self.limit.seconds
        bucket = hashlib.sha256((address or "unknown").encode()).hexdigest()
        module = {"postgresql": postgresql, "sqlite": sqlite}.get(self.sql.dialect.name)
        if module is None:
            raise NotImplementedError(f"no rate limit counter for '{self.sql.dialect.name}'")
        statement = (
            module.insert(rate_limits)
            .values(bucket=bucket, window_start=window, hits=1)
            .on_conflict_do_update(
                index_elements=[rate_limits.c.bucket, rate_limits.c.window_start],
                set_={"hits": rate_limits.c.hits + 1},
            )
            .returning(rate_limits.c.hits)
        )
        with self.sql.begin() as connection:
            hits = int(connection.execute(statement).scalar_one())
            if hits == 1:
                # A client's first hit in a window clears windows that are over (indexed).
                connection.execute(delete(rate_limits).where(rate_limits.c.window_start < window))
        if hits > self.limit.hits:
            raise RateLimited(max(1, window + self.limit.seconds - moment))


def the_limiter() -> RateLimiter:
    """Built on first use from the app's settings and engine (nothing at import time)."""
    app = current_app
    limiter = app.extensions.get("complaints.public_limiter")
    if limiter is None:
        settings = app.extensions["complaints.settings"]
        engine = app.extensions["complaints.engine"]
        limiter = RateLimiter(engine.sql, settings.public_rate, engine.clock.now)
        app.extensions["complaints.public_limiter"] = limiter
    return limiter


def limit_this_request() -> None:
    """Count the current request against its client address. Behind a reverse proxy every
    request comes from the proxy: deploy with werkzeug's ProxyFix so the address is the client's."""
    the_limiter().hit(request.remote_addr)
