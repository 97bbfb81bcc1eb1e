"""Running the web app: ``gateway serve`` (uvicorn), optionally with the worker and the scheduler in-process,
and in sandbox mode with the Twilio sandbox mounted in the app and the SMTP sandbox beside it.

In sandbox mode two settings follow from where the server listens, unless they were set explicitly:
``GATEWAY_PUBLIC_URL`` (what webhook signatures are checked against; the sandbox signs its callbacks with
it) becomes this server's address, and ``TWILIO_API_URL`` points at the sandbox mounted at
``/sandbox/twilio``. Both are set in the environment before anything reads the settings, so the worker
threads, the webhooks and the pages agree.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway.config import Settings, get_settings

log = logging.getLogger(__name__)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def local_address(host: str, port: int) -> str:
    """The URL this process can reach itself on (a wildcard bind is reached over loopback)."""
    reach = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - comparing, not binding
    if ":" in reach:
        reach = f"[{reach}]"
    return f"http://{reach}:{port}"


def prepare_sandbox_environment(host: str, port: int) -> Settings:
    """Point the public URL and the Twilio API at this server when in sandbox mode (see module doc)."""
    settings = get_settings()
    if not settings.sandbox:
        return settings
    here = local_address(host, port)
    changed = False
    if "GATEWAY_PUBLIC_URL" not in os.environ and settings.public_url == DEFAULT_PUBLIC_URL and \
            here != DEFAULT_PUBLIC_URL:
        os.environ["GATEWAY_PUBLIC_URL"] = here
        changed = True
    if "TWILIO_API_URL" not in os.environ and settings.twilio_api_url == "https://api.twilio.com":
        from gateway.web.app import SANDBOX_TWILIO_MOUNT

        os.environ["TWILIO_API_URL"] = here + SANDBOX_TWILIO_MOUNT
        changed = True
    if changed:
        get_settings.cache_clear()
    return get_settings()


@dataclass
class Background:
    """What runs beside the web server: the SMTP sandbox, the worker, the scheduler."""

    mailbox: Any = None
    stops: list[Any] = field(default_factory=list)


def _start_smtp_sandbox(settings: Settings) -> Any:
    """The SMTP sandbox where the e-mail channel sends in sandbox mode (None if that port is taken)."""
    from channels.sandbox.smtp_server import start_smtp_sandbox
    from gateway.channel_config import sandbox_smtp_address

    host, port = sandbox_smtp_address(settings)
    try:
        return start_smtp_sandbox(host=host, port=port)
    except (OSError, RuntimeError):
        log.warning("SMTP sandbox port taken; e-mail goes to whichever sandbox listens there", extra={"port": port})
        return None


@contextmanager
def background_services(settings: Settings, *, with_worker: bool,
                        worker_threads: int | None = None) -> Iterator[Background]:
    """Start the sandboxes (sandbox mode) and, with ``with_worker``, the worker and scheduler; stop on exit."""
    background = Background()
    with ExitStack() as stack:
        if settings.sandbox:
            smtp = _start_smtp_sandbox(settings)
            if smtp is not None:
                stack.callback(smtp.stop)
                background.mailbox = smtp.mailbox
        if with_worker:
            from gateway.pipeline.broker import setup_broker
            from gateway.pipeline.scheduler import start_in_thread
            from gateway.pipeline.worker import start_worker, stop_worker

            broker = setup_broker()
            worker = start_worker(threads=worker_threads, broker=broker)
            stack.callback(stop_worker, worker, timeout_ms=10_000)
            thread, stop = start_in_thread()
            stack.callback(thread.join, 10)
            stack.callback(stop.set)
            log.info("worker and scheduler started in-process", extra={"threads": worker.worker_threads})
        yield background


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings: ``X-Forwarded-For``/``-Proto`` are believed only from GATEWAY_TRUSTED_PROXIES,
    and with none set not at all (uvicorn would otherwise trust 127.0.0.1, or FORWARDED_ALLOW_IPS)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


def build_server(app: Any, host: str, port: int, settings: Settings | None = None) -> Any:
    """A uvicorn server for ``app`` (no access log: URLs may carry ids, and the log stays small)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                            timeout_keep_alive=30, **proxy_options(settings or get_settings()))
    return uvicorn.Server(config)


def app_from_environment() -> Any:
    """The app for each of uvicorn's worker processes (``--workers N``): settings from the environment."""
    from gateway.web.app import create_app

    return create_app(get_settings(), local_url=os.environ.get("GATEWAY_LOCAL_URL"))


def serve_processes(host: str, port: int, workers: int, announce: Any = print) -> None:
    """Run ``workers`` uvicorn processes sharing the port (webhooks and pages only: no in-process worker, and
    each process has its own sandbox state, so use a redis:// or amqp:// broker and ``gateway worker``)."""
    import uvicorn

    settings = prepare_sandbox_environment(host, port)
    settings.check_sandbox_exposure()
    os.environ["GATEWAY_LOCAL_URL"] = local_address(host, port)
    announce(f"Parent gateway on {local_address(host, port)}/ ({workers} processes"
             + (", sandbox channels" if settings.sandbox else "") + ")")
    uvicorn.run("gateway.web.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30,
                **proxy_options(settings))


def serve(host: str = "127.0.0.1", port: int = 8000, *, with_worker: bool = False, workers: int = 1,
          announce: Any = print) -> None:
    """Run the web app until interrupted (the body of ``gateway serve``)."""
    from gateway.web.app import create_app

    if workers > 1:
        if with_worker:
            raise ValueError("--workers above 1 cannot be combined with --with-worker: run `gateway worker` "
                             "beside it with a redis:// or amqp:// broker")
        serve_processes(host, port, workers, announce)
        return
    settings = prepare_sandbox_environment(host, port)
    settings.check_sandbox_exposure()  # before starting anything
    with background_services(settings, with_worker=with_worker) as background:
        app = create_app(settings, mailbox=background.mailbox, local_url=local_address(host, port))
        server = build_server(app, host, port, settings)
        announce(f"Parent gateway on {local_address(host, port)}/"
                 + (" (sandbox channels)" if settings.sandbox else "")
                 + (" with the worker and scheduler in this process" if with_worker else ""))
        _keep_cleanup_on_signals()
        server.run()


def _keep_cleanup_on_signals() -> None:
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; with the default handlers that kills the
    process before the worker has finished the messages in hand. No-op handlers let ``serve`` return and
    stop the worker and scheduler cleanly (uvicorn still sees the signal first and shuts down)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
