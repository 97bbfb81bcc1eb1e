"""Choosing the Dramatiq broker from ``GATEWAY_BROKER_URL`` and binding the gateway's actors to it.

``memory://`` gives Dramatiq's ``StubBroker`` with worker threads inside the same process (``gateway serve
--with-worker``, the demo, tests); ``redis://`` gives ``RedisBroker`` and ``amqp://`` ``RabbitmqBroker`` for
separate ``gateway worker`` processes.

Dramatiq binds an actor to the *global* broker when the actor is declared, so the broker must be set before
``gateway.pipeline.actors`` is imported (it calls :func:`ensure_broker_before_actors` first). The actors are
given to this module (:func:`register_actors`) rather than imported by it: :func:`setup_broker` re-binds the
registered actors when a process (a test) switches brokers later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

_lock = threading.RLock()
_broker: dramatiq.Broker | None = None
_broker_url: str | None = None
_actors: list[dramatiq.Actor[..., None]] = []  # given by gateway.pipeline.actors as it declares them (register_actors)


def register_actors(actors: Iterable[dramatiq.Actor[..., None]]) -> None:
    """The gateway's actors, declared on the current broker: re-bound to every broker set up later."""
    with _lock:
        _actors.extend(actor for actor in actors if actor not in _actors)


def make_broker(url: str, *, namespace: str | None = None) -> dramatiq.Broker:
    """A new broker for ``url`` (memory://, redis://, amqp://) with the gateway's middleware."""
    middleware: list[dramatiq.Middleware] = [m() for m in dramatiq.middleware.default_middleware if m is not Retries]
    middleware.append(Retries(max_retries=5, min_backoff=500, max_backoff=10_000))
    if url.startswith("memory://"):
        return StubBroker(middleware=middleware)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        # A worker killed with SIGKILL loses its unacked messages to the broker for heartbeat_timeout ms;
        # the scheduler re-enqueues them sooner from the database, so the broker's own recovery is a backstop.
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url, middleware=middleware, namespace=namespace or "gateway",
            heartbeat_timeout=15_000, dead_message_ttl=86_400_000)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
    raise ValueError(f"unsupported broker URL {url!r}")


def setup_broker(url: str | None = None, *, namespace: str | None = None) -> dramatiq.Broker:
    """Make the broker for ``url`` (default: settings) the global one and declare every actor on it."""
    global _broker, _broker_url
    if url is None:
        from gateway.config import get_settings

        url = get_settings().broker_url
    with _lock:
        if _broker is not None and _broker_url == url and namespace is None:
            return _broker
        previous = _broker
        broker = make_broker(url, namespace=namespace)
        dramatiq.set_broker(broker)
        _broker, _broker_url = broker, url
        for actor in _actors:  # actors declared later are declared on the broker just set
            if actor.broker is not broker:  # a later switch: move the already-declared actors over
                actor.broker = broker
                broker.declare_actor(actor)
        if previous is not None and previous is not broker:
            previous.close()
        return broker


def ensure_broker_before_actors() -> None:
    """Called by ``gateway.pipeline.actors`` as it is imported: when nothing has set the gateway's broker
    up yet, set it up from settings first, so importing the actors never lets Dramatiq build its default
    (RabbitMQ on localhost) broker for them."""
    global _broker, _broker_url
    with _lock:
        if _broker is None:
            from gateway.config import get_settings

            url = get_settings().broker_url
            _broker, _broker_url = make_broker(url), url
            dramatiq.set_broker(_broker)


def get_pipeline_broker() -> dramatiq.Broker:
    """The broker set up for this process (set up from settings on first use)."""
    return _broker if _broker is not None else setup_broker()


def reset_broker() -> None:
    """Forget the process broker (tests switching databases or brokers)."""
    global _broker, _broker_url
    with _lock:
        if _broker is not None:
            _broker.close()
        _broker, _broker_url = None, None


def is_in_memory() -> bool:
    """True when messages never leave this process (StubBroker): workers must run in-process."""
    return isinstance(get_pipeline_broker(), StubBroker)
