"""Running Dramatiq workers: ``gateway worker`` (a process for redis:// or amqp://), or threads inside
another process for ``memory://`` (``gateway serve --with-worker``, the demo, tests).

Uses Dramatiq's ``Worker`` API in-process rather than the ``dramatiq`` command, so the broker is set up
from the gateway's settings before any actor is declared, and SIGTERM stops cleanly: workers finish the
message in hand, unstarted ones go back to the broker.
"""

from __future__ import annotations

import logging
import signal
import threading

import dramatiq

from gateway.pipeline.broker import setup_broker

log = logging.getLogger(__name__)
_running: list[dramatiq.Worker] = []  # workers started in this process (Dramatiq allows one per broker)


def running_worker() -> dramatiq.Worker | None:
    """The worker already running in this process, if any."""
    return _running[-1] if _running else None


def start_worker(*, threads: int = 8, broker: dramatiq.Broker | None = None) -> dramatiq.Worker:
    """Start a Dramatiq worker on the gateway's broker (threads in this process); returns it running."""
    broker = broker or setup_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    _running.append(worker)
    return worker


def stop_worker(worker: dramatiq.Worker, *, timeout_ms: int = 30_000) -> None:
    """Stop after the messages in hand; then close this process's channels."""
    from gateway.pipeline.collaborators import close_channels

    worker.stop(timeout=timeout_ms)
    if worker in _running:
        _running.remove(worker)
    close_channels()


def run_worker(*, threads: int = 8, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``): the body of ``gateway worker``."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    worker = start_worker(threads=threads)
    log.info("worker started", extra={"threads": threads, "broker": type(worker.broker).__name__})
    try:
        stop.wait()
    finally:
        stop_worker(worker)
        log.info("worker stopped")
