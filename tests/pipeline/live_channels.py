"""The live pipeline the end-to-end tests share: workers on a real broker (Redis with PostgreSQL, the stub broker
with SQLite) sending through the real channels to the local Twilio and SMTP sandboxes, gateway time fixed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import dramatiq
import pytest

from gateway import clock as gateway_clock
from gateway.channel_config import running_sandboxes
from gateway.clock import FixedClock
from gateway.config import get_settings
from gateway.pipeline import ports
from gateway.pipeline.actors import QUEUES
from gateway.pipeline.broker import reset_broker, setup_broker
from gateway.pipeline.worker import start_worker, stop_worker
from tests.conftest import REDIS_URL

Live = tuple[dramatiq.Broker, dramatiq.Worker, Any, Any]  # broker, worker, Twilio sandbox, SMTP sandbox


def broker_url_for(database_url: str) -> str:
    """The stub broker with SQLite; Redis with PostgreSQL (skips when no test Redis is configured)."""
    if database_url.startswith("sqlite"):
        return "memory://"
    if not REDIS_URL:
        pytest.skip("the PostgreSQL end-to-end run needs GATEWAY_TEST_REDIS_URL too")
    return REDIS_URL


@contextmanager
def live_channels(broker_url: str, clock: FixedClock, *, send_callbacks: bool = False) -> Iterator[Live]:
    """Start the sandboxes, the channels and four worker threads; stop and clean everything afterwards.
    ``send_callbacks``: the Twilio sandbox posts status callbacks (only when a webhook server is listening)."""
    from channels.factory import build_channels

    gateway_clock.set_clock(clock)
    reset_broker()
    broker = setup_broker(broker_url, namespace=f"gwtest-{uuid.uuid4().hex[:8]}")
    try:
        with running_sandboxes(get_settings()) as (config, twilio, smtp):
            twilio.state.send_callbacks = send_callbacks
            channels = build_channels(config)
            with ports.using(replace(ports.current(), channels=channels)):
                worker = start_worker(threads=4, broker=broker)
                try:
                    yield broker, worker, twilio, smtp
                finally:
                    stop_worker(worker)
                    channels.close()
                    if hasattr(broker, "flush_all"):
                        broker.flush_all()
    finally:
        reset_broker()
        gateway_clock.set_clock(None)


def drain(broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
    """Wait until every queue is empty and the workers idle (actors enqueue follow-ups: join until quiet)."""
    for _ in range(3):
        for queue in QUEUES:
            broker.join(queue, timeout=60_000)
        worker.join()
