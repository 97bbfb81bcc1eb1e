"""Running Dramatiq workers: ``gateway worker`` (a process for redis:// or amqp://), or threads inside
another process for ``memory://`` (``gateway serve --with-worker``, the demo, tests).

Uses Dramatiq's ``Worker`` API in-process rather than the ``dramatiq`` command, so the broker is set up
from the gateway's settings before any actor is declared, and SIGTERM stops cleanly: workers finish the
message in hand, unstarted ones go back to the broker.

How many threads. A send holds its thread for the provider's answer, so reaching the cap takes about
``TWILIO_MPS`` x (the provider's latency + our own work per send) sends in flight (Little's law): 50 MPS at
0.4 s is 25. :func:`default_threads` sizes each worker process from ``TWILIO_MPS`` and
``TWILIO_EXPECTED_LATENCY``, with headroom, bounded (``GATEWAY_WORKER_THREADS`` or ``--threads`` fix it).
More threads than that never send faster than the cap: the shared rate limiter holds them back, and a
thread waiting for a permit holds no database connection (the claim is committed before the provider call).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from typing import TYPE_CHECKING

import dramatiq

from gateway.pipeline.broker import setup_broker

if TYPE_CHECKING:
    from gateway.config import Settings

log = logging.getLogger(__name__)
_running: list[dramatiq.Worker] = []  # workers started in this process (Dramatiq allows one per broker)

MIN_THREADS = 8  # e-mails, inbound replies and reconciliation share the worker with the texts
MAX_THREADS = 64  # bounded: past this a process only adds contention (scale out with `gateway worker`)
SEND_OVERHEAD_SECONDS = 0.1  # our own work per send beyond the provider's answer: claim, record, the client
HEADROOM = 1.25  # for a provider that answers slower than expected, and a busy machine


def send_threads(mps: float, latency: float) -> int:
    """Worker threads that keep ``mps`` sends per second going when the provider answers in ``latency`` s."""
    in_flight = mps * (latency + SEND_OVERHEAD_SECONDS) * HEADROOM
    return max(MIN_THREADS, min(MAX_THREADS, math.ceil(in_flight)))


def default_threads(settings: Settings | None = None) -> int:
    """``GATEWAY_WORKER_THREADS`` when set, else :func:`send_threads` for ``TWILIO_MPS`` and
    ``TWILIO_EXPECTED_LATENCY``."""
    if settings is None:
        from gateway.config import get_settings

        settings = get_settings()
    if settings.worker_threads:
        return settings.worker_threads
    return send_threads(settings.twilio_mps, settings.twilio_expected_latency)


def running_worker() -> dramatiq.Worker | None:
    """The worker already running in this process, if any."""
    return _running[-1] if _running else None


def start_worker(*, threads: int | None = None, broker: dramatiq.Broker | None = None) -> dramatiq.Worker:
    """Start a Dramatiq worker on the gateway's broker (threads in this process, default
    :func:`default_threads`); returns it running."""
    from gateway.pipeline import actors  # noqa: F401  (declared on the broker before the worker reads its queues)

    broker = broker or setup_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads or default_threads(), worker_timeout=200)
    worker.start()
    _running.append(worker)
    return worker


def stop_worker(worker: dramatiq.Worker, *, timeout_ms: int = 30_000) -> None:
    """Stop after the messages in hand; then close this process's channels."""
    from gateway.pipeline import ports

    worker.stop(timeout=timeout_ms)
    if worker in _running:
        _running.remove(worker)
    ports.current().channels.close()


def run_worker(*, threads: int | None = None, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``): the body of ``gateway worker``."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    worker = start_worker(threads=threads)
    log.info("worker started", extra={"threads": worker.worker_threads, "broker": type(worker.broker).__name__})
    try:
        stop.wait()
    finally:
        stop_worker(worker)
        log.info("worker stopped")
