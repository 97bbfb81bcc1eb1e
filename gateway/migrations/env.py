"""Alembic environment: the URL or connection comes from ``gateway.migrate``, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import gateway.models  # noqa: F401  (registers every table on the metadata)
from gateway.db import get_engine
from gateway.models.base import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with get_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
        conn.commit()
