"""Reconciling rows a dead worker left in ``sending``: asked of the provider, never resent blindly.

A worker killed between its claim and recording the provider's answer leaves the row in ``sending``. The
scheduler hands such rows, once older than ``GATEWAY_STUCK_SECONDS`` of real time (:func:`stuck_messages`),
to :func:`reconcile_stuck_message`, which asks the channel whether the provider already has the message
(``channel.find_sent(message)``: the Twilio adapter and the sandbox look it up by recipient and body) and
records it as accepted if so (with the status the lookup reported), or re-queues it if not. A channel that
cannot look messages up (SMTP) is re-queued, so an e-mail accepted in the few milliseconds between the
provider's answer and our commit could go twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.base import ProviderLookup, Receipt
from channels.status import StatusUpdate
from gateway.db import session_scope
from gateway.models import OutboxMessage, OutboxState
from gateway.pipeline import ports
from gateway.pipeline.delivery import SendOutcome, outgoing_for, record_accepted
from gateway.pipeline.outbox import real_now, send_after_commit
from gateway.pipeline.status import apply_status

log = logging.getLogger(__name__)


def _stuck_after_seconds() -> float:
    """How long (real seconds) a claimed row may stay in 'sending' before it is presumed orphaned by a dead
    worker. A send normally takes well under a second; GATEWAY_STUCK_SECONDS shortens it for drills and tests."""
    from gateway.config import get_settings

    return get_settings().stuck_seconds


def stuck_messages(session: Session, limit: int = 500) -> list[int]:
    """Ids of rows in ``sending`` for longer than GATEWAY_STUCK_SECONDS of real time."""
    cutoff = real_now() - timedelta(seconds=_stuck_after_seconds())
    return list(session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_at < cutoff).limit(limit)))


def reconcile_stuck_message(outbox_id: int, channels: ports.ChannelPort | None = None) -> SendOutcome:
    """Resolve a row left in ``sending`` by a dead worker: accepted if the provider has it, else re-queued
    (handed to the workers when this commits). ``channels``: the process's channels unless given."""
    cutoff = real_now() - timedelta(seconds=_stuck_after_seconds())
    with session_scope() as session:
        # Re-claim so two reconcilers never both look it up and both re-queue it.
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.state == OutboxState.SENDING,
                   OutboxMessage.claimed_at < cutoff)
            .values(claimed_at=real_now()).execution_options(synchronize_session=False))
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return SendOutcome("skipped")
        row = session.get(OutboxMessage, outbox_id)
        assert row is not None
        message = outgoing_for(row)
    channel = ports.channel_of(channels or ports.current().channels, message.channel)
    can_look = isinstance(channel, ProviderLookup)
    found: Receipt | None = None
    if isinstance(channel, ProviderLookup):
        try:
            found = channel.find_sent(message)
        except Exception:  # the lookup itself failed: try again at the next scheduler pass
            log.warning("lookup of a stuck message failed", extra={"outbox_id": outbox_id}, exc_info=True)
            return SendOutcome("retry")
    with session_scope() as session:
        if found is not None:
            record_accepted(session, outbox_id, found.provider_id)
            log.info("stuck message was sent before the crash", extra={"outbox_id": outbox_id})
            # The provider's status callbacks came while the row had no provider id and were dropped: apply the
            # status the lookup reported, so a delivered or failed message does not stay 'accepted' for ever.
            applied = apply_status(session, StatusUpdate(provider_id=found.provider_id, status=found.status,
                                                         kind="voice" if message.channel == "voice" else "sms"))
            return SendOutcome(applied.state or "accepted", applied.enqueue)
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id, OutboxMessage.state == OutboxState.SENDING)
            .values(state=OutboxState.QUEUED, error_reason="requeued_after_crash")
            .execution_options(synchronize_session=False))
        requeued = send_after_commit(session, [outbox_id])
    log.info("stuck message re-queued", extra={"outbox_id": outbox_id, "lookup": can_look})
    return SendOutcome("requeued", requeued)
