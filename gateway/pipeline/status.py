"""Provider status callbacks applied to the outbox: forward only, idempotent, fallback on permanent failure.

Every status Twilio documents for messages and calls has one effect on the outbox (``STATUS_EFFECTS``):

* in flight (queued, accepted, scheduled, sending, sent, delivery_unknown; a call's initiated, ringing,
  in-progress): the state stays (``accepted``); the word is kept on the row as ``provider_status``;
* reached the parent (delivered, read, partially_delivered, an answered call's completed): ``delivered``;
* did not (failed, undelivered, canceled; a call's busy, no-answer): ``failed`` / ``undelivered`` and the
  adult's next channel at once;
* an inbound message's own statuses (receiving, received): nothing of ours changes.

A status word Twilio adds later (parsed as ``unknown``) is kept on the row as ``provider_status`` and logged,
and changes no state: the webhook still answers 2xx, or Twilio would retry it.

States only move forward (accepted → delivered; accepted → failed/undelivered); a final state is never left,
so a late or replayed "sent" or "failed" never undoes a delivery. A permanent failure reported asynchronously
(a landline, an unknown number, a filtered text) moves the adult to the next usable channel at once, as a
synchronous one does. A retryable failure (handset off) is treated the same way for same-day absence
messages, because waiting for the handset could take all day; the contact point is not marked as failed for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.status import StatusUpdate
from gateway import clock
from gateway.models import OutboxMessage, OutboxState
from gateway.models.messaging import FINAL_STATES
from gateway.pipeline.delivery import fail_message, record_permanent_failure

log = logging.getLogger(__name__)

Effect = Literal["in_flight", "delivered", "failed", "undelivered", "inbound", "unknown"]

# Keyed by channels.status.DeliveryStatus values (a call's "in-progress" arrives as "answered").
STATUS_EFFECTS: Mapping[str, Effect] = {
    "queued": "in_flight", "accepted": "in_flight", "scheduled": "in_flight", "sending": "in_flight",
    "sent": "in_flight", "delivery_unknown": "in_flight",
    "initiated": "in_flight", "ringing": "in_flight", "answered": "in_flight",
    "delivered": "delivered", "read": "delivered", "partially_delivered": "delivered", "completed": "delivered",
    "failed": "failed", "canceled": "failed", "no-answer": "failed", "busy": "failed",
    "undelivered": "undelivered",
    "receiving": "inbound", "received": "inbound",
}
# Statuses that are never about one of our messages: no point waiting for the worker to commit a provider id.
NOT_OURS = frozenset(word for word, effect in STATUS_EFFECTS.items() if effect == "inbound")


@dataclass
class StatusResult:
    """What a callback changed (``applied`` false for a duplicate, stale or unknown one; ``state`` None when no
    row has that provider id) and the fallback ids it queued (handed to the workers when the session commits)."""

    applied: bool
    state: str | None = None
    enqueue: list[int] = field(default_factory=list)


def status_word(update: StatusUpdate) -> str:
    return update.status.value


def effect_of(update: StatusUpdate) -> Effect:
    return STATUS_EFFECTS.get(status_word(update), "unknown")


def apply_status(session: Session, update: StatusUpdate) -> StatusResult:
    """Apply one parsed ``channels.status.StatusUpdate`` to the outbox row with its provider id."""
    query = select(OutboxMessage).where(OutboxMessage.provider_id == update.provider_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    effect = effect_of(update)
    raw = (update.provider_status or status_word(update))[:32]
    if effect == "unknown":
        log.warning("status Twilio sent that we do not know: recorded, nothing changed",
                    extra={"provider_id": update.provider_id, "provider_status": raw,
                           "outbox_id": row.id if row else None})
    if row is None:
        log.info("status for an unknown provider id", extra={"provider_id": update.provider_id})
        return StatusResult(False)
    if row.state in FINAL_STATES:
        return StatusResult(False, row.state.value)  # final: never move backwards
    now = clock.now()
    row.provider_status = raw
    row.updated_at = now
    if effect == "delivered":
        if update.kind == "voice" and update.reached_machine:
            row.error_reason = "voicemail"  # a message was left; the ladder still waits for a reply
        elif raw == "partially_delivered":
            row.error_reason = "partially delivered"  # some of it arrived: another channel would repeat it
        row.state = OutboxState.DELIVERED
        row.delivered_at = now
        return StatusResult(True, row.state.value)
    if effect not in ("failed", "undelivered"):
        return StatusResult(False, row.state.value)  # in flight, inbound or unknown: no state of ours changes
    final = OutboxState.UNDELIVERED if effect == "undelivered" else OutboxState.FAILED
    if update.permanent_reason:
        outcome = record_permanent_failure(session, row.id, update.permanent_reason, update.error_code,
                                           final_state=final)
        return StatusResult(True, outcome.state, outcome.enqueue)
    reason = update.fallback_reason or status_word(update)
    outcome = fail_message(session, row, reason, update.error_code, final_state=final)
    return StatusResult(True, outcome.state, outcome.enqueue)
