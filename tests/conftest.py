"""Shared fixtures: a migrated database on SQLite and, when configured, on PostgreSQL.

``GATEWAY_TEST_DATABASE_URL`` names a PostgreSQL server database we may connect to; each test run creates
its own database beside it (so parallel runs never collide) and drops it at the end.
``GATEWAY_TEST_REDIS_URL`` names a Redis server; tests using it pick a unique key namespace.
"""

from __future__ import annotations

import os

# Dramatiq's consumer thread, once paused (``Pipeline.broker_paused``), sleeps its restart delay (3 s) before it
# looks again: the tests pause and resume often, so a short delay (read when dramatiq is imported, hence here).
os.environ.setdefault("dramatiq_restart_delay", "100")

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.config import get_settings
from gateway.db import dispose_engines, get_engine
from gateway.devtools.scratch_db import scratch_postgres_database
from gateway.migrate import upgrade
from gateway.models import Base

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=[pytest.mark.postgres]),
]


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"postgres tests: {'ON (' + PG_URL + ')' if PG_URL else 'SKIPPED (GATEWAY_TEST_DATABASE_URL not set)'}",
        f"redis tests: {'ON (' + REDIS_URL + ')' if REDIS_URL else 'SKIPPED (GATEWAY_TEST_REDIS_URL not set)'}",
    ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not PG_URL:
        terminalreporter.write_line("NOTE: PostgreSQL tests were skipped: GATEWAY_TEST_DATABASE_URL is not set")
    if not REDIS_URL:
        terminalreporter.write_line("NOTE: Redis tests were skipped: GATEWAY_TEST_REDIS_URL is not set")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("GATEWAY_TEST_DATABASE_URL not set")
    with scratch_postgres_database(PG_URL, prefix="gwtest") as url:
        yield url


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated, empty database, on each backend; the gateway's settings point at it."""
    if request.param == "sqlite":
        path = tmp_path / "gateway.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        yield url
    finally:
        if request.param == "postgres":
            _truncate_all(get_engine(url))
        dispose_engines()
        gateway_clock.set_clock(None)
        get_settings.cache_clear()


@pytest.fixture
def engine(database_url: str) -> Engine:
    return get_engine(database_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as db:
        yield db


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("GATEWAY_TEST_REDIS_URL not set")
    return REDIS_URL
