"""The outbox: planning rows (with their rendered content), cancelling what is pending, handing ids to workers.

Every row has a unique ``idempotency_key``; :func:`add_message` returns the existing row when the key is
already there, so re-running a step (a second scheduler, a retried actor) never doubles a message.

Ids are handed to the workers only after the rows are committed, by one session hook: a path that queued rows
registers them with :func:`send_after_commit` inside its transaction, and when that session commits the ids go to
the work queue (``ports.current().queue``); a rollback forgets them. No caller enqueues by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, event, or_, select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import OutboxMessage, OutboxState
from gateway.pipeline import ports
from gateway.pipeline.ports import Content, RenderContext

log = logging.getLogger(__name__)


def real_now() -> datetime:
    """Wall-clock time, for "stuck for N minutes" (never accelerated by GATEWAY_CLOCK_SPEED)."""
    return datetime.now(UTC)


def to_json_context(context: RenderContext) -> dict[str, object]:
    """A render context made JSON-safe (dates as ISO text) so a fallback can re-render it later."""
    def convert(value: object) -> object:
        if isinstance(value, datetime | date):
            return {"__date__": value.isoformat()}
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return {key: convert(value) for key, value in context.items()}


def from_json_context(document: RenderContext) -> dict[str, object]:
    """The inverse of :func:`to_json_context`."""
    def convert(value: object) -> object:
        if isinstance(value, Mapping):
            text = value.get("__date__") if len(value) == 1 else None
            if isinstance(text, str):
                return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {key: convert(value) for key, value in document.items()}


@dataclass
class NewMessage:
    """Everything needed to create one outbox row (rendered here)."""

    idempotency_key: str
    kind: str
    channel: str
    to_address: str
    locale: str
    variant: str
    context: RenderContext
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
    prerendered: Content | None = None  # staff-facing text not from a template


def add_message(session: Session, new: NewMessage, *, render: ports.Renderer | None = None) -> OutboxMessage:
    """Render (with ``render``, else the process's renderer) and add one outbox row, or return the row that
    already has this idempotency key."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == new.idempotency_key))
    if existing is not None:
        return existing
    content = new.prerendered or (render or ports.current().render)(
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


_PENDING = "gateway.pipeline.outbox.send_after_commit"  # Session.info key: ids to hand over at commit


def send_after_commit(session: Session, ids: Iterable[int]) -> list[int]:
    """Hand these queued rows to the workers once ``session`` commits (stamping ``enqueued_at`` now, in the same
    transaction, so the scheduler does not hand them over too). Returns the ids."""
    id_list = list(ids)
    if id_list:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(id_list))
                        .values(enqueued_at=real_now()).execution_options(synchronize_session=False))
        pending: list[int] = session.info.get(_PENDING, [])
        session.info[_PENDING] = list(dict.fromkeys([*pending, *id_list]))
    return id_list


@event.listens_for(Session, "after_commit")
def _hand_over_after_commit(session: Session) -> None:
    """The one place committed outbox ids go to the workers (a savepoint's release is not the commit)."""
    if session.in_nested_transaction():
        return
    pending: list[int] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        ports.current().queue.send(pending)
    except Exception:  # the rows are committed: the scheduler's stale-enqueue pass hands them over later
        log.warning("could not hand committed messages to the workers", extra={"count": len(pending)},
                    exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: what the outer transaction registered still stands
    session.info.pop(_PENDING, None)  # the rows were never written


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
