"""Provider status callbacks applied to the outbox: forward only, idempotent, fallback on permanent failure.

States only move forward (accepted → delivered; accepted → failed/undelivered); ``delivered`` is final, so a
late or replayed "sent" or "failed" never undoes it. A permanent failure reported asynchronously (a landline,
an unknown number, a filtered text) moves the adult to the next usable channel at once, as a synchronous one
does. A retryable failure (handset off) is treated the same way for same-day absence messages, because
waiting for the handset could take all day; the contact point is not marked as failed for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import OutboxMessage, OutboxState
from gateway.pipeline.delivery import fail_message, record_permanent_failure

log = logging.getLogger(__name__)

_SUCCESS = frozenset({"delivered", "read", "completed"})
_FAILURE = frozenset({"failed", "undelivered", "no-answer", "busy", "canceled"})


@dataclass
class StatusResult:
    """What a callback changed (``applied`` false for a duplicate or stale one; ``state`` None when no row has
    that provider id) and ids to enqueue."""

    applied: bool
    state: str | None = None
    enqueue: list[int] = field(default_factory=list)


def apply_status(session: Session, update: Any) -> StatusResult:
    """Apply one parsed ``channels.status.StatusUpdate`` to the outbox row with its provider id."""
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == update.provider_id)
                         .with_for_update(skip_locked=False) if session.get_bind().dialect.name == "postgresql"
                         else select(OutboxMessage).where(OutboxMessage.provider_id == update.provider_id))
    if row is None:
        log.info("status for an unknown provider id", extra={"provider_id": update.provider_id})
        return StatusResult(False)
    if row.state in (OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.UNDELIVERED, OutboxState.CANCELLED):
        return StatusResult(False, row.state.value)  # final: never move backwards
    status = str(update.status.value if hasattr(update.status, "value") else update.status)
    now = clock.now()
    if status in _SUCCESS:
        if update.kind == "voice" and getattr(update, "reached_machine", False):
            row.error_reason = "voicemail"  # a message was left; the ladder still waits for a reply
        row.state = OutboxState.DELIVERED
        row.delivered_at = now
        row.updated_at = now
        return StatusResult(True, row.state.value)
    if status not in _FAILURE:
        return StatusResult(False, row.state.value)  # queued/sent/ringing...: no state of ours changes
    final = OutboxState.UNDELIVERED if status == "undelivered" else OutboxState.FAILED
    if update.permanent_reason:
        outcome = record_permanent_failure(session, row.id, update.permanent_reason, update.error_code,
                                           final_state=final)
        return StatusResult(True, outcome.state, outcome.enqueue)
    reason = update.fallback_reason or status
    outcome = fail_message(session, row, reason, update.error_code, final_state=final)
    return StatusResult(True, outcome.state, outcome.enqueue)

