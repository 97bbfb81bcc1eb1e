"""A throw-away PostgreSQL database beside a server URL, for tests and benchmarks that must not collide."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.db import dispose_engines, normalise_url


@contextmanager
def scratch_postgres_database(server_url: str, *, prefix: str = "gwscratch", migrate: bool = True) -> Iterator[str]:
    """Create a uniquely named database on ``server_url``'s server (migrated unless ``migrate`` is False),
    yield its URL, and drop it afterwards whatever happens."""
    from gateway.migrate import upgrade

    server = make_url(normalise_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade(url)
            dispose_engines()
        yield url
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
