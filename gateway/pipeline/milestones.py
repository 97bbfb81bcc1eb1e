"""Milestone messages: fresh-start nudges at each half-term, positive attendance, fortnightly check-ins.

* Fresh start: the day before a half-term starts (or on its first day), routing plans one nudge per adult;
  the rows are created ``planned`` under a ``MilestoneBatch`` and stay there until staff approve the batch
  (``approve_batch``); then they are queued with ``send_after`` = the planned instant inside each adult's
  window (the evening before or that morning). Key: ``nudge:{half_term}:{adult}``. The message's one
  ``days_missed`` figure is the most any of the adult's children missed (siblings are often off together:
  adding their days up would overstate it).
* Positive attendance: a pupil whose last 4 weeks' attendance is at least 95% and at least 5 points above
  the previous half-term's gets one message to their first contact with parental responsibility, at most
  once per half-term. Key: ``positive:{half_term}:{adult}``.
* Fortnightly check-in: families with a pupil on a support plan, every 14 days. Key: ``checkin:{n}:{adult}``.
Routine messages respect the weekly cap (``recent_counts``), the adult's window and restrictions.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    Adult,
    AttendanceMark,
    HalfTerm,
    MilestoneBatch,
    OutboxMessage,
    OutboxState,
    Pupil,
    PupilContact,
    Restriction,
)
from gateway.models.attendance import APPROVED_OFF_SITE, NOT_POSSIBLE, PRESENT_CODES
from gateway.pipeline import collaborators
from gateway.pipeline.context import message_context, pupils_by_id
from gateway.pipeline.outbox import NewMessage, add_message

log = logging.getLogger(__name__)
ROUTINE_KINDS = ("fresh_start", "positive_attendance", "fortnightly_checkin")
_last_daily_run: date | None = None


def recent_counts(session: Session, now: datetime) -> dict[int, int]:
    """Routine messages per adult in the last 7 days (for routing's frequency cap)."""
    rows = session.execute(
        select(OutboxMessage.adult_id, func.count()).where(
            OutboxMessage.kind.in_(ROUTINE_KINDS), OutboxMessage.created_at >= now - timedelta(days=7),
            OutboxMessage.state.not_in((OutboxState.CANCELLED, OutboxState.SUPPRESSED, OutboxState.FAILED)))
        .group_by(OutboxMessage.adult_id)).all()
    return {adult_id: count for adult_id, count in rows if adult_id is not None}


def plan_fresh_start_batch(session: Session, half_term: HalfTerm, now: datetime) -> MilestoneBatch:
    """Create the half-term's nudges as ``planned`` rows under one batch (once per half-term)."""
    batch = session.scalar(select(MilestoneBatch).where(MilestoneBatch.kind == "fresh_start",
                                                        MilestoneBatch.half_term_id == half_term.id))
    if batch is not None:
        return batch
    batch = MilestoneBatch(kind="fresh_start", half_term_id=half_term.id, created_at=now)
    session.add(batch)
    session.flush()
    plan = collaborators.plan_fresh_start(session, half_term=half_term, now=now,
                                          recent_counts=recent_counts(session, now))
    # Load every adult and pupil the plan names in a few queries, not two per nudge (a trust has tens of
    # thousands); the identity map then answers each delivery's lookups.
    adults = _load_by_id(session, Adult, {d.adult_id for d in plan.deliveries})
    pupils_loaded = _load_by_id(session, Pupil, {p for d in plan.deliveries for p in d.pupil_ids})
    for delivery in plan.deliveries:
        adult = adults.get(delivery.adult_id)
        pupils = [pupils_loaded[p] for p in delivery.pupil_ids if p in pupils_loaded]
        missed = list(getattr(delivery, "days_missed", ()) or ())
        add_message(session, NewMessage(
            idempotency_key=f"nudge:{half_term.id}:{delivery.adult_id}", kind="fresh_start",
            channel=delivery.channel, to_address=delivery.to, locale=delivery.locale, variant=delivery.variant,
            context=message_context(session, adult=adult, pupils=pupils, on=half_term.start,
                                    days_missed=round(max(missed)) if missed else 0,
                                    half_term_name=half_term.name, start_date=half_term.start),
            adult_id=delivery.adult_id, contact_point_id=delivery.contact_point_id, batch_id=batch.id,
            pupil_ids=list(delivery.pupil_ids), why=delivery.why, fallback_channels=list(delivery.fallback_channels),
            send_after=delivery.send_at, state=OutboxState.PLANNED))
    log.info("fresh-start batch planned", extra={"half_term_id": half_term.id, "messages": len(plan.deliveries)})
    return batch


def _load_by_id(session: Session, model: Any, ids: set[int], chunk: int = 5000) -> dict[int, Any]:
    """Rows of ``model`` by id, fetched in chunks (bound-parameter limits)."""
    ordered = sorted(ids)
    found: dict[int, Any] = {}
    for start in range(0, len(ordered), chunk):
        for row in session.scalars(select(model).where(model.id.in_(ordered[start:start + chunk]))):
            found[row.id] = row
    return found


def approve_batch(session: Session, batch_id: int, staff_id: int) -> int:
    """Staff approve a batch: its planned rows become queued (sent when their time comes). Returns the count."""
    batch = session.get(MilestoneBatch, batch_id)
    if batch is None:
        from gateway.errors import NotFoundError

        raise NotFoundError(f"milestone batch {batch_id} does not exist")
    now = clock.now()
    if batch.approved_at is None:
        batch.approved_at, batch.approved_by = now, staff_id
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.batch_id == batch_id, OutboxMessage.state == OutboxState.PLANNED)
        .values(state=OutboxState.QUEUED, queued_at=now, updated_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def attendance_rate(session: Session, pupil_id: int, start: date, end: date) -> float | None:
    """Percentage of possible sessions attended (present or approved off-site) in [start, end]."""
    codes = session.scalars(select(AttendanceMark.code).where(
        AttendanceMark.pupil_id == pupil_id, AttendanceMark.date >= start, AttendanceMark.date <= end)).all()
    possible = [c for c in codes if c not in NOT_POSSIBLE]
    if not possible:
        return None
    attended = sum(1 for c in possible if c in PRESENT_CODES or c in APPROVED_OFF_SITE)
    return 100.0 * attended / len(possible)


def first_contact(session: Session, pupil_id: int) -> Adult | None:
    """The pupil's first unrestricted adult with parental responsibility."""
    return session.scalars(select(Adult).join(PupilContact, PupilContact.adult_id == Adult.id).where(
        PupilContact.pupil_id == pupil_id, PupilContact.parental_responsibility.is_(True),
        PupilContact.restriction == Restriction.NONE).order_by(PupilContact.priority, Adult.id).limit(1)).first()


def _routine_send_at(adult: Adult, today: date, now: datetime) -> datetime:
    """Today inside the adult's window (default 08:00–19:00), or tomorrow morning when it has passed."""
    from gateway.config import get_settings

    tz = get_settings().tz
    start, end = adult.window_start or time(8, 0), adult.window_end or time(19, 0)
    opening = datetime.combine(today, start, tz)
    if now < opening:
        return opening
    if now.astimezone(tz).time() < end:
        return now
    return datetime.combine(today + timedelta(days=1), start, tz)


def _queue_routine(session: Session, kind: str, key: str, pupil_ids: list[int], on: date, now: datetime,
                   counts: dict[int, int], **extra: object) -> None:
    from gateway.config import get_settings
    from gateway.pipeline.delivery import usable_point

    adult = first_contact(session, pupil_ids[0])
    if adult is None or counts.get(adult.id, 0) >= get_settings().weekly_routine_cap:
        return
    for channel in adult.channels:
        point = usable_point(session, adult.id, channel)
        if point is None:
            continue
        pupils = pupils_by_id(session, pupil_ids)
        add_message(session, NewMessage(
            idempotency_key=f"{key}:{adult.id}", kind=kind, channel=channel, to_address=point.value,
            locale=adult.language or "en-GB",
            variant="plain" if adult.literacy.value == "plain" else "standard",
            context=message_context(session, adult=adult, pupils=pupils, on=on, **extra), adult_id=adult.id,
            contact_point_id=point.id, pupil_ids=pupil_ids, why=f"routine {kind}",
            fallback_channels=[c for c in adult.channels if c != channel],
            send_after=_routine_send_at(adult, on, now)))
        counts[adult.id] = counts.get(adult.id, 0) + 1
        return


def daily_routine_messages(session: Session, now: datetime) -> None:
    """Positive-attendance and fortnightly check-in messages due today (idempotent by key)."""
    from gateway.config import get_settings

    today = now.astimezone(get_settings().tz).date()
    current = session.scalars(select(HalfTerm).where(HalfTerm.start <= today, HalfTerm.end >= today)).first()
    if current is None:
        return
    previous = session.scalars(select(HalfTerm).where(HalfTerm.end < current.start)
                               .order_by(HalfTerm.end.desc()).limit(1)).first()
    counts = recent_counts(session, now)
    pupils = session.scalars(select(Pupil).where(Pupil.bereaved.is_(False), Pupil.long_term_ill.is_(False))).all()
    for pupil in pupils:
        if pupil.support_plan:
            fortnight = today.toordinal() // 14
            _queue_routine(session, "fortnightly_checkin", f"checkin:{fortnight}", [pupil.id], today, now, counts)
        if previous is None:
            continue
        recent = attendance_rate(session, pupil.id, today - timedelta(days=28), today)
        before = attendance_rate(session, pupil.id, previous.start, previous.end)
        if recent is not None and before is not None and recent >= 95.0 and recent - before >= 5.0:
            improved = round((recent - before) / 100 * 20)  # about 20 sessions in 4 weeks
            _queue_routine(session, "positive_attendance", f"positive:{current.id}", [pupil.id], today, now,
                           counts, improved_sessions=max(improved, 1))


def plan_and_release(session: Session, now: datetime) -> list[int]:
    """The scheduler's milestone pass: plan tomorrow's/today's half-term batch, run the daily routine checks
    once a day. Approved rows are sent by the scheduler's normal due-message pass; returns ids sent now."""
    global _last_daily_run
    from gateway.config import get_settings

    today = now.astimezone(get_settings().tz).date()
    upcoming = session.scalars(select(HalfTerm).where(HalfTerm.start.in_((today, today + timedelta(days=1))))
                               .order_by(HalfTerm.start).limit(1)).first()
    if upcoming is not None:
        plan_fresh_start_batch(session, upcoming, now)
    if _last_daily_run != today:
        daily_routine_messages(session, now)
        _last_daily_run = today
    return []
