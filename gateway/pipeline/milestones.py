"""Milestone messages: fresh-start nudges at each half-term, positive attendance, fortnightly check-ins.

* Fresh start: the day before a half-term starts (or on its first day), routing plans one nudge per adult;
  the rows are created ``planned`` under a ``MilestoneBatch`` and stay there until staff approve the batch
  (``approve_batch``); then they are queued with ``send_after`` = the planned instant inside each adult's
  window (the evening before or that morning). Key: ``nudge:{half_term}:{adult}``. Siblings share one
  message, which gives each child's own days missed (``days_missed``: one whole number per pupil, in the
  order of ``pupil_ids``; half days rounded half up).
* Positive attendance: a pupil who, counted from the register, attended more sessions so far this half-term
  than in as many possible sessions just before it (at least two weeks' worth, at least 95% attended now, at
  least a whole day more): one message to every adult with parental responsibility for improved children,
  at most once per half-term, with the smallest of their children's gains. Key:
  ``positive:{half_term}:{adult}``.
* Fortnightly check-in: adults with parental responsibility for a pupil on a support plan, at most once in
  14 days. Key: ``checkin:{n}:{adult}``.
Routing plans every routine message (audience, restrictions, channel, language, the adult's window on a
school day, the weekly cap from ``recent_counts``); this module only writes the rows routing planned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
from gateway.pipeline import ports
from gateway.pipeline.context import message_context, pupils_by_id
from gateway.pipeline.outbox import NewMessage, add_message
from gateway.routing.plan import Delivery, Plan
from gateway.routing.recipient import ROUTINE_KINDS

log = logging.getLogger(__name__)
CHECKIN_DAYS = 14
# Positive attendance: compared over at least two school weeks of possible sessions; the recent ones at least
# 95% attended and at least one whole day (two sessions) more than before.
MIN_COMPARED_SESSIONS = 20
POSITIVE_RATE_PERCENT = 95
MIN_SESSIONS_MORE = 2
ATTENDED_CODES = PRESENT_CODES | APPROVED_OFF_SITE
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
    used = ports.current()
    plan = used.routing.plan_fresh_start(session, half_term=half_term, now=now, ladder=used.ladder(),
                                         recent_counts=recent_counts(session, now))
    # Load every adult and pupil the plan names in a few queries, not two per nudge (a trust has tens of
    # thousands); the identity map then answers each delivery's lookups.
    adults = _load_by_id(session, Adult, {d.adult_id for d in plan.deliveries})
    pupils_loaded = _load_by_id(session, Pupil, {p for d in plan.deliveries for p in d.pupil_ids})
    for delivery in plan.deliveries:
        adult = adults.get(delivery.adult_id)
        pupils = [pupils_loaded[p] for p in delivery.pupil_ids if p in pupils_loaded]
        missed = _own_days_missed(delivery, pupils_loaded)
        add_message(session, NewMessage(
            idempotency_key=f"nudge:{half_term.id}:{delivery.adult_id}", kind="fresh_start",
            channel=delivery.channel, to_address=delivery.to, locale=delivery.locale, variant=delivery.variant,
            context=message_context(session, adult=adult, pupils=pupils, on=half_term.start,
                                    days_missed=missed or 0,
                                    half_term_name=half_term.name, start_date=half_term.start),
            adult_id=delivery.adult_id, contact_point_id=delivery.contact_point_id, batch_id=batch.id,
            pupil_ids=list(delivery.pupil_ids), why=delivery.why, fallback_channels=list(delivery.fallback_channels),
            send_after=delivery.send_at, state=OutboxState.PLANNED))
    log.info("fresh-start batch planned", extra={"half_term_id": half_term.id, "messages": len(plan.deliveries)})
    return batch


def _own_days_missed(delivery: Delivery, loaded: dict[int, Any]) -> list[int]:
    """Each named child's own days missed, in the order of the message's pupils (those still on record)."""
    if not delivery.days_missed:
        return []
    pairs = zip(delivery.pupil_ids, delivery.days_missed, strict=True)
    return [whole_days(days) for pupil_id, days in pairs if pupil_id in loaded]


def whole_days(days: float) -> int:
    """Days missed as the message says them: a half day rounds up (2.5 -> 3), never to even like ``round``."""
    return int(days + 0.5)  # days missed are never negative: int() is floor here


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


def sessions_attended_more(recent: Sequence[str], before: Sequence[str]) -> int:
    """How many more sessions a pupil attended in ``recent`` than in as many possible sessions of ``before``.

    Both are register codes of possible sessions in date order. The last ``n`` of each are compared, ``n``
    the shorter of the two, and at least ``MIN_COMPARED_SESSIONS``. Counted, never estimated: 0 unless the
    recent sessions are at least ``POSITIVE_RATE_PERCENT`` attended and at least ``MIN_SESSIONS_MORE`` (a
    whole day, as the message speaks of days) more were attended than before.
    """
    compared = min(len(recent), len(before))
    if compared < MIN_COMPARED_SESSIONS:
        return 0
    attended_now = sum(1 for code in recent[-compared:] if code in ATTENDED_CODES)
    attended_before = sum(1 for code in before[-compared:] if code in ATTENDED_CODES)
    if attended_now * 100 < POSITIVE_RATE_PERCENT * compared:
        return 0
    more = attended_now - attended_before
    return more if more >= MIN_SESSIONS_MORE else 0


def _possible_sessions(session: Session, pupil_ids: list[int], start: date, end: date
                       ) -> dict[int, list[tuple[date, str]]]:
    """Per pupil, (date, code) of every possible session in [start, end], in register order."""
    found: dict[int, list[tuple[date, str]]] = {pupil_id: [] for pupil_id in pupil_ids}
    for offset in range(0, len(pupil_ids), 1000):
        rows = session.execute(
            select(AttendanceMark.pupil_id, AttendanceMark.date, AttendanceMark.code)
            .where(AttendanceMark.pupil_id.in_(pupil_ids[offset:offset + 1000]), AttendanceMark.date >= start,
                   AttendanceMark.date <= end, AttendanceMark.code.not_in(NOT_POSSIBLE))
            .order_by(AttendanceMark.pupil_id, AttendanceMark.date, AttendanceMark.session))
        for pupil_id, day, code in rows:
            found[pupil_id].append((day, code))
    return found


def _improved_sessions(session: Session, pupils: list[Pupil], today: date, current: HalfTerm,
                       previous: HalfTerm) -> dict[int, int]:
    """Pupils who attended more sessions so far this half-term than in as many possible sessions just before
    it (the end of the previous half-term), with how many more: counted from the register marks."""
    marks = _possible_sessions(session, [p.id for p in pupils], previous.start, today)
    improved: dict[int, int] = {}
    for pupil in pupils:
        sessions = marks.get(pupil.id, [])
        recent = [code for day, code in sessions if current.start <= day <= today]
        before = [code for day, code in sessions if previous.start <= day <= previous.end]
        more = sessions_attended_more(recent, before)
        if more:
            improved[pupil.id] = more
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
    used = ports.current()
    inset_days = used.routing.inset_days(session, today)
    if not is_school_day(today, inset_days):
        return
    current = session.scalars(select(HalfTerm).where(HalfTerm.start <= today, HalfTerm.end >= today)).first()
    if current is None:
        return
    previous = session.scalars(select(HalfTerm).where(HalfTerm.end < current.start)
                               .order_by(HalfTerm.end.desc()).limit(1)).first()
    counts = recent_counts(session, now)
    routine = RoutineSettings(now=now, tz=settings.tz, capabilities=used.capabilities(),
                              recent_counts=counts, ladder=used.ladder(), inset_days=inset_days,
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
    improved = _improved_sessions(session, list(pupils), today, current, previous) if previous is not None else {}
    if improved:
        plan = plan_positive_attendance(load_households(session, pupil_ids=sorted(improved)), day=today,
                                        improved_pupil_ids=improved, settings=routine)
        _queue_plan(session, plan, key=f"positive:{current.id}", on=today, counts=counts,
                    extra=lambda d: {"improved_sessions": min(improved[p] for p in d.pupil_ids)})


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
