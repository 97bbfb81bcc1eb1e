"""Issue 6: the delivery pipeline's own overhead — outbox rows sent per second end to end (claim, send,
record) with the stub broker and in-process worker threads, through an in-memory channel, on SQLite and (when
configured) PostgreSQL. The channel costs nothing here, so the figure is the pipeline's ceiling on this machine;
the crash drill in tests/pipeline/test_crash.py measures the same path through the Twilio sandbox.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bench.common import PG_URL, BenchResult
from channels.memory import MemoryChannel
from gateway import clock
from gateway.config import get_settings
from gateway.db import dispose_engines, get_engine
from gateway.devtools.scratch_db import scratch_postgres_database
from gateway.migrate import upgrade
from gateway.models import OutboxMessage, OutboxState


class _Channels:
    def __init__(self) -> None:
        self.sms = MemoryChannel("sms")
        self.email, self.voice = self.sms, self.sms

    def close(self) -> None:
        return None


def _fill(url: str, count: int) -> None:
    now = clock.now()
    with Session(get_engine(url)) as session:
        session.execute(insert(OutboxMessage), [
            {"idempotency_key": f"bench:{i}", "kind": "absence_first_day", "channel": "sms",
             "to_address": f"+4477009{i:05d}", "text": f"bench {i}", "state": OutboxState.QUEUED, "locale": "en-GB",
             "variant": "standard", "pupil_ids": [], "fallback_channels": [], "context": {}, "attempts": 0,
             "same_day": False, "created_at": now, "queued_at": now, "updated_at": now} for i in range(count)])
        session.commit()


def _run_one(url: str, count: int, threads: int) -> float:
    from gateway.pipeline import ports
    from gateway.pipeline.actors import QUEUES, enqueue_sends
    from gateway.pipeline.broker import reset_broker, setup_broker
    from gateway.pipeline.worker import start_worker, stop_worker

    os.environ["GATEWAY_DATABASE_URL"] = url
    get_settings.cache_clear()
    _fill(url, count)
    reset_broker()
    broker = setup_broker("memory://")
    with ports.using(replace(ports.current(), channels=_Channels())):
        worker = start_worker(threads=threads, broker=broker)
        try:
            with Session(get_engine(url)) as session:
                ids = list(session.scalars(select(OutboxMessage.id)))
            started = time.perf_counter()
            enqueue_sends(ids)
            for queue in QUEUES:
                broker.join(queue, timeout=600_000)
            worker.join()
            elapsed = time.perf_counter() - started
        finally:
            stop_worker(worker)
            reset_broker()
    with Session(get_engine(url)) as session:
        accepted = session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state == OutboxState.ACCEPTED))
    if accepted != count:
        raise RuntimeError(f"only {accepted} of {count} accepted")
    return count / elapsed


def run(quick: bool = False) -> list[BenchResult]:
    """Messages per second through the pipeline on SQLite and PostgreSQL."""
    count = 500 if quick else 3000
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        rate = _run_one(url, count, threads=4)
        results.append(BenchResult(6, "pipeline send rate (SQLite, stub broker, memory channel)", rate, "msg/s",
                                   ">= 50", rate >= 50, f"{count} messages, 4 worker threads"))
        dispose_engines()
    if PG_URL:
        with scratch_postgres_database(PG_URL, prefix="gwbench") as url:
            rate = _run_one(url, count, threads=8)
            results.append(BenchResult(6, "pipeline send rate (PostgreSQL, stub broker, memory channel)", rate,
                                       "msg/s", ">= 50", rate >= 50, f"{count} messages, 8 worker threads"))
    return results
