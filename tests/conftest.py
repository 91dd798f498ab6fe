"""Shared fixtures: an injected clock, engines on SQLite files and on a private PostgreSQL
database, and the small test process bundle."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.composition import bundle_files, compile_form
from engine import Actor, Engine
from tests.clock import TravelClock

TESTS = Path(__file__).resolve().parent
DEMO_PROCESSES = TESTS / "processes"
PG_SERVER = os.environ.get("COMPLAINTS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing

ADMIN = Actor("admin", frozenset({"admin"}), admin=True)
INTAKE = Actor("li.intake", frozenset({"intake"}))
ENFORCEMENT = Actor("wang.enforce", frozenset({"enforcement"}))


def shared_dir() -> Path | None:
    """`shared/` sits beside the checkout, locally and in CI."""
    candidates = [os.environ.get("COMPLAINTS_SHARED_DIR"), TESTS.parents[1] / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "conformance").is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def clock() -> Iterator[TravelClock]:
    travel = TravelClock(START)
    yield travel
    travel.stop()


class Calls:
    """Records what handlers were asked to do: the notification transport edge of the tests."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict, str]] = []

    def handler(self, name: str, result: object = None):
        def handle(params: dict, context) -> object:
            self.seen.append((name, params, context.idempotency_key))
            return result if result is not None else {"ok": True}

        return handle

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]


@pytest.fixture
def calls() -> Calls:
    return Calls()


def demo_handlers(calls: Calls) -> dict:
    return {
        "number": calls.handler("number", {"tracking_number": "T-0001"}),
        "remind": calls.handler("remind"),
    }


def new_engine(url: str, calls: Calls, clock: TravelClock, **kwargs) -> Engine:
    engine = Engine(
        url, handlers=demo_handlers(calls), compile_form=compile_form, clock=clock, **kwargs
    )
    engine.create_schema()
    return engine


SUITE_SERVER = os.environ.get("COMPLAINTS_TEST_DATABASE_URL")
"""When set (a server URL such as postgresql+psycopg://postgres@127.0.0.1:5432), the whole suite
runs on that server: every test gets a database of its own, dropped afterwards."""


@pytest.fixture(scope="session")
def suite_template() -> Iterator[str | None]:
    """On PostgreSQL, one migrated database that every test's database is copied from: copying
    is far cheaper than running the migrations per test."""
    if not SUITE_SERVER:
        yield None
        return
    from engine import db

    name = f"complaints_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{SUITE_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    migrated = db.connect(f"{SUITE_SERVER}/{name}")
    db.upgrade(migrated)
    migrated.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, suite_template: str | None) -> Iterator[str]:
    """The database of a test: a SQLite file by default, or a private PostgreSQL database."""
    if not SUITE_SERVER:
        yield f"sqlite:///{tmp_path / 'engine.db'}"
        return
    yield from _private_database(SUITE_SERVER, template=suite_template)


def _private_database(server: str, template: str | None = None) -> Iterator[str]:
    name = f"complaints_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(sqlite_url: str, calls: Calls, clock: TravelClock) -> Iterator[Engine]:
    engine = new_engine(sqlite_url, calls, clock)
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        probe = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL server answers at {PG_SERVER}: {err}")
    return PG_SERVER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A database of its own per test, dropped afterwards, so runs never collide."""
    yield from _private_database(pg_server)
