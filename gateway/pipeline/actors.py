"""The Dramatiq actors, and handing ids to them: the pipeline's only link to the broker.

The actors are declared on the gateway's broker (``gateway.pipeline.broker``; set up from settings first if
nothing set it up earlier) and given to it (``register_actors``), so a later switch of broker moves them over;
the broker never imports this module.

Actors carry ids only and are idempotent: each loads its row, checks its state and does nothing when the work
is done (Dramatiq delivers at least once). Whatever an actor queues goes to the workers when its transaction
commits (``outbox.send_after_commit``). ``enqueue_sends``, ``enqueue_inbound`` and ``enqueue_reconcile`` are
what the work-queue port (``ports.WorkQueue``, ``gateway.wiring.DramatiqQueue``) calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dramatiq
from sqlalchemy import update

from gateway.models import OutboxMessage
from gateway.pipeline.broker import ensure_broker_before_actors, register_actors
from gateway.pipeline.delivery import send_outbox_message
from gateway.pipeline.reconcile import reconcile_stuck_message
from gateway.pipeline.replies import process_inbound_message
from gateway.pipeline.reply_translation import translate_reply

ensure_broker_before_actors()

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="outbox", max_retries=5)
def send_message(outbox_id: int) -> None:
    """Send outbox row ``outbox_id`` (claim → provider → record); a fallback it plans goes after commit."""
    send_outbox_message(outbox_id)


@dramatiq.actor(queue_name="outbox", max_retries=3)
def reconcile_message(outbox_id: int) -> None:
    """Resolve a row a dead worker left in ``sending`` (see gateway.pipeline.reconcile)."""
    reconcile_stuck_message(outbox_id)


@dramatiq.actor(queue_name="inbound", max_retries=5)
def process_inbound(inbound_id: int) -> None:
    """Match a recorded inbound text or keypad answer to its adult and case, and act on it."""
    process_inbound_message(inbound_id)
    translate_reply(inbound_id)  # an English translation for staff, only when GATEWAY_TRANSLATE_URL is set


ALL_ACTORS = (send_message, reconcile_message, process_inbound)
QUEUES = ("outbox", "inbound")
register_actors(ALL_ACTORS)


def enqueue_sends(ids: Iterable[int]) -> int:
    """Hand committed outbox ids to the workers. Sending an id twice is harmless: the actor is idempotent."""
    id_list = list(ids)
    count = 0
    try:
        for outbox_id in id_list:
            send_message.send(outbox_id)
            count += 1
    except Exception:  # the broker is down: the rows are committed, so the scheduler hands them over later
        log.warning("broker unavailable; the scheduler will enqueue the rest", extra={"sent": count},
                    exc_info=True)
        _forget_enqueued(id_list[count:])
    return count


def _forget_enqueued(ids: list[int]) -> None:
    """Clear ``enqueued_at`` so the scheduler's next pass hands these rows over (best effort)."""
    from gateway.db import session_scope

    try:
        with session_scope() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(enqueued_at=None)
                            .execution_options(synchronize_session=False))
    except Exception:  # the stale-enqueue rule still recovers them, only later
        log.warning("could not clear enqueued_at", exc_info=True)


def enqueue_inbound(inbound_id: int) -> None:
    """Hand a committed inbound message to the workers (replies are processed off the request path)."""
    process_inbound.send(inbound_id)


def enqueue_reconcile(outbox_ids: Iterable[int]) -> None:
    """Hand rows stuck in ``sending`` to the reconciler."""
    for outbox_id in outbox_ids:
        reconcile_message.send(outbox_id)
