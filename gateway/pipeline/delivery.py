"""Sending one outbox message, exactly once in practice, and what follows a failure.

The send protocol (``send_outbox_message``):
1. *Claim*: one conditional ``UPDATE … SET state='sending' WHERE id=? AND state='queued' RETURNING *`` (its
   id from ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL) and **commit**. Only one worker can win, on any
   backend; a duplicate broker message, or a second scheduler's enqueue, finds nothing to do.
2. Call the provider.
3. Record ``accepted`` + ``provider_id`` (or the failure) and commit.

A worker killed between 1 and 3 leaves the row in ``sending``: ``gateway.pipeline.reconcile`` resolves it.
A fallback planned here goes to the workers when the caller's transaction commits (``send_after_commit``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from channels.base import OutgoingMessage
from channels.errors import OPTED_OUT, PermanentDeliveryError, TransientDeliveryError
from gateway import clock
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import ContactPoint, OutboxMessage, OutboxState
from gateway.pipeline import ports
from gateway.pipeline.outbox import NewMessage, add_message, from_json_context, real_now, send_after_commit
from gateway.safeguarding import (
    SHARED_WITH_RESTRICTED,
    blocked_address_reason,
    blocked_reason,
)

log = logging.getLogger(__name__)

GIVE_UP_LOCAL = time(20, 0)  # transient failures stop retrying at 20:00 school time
MAX_ATTEMPTS = 8
BASE_BACKOFF_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30 * 60.0


@dataclass
class SendOutcome:
    """What happened, and which new outbox ids (fallbacks) go to the workers when the session commits."""

    state: str
    enqueue: list[int] = field(default_factory=list)


def claim(session: Session, outbox_id: int, now: datetime) -> bool:
    """Move a queued, due row to ``sending`` (attempts + 1); True only for the one caller that won."""
    return _claim_row(session, outbox_id, now) is not None


def _claim_row(session: Session, outbox_id: int, now: datetime) -> OutboxMessage | None:
    """:func:`claim`, answering the claimed row (the session's own) or None.

    One statement, ``UPDATE … WHERE id=? AND state='queued' AND due RETURNING *``; on PostgreSQL the id comes
    from a ``SELECT … FOR UPDATE SKIP LOCKED`` inside it, so a row another worker is claiming is skipped rather
    than waited for."""
    statement = _claim_statement(session.get_bind().dialect.name)
    return session.scalars(statement, {"outbox_id": outbox_id, "now": now, "real_now": real_now()}).first()


def _claim_statement(dialect: str) -> Any:
    """The claim's UPDATE for ``dialect``, built once (building it costs more CPU than running it)."""
    statement = _CLAIMS.get(dialect)
    if statement is None:
        stamp = OutboxMessage.__table__.c.claimed_at.type
        outbox_id, now, real = (bindparam("outbox_id", type_=Integer()), bindparam("now", type_=stamp),
                                bindparam("real_now", type_=stamp))
        target = OutboxMessage.id == outbox_id
        if dialect == "postgresql":
            claimable = aliased(OutboxMessage, name="claimable")
            target = OutboxMessage.id == (
                select(claimable.id).where(claimable.id == outbox_id, claimable.state == OutboxState.QUEUED)
                .with_for_update(skip_locked=True).scalar_subquery())
        statement = _CLAIMS[dialect] = (
            update(OutboxMessage)
            .where(target, OutboxMessage.state == OutboxState.QUEUED,
                   (OutboxMessage.send_after.is_(None)) | (OutboxMessage.send_after <= now))
            .values(state=OutboxState.SENDING, attempts=OutboxMessage.attempts + 1, claimed_at=real,
                    first_claimed_at=func.coalesce(OutboxMessage.first_claimed_at, real), updated_at=now)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False))
    return statement


_CLAIMS: dict[str, Any] = {}
_ACCEPTED_AT = bindparam("now", type_=OutboxMessage.__table__.c.sent_at.type)
_RECORD_ACCEPTED = (  # built once, as the claim is
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("outbox_id", type_=Integer()), OutboxMessage.state == OutboxState.SENDING)
    .values(state=OutboxState.ACCEPTED, provider_id=bindparam("provider_id", type_=String()), sent_at=_ACCEPTED_AT,
            updated_at=_ACCEPTED_AT, error_code=None, error_reason=None)
    .execution_options(synchronize_session=False))


def outgoing_for(row: OutboxMessage) -> OutgoingMessage:
    """The channels.OutgoingMessage for an outbox row."""
    return OutgoingMessage(
        message_id=row.id, idempotency_key=row.idempotency_key, channel=ports.channel_name(row.channel),
        to=row.to_address, text=row.text, subject=row.subject, html=row.html, locale=row.locale,
        voice_language=row.voice_language, voice_name=row.voice_name, same_day=row.same_day,
        claimed_at=row.first_claimed_at)


def send_outbox_message(outbox_id: int) -> SendOutcome:
    """Claim, send and record one message; do nothing when another worker has it or it is done."""
    with session_scope() as session:
        row = _claim_row(session, outbox_id, clock.now())  # the row comes back with the claim: no second read
        if row is None:
            return SendOutcome("skipped")
        if row.adult_id is not None:
            blocked = blocked_reason(session, row.adult_id)
            if blocked is not None:
                # Safeguarding is absolute: the DSL may have restricted this adult after the message was queued.
                row.state, row.error_reason, row.updated_at = OutboxState.SUPPRESSED, blocked, clock.now()
                log.warning("message suppressed by a restriction", extra={"outbox_id": outbox_id, "reason": blocked})
                return SendOutcome("suppressed")
        held = blocked_address_reason(session, row.to_address)
        if held is not None:
            # A restriction binds the address too: the barred father's number on the mother's record is his.
            row.state, row.updated_at = OutboxState.SUPPRESSED, clock.now()
            row.error_reason = SHARED_WITH_RESTRICTED
            log.warning("message suppressed: address held by a restricted adult",
                        extra={"outbox_id": outbox_id, "reason": held})
            new_id = plan_fallback(session, row)  # the adult may still be reached at an address of their own
            return SendOutcome("suppressed", send_after_commit(session, [new_id]) if new_id else [])
        message = outgoing_for(row)
        channel_name = row.channel
    # The claim is committed before the provider is called: a crash from here on leaves 'sending', which
    # reconcile_stuck_message resolves without a blind resend.
    try:
        receipt = ports.channel_of(ports.current().channels, channel_name).send(message)
    except PermanentDeliveryError as exc:
        with session_scope() as session:
            return record_permanent_failure(session, outbox_id, exc.reason, exc.code)
    except TransientDeliveryError as exc:
        with session_scope() as session:
            return record_transient_failure(session, outbox_id, exc.code, exc.retry_after)
    except Exception:  # an adapter bug or network error we did not foresee: retry, never lose the message
        log.exception("send failed unexpectedly", extra={"outbox_id": outbox_id})
        with session_scope() as session:
            return record_transient_failure(session, outbox_id, "unexpected", None)
    with session_scope() as session:
        record_accepted(session, outbox_id, receipt.provider_id)
    log.info("message accepted", extra={"outbox_id": outbox_id, "channel": channel_name,
                                        "to": redact(message.to), "provider_id": receipt.provider_id})
    return SendOutcome("accepted")


def record_accepted(session: Session, outbox_id: int, provider_id: str) -> None:
    """sending → accepted with the provider's id (a status callback may already have moved it on)."""
    session.execute(_RECORD_ACCEPTED, {"outbox_id": outbox_id, "provider_id": provider_id, "now": clock.now()})


def backoff_seconds(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter (so many workers do not retry in step), at least ``retry_after``."""
    delay = min(BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    delay *= random.uniform(0.8, 1.2)
    return float(max(delay, retry_after or 0.0))


def record_transient_failure(session: Session, outbox_id: int, code: str | None,
                             retry_after: float | None) -> SendOutcome:
    """Back to queued with a later send_after, or failed (and fall back) once the day is over."""
    from gateway.config import get_settings

    row = session.get(OutboxMessage, outbox_id)
    if row is None or row.state is not OutboxState.SENDING:
        return SendOutcome("skipped")
    now = clock.now()
    retry_at = now + timedelta(seconds=backoff_seconds(row.attempts, retry_after))
    local = retry_at.astimezone(get_settings().tz)
    same_day = local.date() == now.astimezone(get_settings().tz).date() and local.time() < GIVE_UP_LOCAL
    if row.attempts >= MAX_ATTEMPTS or not same_day:
        return fail_message(session, row, "gave_up", code, final_state=OutboxState.FAILED)
    row.state = OutboxState.QUEUED
    row.send_after = retry_at
    row.enqueued_at = None  # the scheduler hands it to a worker again when retry_at comes
    row.error_code = code
    row.error_reason = "transient"
    row.updated_at = now
    log.info("transient failure, will retry", extra={"outbox_id": outbox_id, "code": code,
                                                     "attempts": row.attempts})
    return SendOutcome("retry")


def record_permanent_failure(session: Session, outbox_id: int, reason: str, code: str | None,
                             *, final_state: OutboxState = OutboxState.FAILED) -> SendOutcome:
    """Mark the message failed and the contact point unusable, then plan the adult's next channel at once."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None or row.state in (OutboxState.FAILED, OutboxState.UNDELIVERED, OutboxState.CANCELLED):
        return SendOutcome("skipped")
    if row.state is OutboxState.DELIVERED:
        return SendOutcome("skipped")  # delivered is final: a late failure report never undoes it
    now = clock.now()
    point = session.get(ContactPoint, row.contact_point_id) if row.contact_point_id else None
    if point is not None:
        if reason == OPTED_OUT:
            point.opted_out_at = point.opted_out_at or now
        else:
            point.last_permanent_failure_at = now
        point.last_failure_reason = reason[:64]
    log.info("permanent failure", extra={"outbox_id": outbox_id, "reason": reason, "code": code,
                                         "to": redact(row.to_address)})
    return fail_message(session, row, reason, code, final_state=final_state)


def fail_message(session: Session, row: OutboxMessage, reason: str, code: str | None, *,
          final_state: OutboxState) -> SendOutcome:
    now = clock.now()
    row.state = final_state
    row.error_reason = reason[:200]
    row.error_code = code
    row.failed_at = now
    row.updated_at = now
    new_id = plan_fallback(session, row)
    enqueue = send_after_commit(session, [new_id]) if new_id else []
    return SendOutcome(final_state.value, enqueue)


def plan_fallback(session: Session, failed: OutboxMessage) -> int | None:
    """Add the same message on the adult's next usable channel (in the failed row's fallback order).

    Routing decides the channel, the address, the locale and variant for that channel, and (for a routine
    message) when it may go (``gateway.routing.recipient``); this only writes the row."""
    from gateway.config import get_settings
    from gateway.routing.recipient import ROUTINE_KINDS, next_point, routine_fallback_send_at

    if failed.adult_id is None or (failed.case_id is None and failed.kind == "dsl_alert"):
        return None
    used = ports.current()
    if failed.case_id is not None:
        from gateway.models import AbsenceCase
        from gateway.models.messaging import ACTIVE_CASE_STATES

        case = session.get(AbsenceCase, failed.case_id)
        if case is None or case.state not in ACTIVE_CASE_STATES:
            return None  # the case closed meanwhile: nothing more to say
    recipient = used.routing.recipient(session, failed.adult_id, failed.pupil_ids or [])
    if recipient is None or recipient.forbidden is not None:
        return None
    routine = failed.kind in ROUTINE_KINDS
    # STOP ends routine messages altogether; anything else (absence, staff one-off) may still call or e-mail.
    found = next_point(recipient.adult, channels=failed.fallback_channels, tried={failed.channel},
                       same_day=not routine, routine=routine, pupils=recipient.pupils,
                       capabilities=used.capabilities())
    if found is None:
        log.info("no further channel for adult", extra={"outbox_id": failed.id, "adult_id": failed.adult_id})
        return None
    channel, point, language = found
    send_after = None
    if routine:
        settings = get_settings()
        now = clock.now()
        send_after = routine_fallback_send_at(recipient.adult, now, used.ladder(), settings.tz,
                                              used.routing.inset_days(session, now.date()))
        if send_after is None:
            return None
    base = failed.idempotency_key.split("|", 1)[0]
    row = add_message(session, NewMessage(
        idempotency_key=f"{base}|{channel}", kind=failed.kind, channel=channel, to_address=point.value,
        locale=language.locale, variant=language.variant, context=from_json_context(failed.context),
        adult_id=failed.adult_id, contact_point_id=point.id, case_id=failed.case_id,
        batch_id=failed.batch_id, staff_id=failed.staff_id, step=failed.step, pupil_ids=failed.pupil_ids,
        why=f"fallback after {failed.channel} failed ({failed.error_reason})",
        fallback_channels=[c for c in failed.fallback_channels if c != channel],
        same_day=failed.same_day, send_after=send_after))
    if row.state is OutboxState.QUEUED and row.enqueued_at is None and (
            row.send_after is None or row.send_after <= clock.now()):
        return row.id
    return None
