"""Issue 19: the database work of sending one message — statements, commits and milliseconds a message.

``send_outbox_message`` over rows already queued, one after another, with an in-memory channel that answers
at once: what is timed is the claim, the safeguarding checks and the record of the provider's answer, on
SQLite (a file, as the embedded default runs) and on PostgreSQL when configured. Statements are counted at
the driver (SQLAlchemy's ``before_cursor_execute``), commits at the connection, and pool checkouts apart
(on PostgreSQL each checkout also pings the server: ``pool_pre_ping``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.common import PG_URL, BenchResult

ISSUE = 19
ADULTS = 50


@dataclass
class Counts:
    statements: int = 0
    commits: int = 0
    checkouts: int = 0


@contextmanager
def _database(backend: str) -> Iterator[str]:
    from gateway.db import dispose_engines
    from gateway.devtools.scratch_db import scratch_postgres_database
    from gateway.migrate import upgrade

    if backend == "postgresql":
        with scratch_postgres_database(PG_URL or "", prefix="gwbench") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-send-db-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        dispose_engines()
        yield url


@contextmanager
def _settings_for(url: str) -> Iterator[None]:
    """Point the gateway's settings (and so ``session_scope``) at ``url`` for the block."""
    from gateway.config import get_settings
    from gateway.db import dispose_engines

    before = os.environ.get("GATEWAY_DATABASE_URL")
    os.environ["GATEWAY_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield
    finally:
        dispose_engines()
        if before is None:
            os.environ.pop("GATEWAY_DATABASE_URL", None)
        else:
            os.environ["GATEWAY_DATABASE_URL"] = before
        get_settings.cache_clear()


def _queue_rows(count: int) -> list[int]:
    """``count`` queued texts to ``ADULTS`` adults, each with a mobile (the safeguarding checks run for each)."""
    from gateway.db import session_scope
    from gateway.models import Adult, ContactKind, ContactPoint, OutboxMessage

    with session_scope() as session:
        adults = [Adult(forename="Parent", surname=f"Bench{n}") for n in range(ADULTS)]
        session.add_all(adults)
        session.flush()
        numbers = [f"+4477009{n:05d}" for n in range(ADULTS)]
        session.add_all(ContactPoint(adult_id=adult.id, kind=ContactKind.MOBILE, value=number, sms_capable=True)
                        for adult, number in zip(adults, numbers, strict=True))
        rows = [OutboxMessage(idempotency_key=f"bench-send-db-{n}", kind="absence", channel="sms",
                              to_address=numbers[n % ADULTS], adult_id=adults[n % ADULTS].id,
                              text="Amira was not in school today. Please reply with the reason.")
                for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _counting(engine: Engine, counts: Counts) -> list[tuple[Any, str, Any]]:
    def statement(*_: Any) -> None:
        counts.statements += 1

    def commit(*_: Any) -> None:
        counts.commits += 1

    def checkout(*_: Any) -> None:
        counts.checkouts += 1

    listeners: list[tuple[Any, str, Any]] = [(engine, "before_cursor_execute", statement),
                                             (engine, "commit", commit), (engine.pool, "checkout", checkout)]
    for target, name, function in listeners:
        event.listen(target, name, function)
    return listeners


def measure(backend: str, count: int) -> list[BenchResult]:
    """Send ``count`` queued texts one after another; the DB work per message."""
    from channels.memory import MemoryChannel
    from gateway.db import get_engine
    from gateway.pipeline import ports
    from gateway.pipeline.delivery import send_outbox_message

    class Channels:
        sms, email, voice = MemoryChannel("sms"), MemoryChannel("email"), MemoryChannel("voice")

        def close(self) -> None:
            return None

    with _database(backend) as url, _settings_for(url), \
            ports.using(replace(ports.current(), channels=Channels())):
        ids = _queue_rows(count + 10)
        for outbox_id in ids[:10]:  # warm up: connections, compiled statements
            send_outbox_message(outbox_id)
        counts = Counts()
        listeners = _counting(get_engine(url), counts)
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            outcomes = [send_outbox_message(outbox_id).state for outbox_id in ids[10:]]
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        finally:
            for target, name, function in listeners:
                event.remove(target, name, function)
    if outcomes.count("accepted") != count:
        raise RuntimeError(f"{outcomes.count('accepted')} of {count} messages accepted")
    note = f"{count} texts sent one after another, in-memory channel; {backend}"
    return [
        BenchResult(ISSUE, f"send path DB ({backend}): time a message", 1000 * elapsed / count, "ms", "", None, note),
        BenchResult(ISSUE, f"send path DB ({backend}): worker CPU a message", 1000 * cpu / count, "ms", "", None,
                    "this process only (SQLite's work included, PostgreSQL's not)"),
        BenchResult(ISSUE, f"send path DB ({backend}): statements a message", counts.statements / count,
                    "statements", "", None, "claim, safeguarding checks, record"),
        BenchResult(ISSUE, f"send path DB ({backend}): commits a message", counts.commits / count, "commits", "",
                    None, "the claim is committed before the provider is called"),
        BenchResult(ISSUE, f"send path DB ({backend}): pool checkouts a message", counts.checkouts / count,
                    "checkouts", "", None, "PostgreSQL pings the server at each (pool_pre_ping)"),
    ]


def run(quick: bool = False) -> list[BenchResult]:
    count = 300 if quick else 2000
    results = measure("sqlite", count)
    if PG_URL:
        results += measure("postgresql", count)
    return results


if __name__ == "__main__":
    import sys

    for result in run(quick="--quick" in sys.argv):
        print(f"{result.name:60s} {result.value:8.2f} {result.unit}")
