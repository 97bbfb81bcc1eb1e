"""Milestone messages: fresh-start nudges at each half-term, positive attendance, fortnightly check-ins.

* Fresh start: the day before a half-term starts (or on its first day), routing plans one nudge per adult;
  the rows are created ``planned`` under a ``MilestoneBatch`` and stay there until staff approve the batch
  (``approve_batch``); then they are queued with ``send_after`` = the planned instant inside each adult's
  window (the evening before or that morning). Key: ``nudge:{half_term}:{adult}``. The message's one
  ``days_missed`` figure is the most any of the adult's children missed (siblings are often off together:
  adding their days up would overstate it).
* Positive attendance: a pupil whose last 4 weeks' attendance is at least 95% and at least 5 points above
  the previous half-term's: one message to every adult with parental responsibility for improved children,
  at most once per half-term. Key: ``positive:{half_term}:{adult}``.
* Fortnightly check-in: adults with parental responsibility for a pupil on a support plan, at most once in
  14 days. Key: ``checkin:{n}:{adult}``.
Routing plans every routine message (audience, restrictions, channel, language, the adult's window on a
school day, the weekly cap from ``recent_counts``); this module only writes the rows routing planned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.errors import GatewayError
from gateway.models import (
    Adult,
    AttendanceMark,
    HalfTerm,
    MilestoneBatch,
    OutboxMessage,
    OutboxState,
    Pupil,
)
from gateway.models.attendance import APPROVED_OFF_SITE, NOT_POSSIBLE, PRESENT_CODES
from gateway.pipeline import collaborators
from gateway.pipeline.context import message_context, pupils_by_id
from gateway.pipeline.outbox import NewMessage, add_message
from gateway.routing.plan import Delivery, Plan
from gateway.routing.recipient import ROUTINE_KINDS

log = logging.getLogger(__name__)
CHECKIN_DAYS = 14
_last_daily_run: date | None = None


def recent_counts(session: Session, now: datetime) -> dict[int, int]:
    """Routine messages per adult sent in the last 7 days or due to go later (routing's weekly cap): every
    one that could fall within seven days of a message planned now."""
    sent_at = func.coalesce(OutboxMessage.send_after, OutboxMessage.created_at)
    rows = session.execute(
        select(OutboxMessage.adult_id, func.count()).where(
            OutboxMessage.kind.in_(ROUTINE_KINDS), sent_at >= now - timedelta(days=7),
            OutboxMessage.state.not_in((OutboxState.CANCELLED, OutboxState.SUPPRESSED, OutboxState.FAILED)))
        .group_by(OutboxMessage.adult_id)).all()
    return {adult_id: count for adult_id, count in rows if adult_id is not None}


def plan_fresh_start_batch(session: Session, half_term: HalfTerm, now: datetime) -> MilestoneBatch:
    """Create the half-term's nudges as ``planned`` rows under one batch (once per half-term)."""
    batch = session.scalar(select(MilestoneBatch).where(MilestoneBatch.kind == "fresh_start",
                                                        MilestoneBatch.half_term_id == half_term.id))
    if batch is not None:
        return batch
    ensure_previous_half_term_finished(session, half_term, now)
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


def _last_checkins(session: Session, adult_ids: set[int]) -> dict[int, datetime]:
    """When each adult's latest fortnightly check-in went (or is due to go)."""
    sent_at = func.coalesce(OutboxMessage.send_after, OutboxMessage.created_at)
    rows = session.execute(select(OutboxMessage.adult_id, func.max(sent_at)).where(
        OutboxMessage.kind == "fortnightly_checkin", OutboxMessage.adult_id.in_(sorted(adult_ids)),
        OutboxMessage.state.not_in((OutboxState.CANCELLED, OutboxState.SUPPRESSED)))
        .group_by(OutboxMessage.adult_id)).all()
    return {adult_id: _aware(at) for adult_id, at in rows if adult_id is not None and at is not None}


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC)."""
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _queue_plan(session: Session, plan: Plan, *, key: str, on: date, counts: dict[int, int],
                extra: Callable[[Delivery], dict[str, object]]) -> int:
    """One queued row per delivery, exactly as routing planned it (channel, address, language, time)."""
    adults = _load_by_id(session, Adult, {d.adult_id for d in plan.deliveries})
    for delivery in plan.deliveries:
        pupils = pupils_by_id(session, list(delivery.pupil_ids))
        add_message(session, NewMessage(
            idempotency_key=f"{key}:{delivery.adult_id}", kind=plan.kind, channel=delivery.channel,
            to_address=delivery.to, locale=delivery.locale, variant=delivery.variant,
            context=message_context(session, adult=adults.get(delivery.adult_id), pupils=pupils, on=on,
                                    **extra(delivery)),
            adult_id=delivery.adult_id, contact_point_id=delivery.contact_point_id,
            pupil_ids=list(delivery.pupil_ids), why=delivery.why, fallback_channels=list(delivery.fallback_channels),
            send_after=delivery.send_at))
        counts[delivery.adult_id] = counts.get(delivery.adult_id, 0) + 1
    return len(plan.deliveries)


def _improved_sessions(session: Session, pupils: list[Pupil], today: date, previous: HalfTerm) -> dict[int, int]:
    """Pupils whose last 4 weeks' attendance is at least 95% and 5 points above the previous half-term's,
    with the sessions it is better by (about 20 sessions in 4 weeks)."""
    improved: dict[int, int] = {}
    for pupil in pupils:
        recent = attendance_rate(session, pupil.id, today - timedelta(days=28), today)
        before = attendance_rate(session, pupil.id, previous.start, previous.end)
        if recent is not None and before is not None and recent >= 95.0 and recent - before >= 5.0:
            improved[pupil.id] = max(round((recent - before) / 100 * 20), 1)
    return improved


def daily_routine_messages(session: Session, now: datetime) -> None:
    """Positive-attendance and fortnightly check-in messages due today (idempotent by key).

    Routing plans both (``routing.plan_fortnightly_checkin`` / ``plan_positive_attendance``): every adult with
    parental responsibility (restrictions and DSL approval as always), inside their window on a school day,
    under the weekly cap, never a routine call in a language without a voice. Nothing is planned on a
    weekend or INSET day; a check-in goes to an adult at most once a fortnight."""
    from gateway.config import get_settings
    from gateway.routing import RoutineSettings, plan_fortnightly_checkin, plan_positive_attendance
    from gateway.routing.loader import load_households
    from gateway.routing.recipient import is_school_day

    settings = get_settings()
    today = now.astimezone(settings.tz).date()
    inset_days = collaborators.load_inset_days(session, today)
    if not is_school_day(today, inset_days):
        return
    current = session.scalars(select(HalfTerm).where(HalfTerm.start <= today, HalfTerm.end >= today)).first()
    if current is None:
        return
    previous = session.scalars(select(HalfTerm).where(HalfTerm.end < current.start)
                               .order_by(HalfTerm.end.desc()).limit(1)).first()
    counts = recent_counts(session, now)
    routine = RoutineSettings(now=now, tz=settings.tz, capabilities=collaborators.locale_capabilities(),
                              recent_counts=counts, ladder=collaborators.load_ladder(), inset_days=inset_days,
                              weekly_cap=settings.weekly_routine_cap)
    pupils = session.scalars(select(Pupil).where(Pupil.bereaved.is_(False), Pupil.long_term_ill.is_(False))).all()
    supported = [p.id for p in pupils if p.support_plan]
    if supported:
        plan = plan_fortnightly_checkin(load_households(session, pupil_ids=supported), day=today, settings=routine)
        last = _last_checkins(session, {d.adult_id for d in plan.deliveries})
        due = tuple(d for d in plan.deliveries
                    if d.adult_id not in last or d.send_at - last[d.adult_id] >= timedelta(days=CHECKIN_DAYS))
        _queue_plan(session, replace(plan, deliveries=due), key=f"checkin:{today.toordinal() // CHECKIN_DAYS}",
                    on=today, counts=counts, extra=lambda _delivery: {})
    improved = _improved_sessions(session, list(pupils), today, previous) if previous is not None else {}
    if improved:
        plan = plan_positive_attendance(load_households(session, pupil_ids=sorted(improved)), day=today,
                                        improved_pupil_ids=improved, settings=routine)
        _queue_plan(session, plan, key=f"positive:{current.id}", on=today, counts=counts,
                    extra=lambda d: {"improved_sessions": max(improved.get(p, 1) for p in d.pupil_ids)})


def plan_and_release(session: Session, now: datetime) -> list[int]:
    """The scheduler's milestone pass: plan tomorrow's/today's half-term batch, run the daily routine checks
    once a day. Approved rows are sent by the scheduler's normal due-message pass; returns ids sent now."""
    global _last_daily_run
    from gateway.config import get_settings

    today = now.astimezone(get_settings().tz).date()
    upcoming = session.scalars(select(HalfTerm).where(HalfTerm.start.in_((today, today + timedelta(days=1))))
                               .order_by(HalfTerm.start).limit(1)).first()
    if upcoming is not None:
        try:
            plan_fresh_start_batch(session, upcoming, now)
        except BatchError as exc:  # the half-term before has not finished: nothing to plan from yet
            log.info("fresh-start batch not planned", extra={"half_term_id": upcoming.id, "why": str(exc)})
    if _last_daily_run != today:
        daily_routine_messages(session, now)
        _last_daily_run = today
    return []


class BatchError(GatewayError):
    """A batch cannot be planned, held or withdrawn now (the message says why, for staff)."""


def ensure_previous_half_term_finished(session: Session, half_term: HalfTerm, now: datetime) -> None:
    """Raise BatchError unless the half-term before ``half_term`` (whose attendance the nudges are about) has
    ended (or ends today): a batch is never planned from a half-term that has not finished."""
    from gateway.config import get_settings

    today = now.astimezone(get_settings().tz).date()
    previous = session.scalars(select(HalfTerm).where(HalfTerm.end < half_term.start)
                               .order_by(HalfTerm.end.desc()).limit(1)).first()
    if previous is not None and previous.end > today:  # its last day counts: the registers are in by then
        raise BatchError(f"{previous.name} has not finished yet (it ends {previous.end:%A %-d %B}): the messages "
                         f"are planned from a finished half-term only.")


def hold_batch(session: Session, batch_id: int) -> int:
    """Hold a batch until someone approves it (again): approved messages not yet sent go back to ``planned``.
    Returns how many were taken back."""
    batch = session.get(MilestoneBatch, batch_id)
    if batch is None:
        raise BatchError("No such batch.")
    now = clock.now()
    batch.approved_at, batch.approved_by = None, None
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.batch_id == batch_id, OutboxMessage.state == OutboxState.QUEUED)
        .values(state=OutboxState.PLANNED, enqueued_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def withdraw_batch(session: Session, batch_id: int) -> int:
    """Withdraw a batch: every message not yet sent is cancelled for good (the worker re-checks the state after
    claiming, so a message already handed over is not sent either). Returns how many were cancelled."""
    from gateway.pipeline.outbox import cancel_pending

    batch = session.get(MilestoneBatch, batch_id)
    if batch is None:
        raise BatchError("No such batch.")
    return cancel_pending(session, batch_id=batch_id, reason="batch_withdrawn")
