"""The Dramatiq actors, declared on the gateway's broker (``gateway.pipeline.broker``), which is set up from
settings before the first actor is declared if nothing set it up earlier.

Actors carry ids only and are idempotent: each loads its row, checks its state and does nothing when the work
is done (Dramatiq delivers at least once). Each commits before it enqueues anything further.
"""

from __future__ import annotations

import logging

import dramatiq

from gateway.pipeline.broker import ensure_broker_before_actors
from gateway.pipeline.delivery import reconcile_stuck_message, send_outbox_message
from gateway.pipeline.outbox import enqueue_sends

ensure_broker_before_actors()

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="outbox", max_retries=5)
def send_message(outbox_id: int) -> None:
    """Send outbox row ``outbox_id`` (claim → provider → record); enqueue any fallback it planned."""
    outcome = send_outbox_message(outbox_id)
    if outcome.enqueue:
        enqueue_sends(outcome.enqueue)


@dramatiq.actor(queue_name="outbox", max_retries=3)
def reconcile_message(outbox_id: int) -> None:
    """Resolve a row a dead worker left in ``sending`` (see gateway.pipeline.delivery)."""
    outcome = reconcile_stuck_message(outbox_id)
    if outcome.enqueue:
        enqueue_sends(outcome.enqueue)


@dramatiq.actor(queue_name="inbound", max_retries=5)
def process_inbound(inbound_id: int) -> None:
    """Match a recorded inbound text or keypad answer to its adult and case, and act on it."""
    from gateway.pipeline.replies import process_inbound_message
    from gateway.pipeline.reply_translation import translate_reply

    enqueue_sends(process_inbound_message(inbound_id))
    translate_reply(inbound_id)  # an English translation for staff, only when GATEWAY_TRANSLATE_URL is set


ALL_ACTORS = (send_message, reconcile_message, process_inbound)
QUEUES = ("outbox", "inbound")
