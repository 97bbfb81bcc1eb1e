"""Engines and sessions. One session per request and per task; commit before enqueueing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SUPPORTED_SCHEMES = ("sqlite", "postgresql")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs; refuse, in one line each (``ConfigError``), a malformed URL, an
    unsupported database, and a SQLite file in a folder that does not exist (a typo would otherwise create a new,
    empty database). Only the gateway's own ``var`` folder (GATEWAY_VAR_DIR) is created when missing."""
    from sqlalchemy.exc import ArgumentError

    from gateway.config import ConfigError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("GATEWAY_DATABASE_URL is not a database URL (e.g. sqlite:///var/gateway.db or "
                          "postgresql://user@host/dbname)") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.split("+")[0] not in SUPPORTED_SCHEMES:
        raise ConfigError(f"GATEWAY_DATABASE_URL: {parsed.drivername.split('+')[0]!r} databases are not supported "
                          f"(use sqlite:/// or postgresql://)")
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            if folder.resolve() != _var_dir():
                raise ConfigError(f"GATEWAY_DATABASE_URL: the folder {folder} does not exist (create it, or fix "
                                  f"the path)")
            folder.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def _var_dir() -> Path:
    from gateway.config import get_settings

    try:
        return Path(get_settings().var_dir).resolve()
    except Exception:  # settings that do not load: no folder is the gateway's own
        return Path("var").resolve()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A bounded pool per process, however many threads it runs: a worker sized for TWILIO_MPS may run 64 (see
    # gateway.pipeline.worker), but each holds a connection only for its claim and its record, so threads
    # wait briefly for a connection rather than each opening one and exhausting max_connections (100).
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=60)


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()  # a worker's threads all start at once: one engine (one pool) per URL


def _engine_for(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        with _ENGINES_LOCK:
            engine = _ENGINES.get(url)
            if engine is None:
                engine = _ENGINES[url] = make_engine(url)
    return engine


def get_engine(url: str | None = None) -> Engine:
    if url is None:
        from gateway.config import get_settings

        url = get_settings().database_url
    return _engine_for(url)


_FACTORIES: dict[Engine, sessionmaker[Session]] = {}


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """The session factory of ``engine`` (one per engine: building a sessionmaker is not free)."""
    engine = engine or get_engine()
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES.setdefault(engine, sessionmaker(bind=engine, expire_on_commit=False))
    return factory


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, and workers after a fork)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _FACTORIES.clear()
