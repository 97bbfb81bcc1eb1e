"""The outbox: planning rows (with their rendered content), cancelling what is pending, handing ids to workers.

Every row has a unique ``idempotency_key``; :func:`add_message` returns the existing row when the key is
already there, so re-running a step (a second scheduler, a retried actor) never doubles a message.
Ids are handed to the broker only after the rows are committed (:func:`enqueue_sends`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import OutboxMessage, OutboxState
from gateway.pipeline import collaborators

log = logging.getLogger(__name__)


def real_now() -> datetime:
    """Wall-clock time, for "stuck for N minutes" (never accelerated by GATEWAY_CLOCK_SPEED)."""
    return datetime.now(UTC)


def to_json_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """A render context made JSON-safe (dates as ISO text) so a fallback can re-render it later."""
    def convert(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return {"__date__": value.isoformat()}
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    result: dict[str, Any] = convert(context)
    return result


def from_json_context(document: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`to_json_context`."""
    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            if set(value) == {"__date__"}:
                text = value["__date__"]
                return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    result: dict[str, Any] = convert(document)
    return result


@dataclass
class NewMessage:
    """Everything needed to create one outbox row (rendered here)."""

    idempotency_key: str
    kind: str
    channel: str
    to_address: str
    locale: str
    variant: str
    context: Mapping[str, Any]
    adult_id: int | None = None
    contact_point_id: int | None = None
    case_id: int | None = None
    batch_id: int | None = None
    staff_id: int | None = None
    step: int | None = None
    pupil_ids: list[int] = field(default_factory=list)
    why: str | None = None
    fallback_channels: list[str] = field(default_factory=list)
    same_day: bool = False
    send_after: datetime | None = None
    state: OutboxState = OutboxState.QUEUED
    prerendered: collaborators.Content | None = None  # staff-facing text not from a template


def add_message(session: Session, new: NewMessage) -> OutboxMessage:
    """Render and add one outbox row, or return the row that already has this idempotency key."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == new.idempotency_key))
    if existing is not None:
        return existing
    content = new.prerendered or collaborators.render(
        new.kind, locale=new.locale, channel=new.channel, variant=new.variant, context=new.context)
    now = clock.now()
    row = OutboxMessage(
        idempotency_key=new.idempotency_key, kind=new.kind, case_id=new.case_id, batch_id=new.batch_id,
        adult_id=new.adult_id, contact_point_id=new.contact_point_id, staff_id=new.staff_id,
        pupil_ids=list(new.pupil_ids), channel=new.channel, to_address=new.to_address, locale=new.locale,
        variant=new.variant, step=new.step, why=new.why or None,
        fallback_channels=list(new.fallback_channels), same_day=new.same_day, state=new.state,
        subject=content.subject, text=content.text, html=content.html, voice_language=content.voice_language,
        voice_name=content.voice_name, voice_prompt=content.voice_prompt,
        context=to_json_context(new.context), send_after=new.send_after,
        created_at=now, queued_at=now if new.state is OutboxState.QUEUED else None, updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def cancel_pending(session: Session, *, case_id: int | None = None, batch_id: int | None = None,
                   reason: str = "case_closed") -> int:
    """Cancel every planned/queued row of a case or batch (a row already sending is left to finish)."""
    conditions: list[ColumnElement[bool]] = [OutboxMessage.state.in_((OutboxState.PLANNED, OutboxState.QUEUED))]
    if case_id is not None:
        conditions.append(OutboxMessage.case_id == case_id)
    if batch_id is not None:
        conditions.append(OutboxMessage.batch_id == batch_id)
    now = clock.now()
    result = session.execute(
        update(OutboxMessage).where(*conditions)
        .values(state=OutboxState.CANCELLED, error_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_enqueued(session: Session, ids: Iterable[int]) -> list[int]:
    """Stamp ``enqueued_at`` on these rows (call before commit, then :func:`enqueue_sends`)."""
    id_list = list(ids)
    if id_list:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(id_list))
                        .values(enqueued_at=real_now()).execution_options(synchronize_session=False))
    return id_list


def enqueue_sends(ids: Iterable[int]) -> int:
    """Hand committed outbox ids to the workers. Sending an id twice is harmless: the actor is idempotent."""
    from gateway.pipeline.broker import get_pipeline_broker

    get_pipeline_broker()
    from gateway.pipeline.actors import send_message

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
    from gateway.pipeline.broker import get_pipeline_broker

    get_pipeline_broker()
    from gateway.pipeline.actors import process_inbound

    process_inbound.send(inbound_id)


def due_for_enqueue(session: Session, *, now: datetime, stale_seconds: float, limit: int = 2000) -> list[int]:
    """Queued rows whose send time has come and that no worker holds: never enqueued, or enqueued long ago
    (the broker lost it, or a worker died holding it)."""
    from datetime import timedelta

    stale = real_now() - timedelta(seconds=stale_seconds)
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.QUEUED,
               or_(OutboxMessage.send_after.is_(None), OutboxMessage.send_after <= now),
               or_(OutboxMessage.enqueued_at.is_(None), OutboxMessage.enqueued_at < stale))
        .order_by(OutboxMessage.id).limit(limit)
    )
    return list(session.scalars(query))
