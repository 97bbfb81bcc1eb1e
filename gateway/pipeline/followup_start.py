"""Starting a day's follow-up: explicitly by the office, or by the gateway at the ladder's ``auto_start``.

Before the start, the office checks who would be contacted: it may take a pupil out of the day's follow-up
(a wrong ``N`` mark; audited with the reason given) or mark them present (they arrived late). Once the day
has started, the scheduler keeps opening cases for ``N`` marks that arrive later that day, as before.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.errors import GatewayError
from gateway.models import AttendanceMark, FollowupDay, FollowupExclusion, Pupil, StaffUser
from gateway.models.attendance import UNEXPLAINED
from gateway.pipeline.cases import excluded_pupils, pupils_in_cases
from gateway.routing.ladder import EscalationLadder

log = logging.getLogger(__name__)
LATE_CODE = "L"  # arrived late, before registers closed: present


class FollowupChangeError(GatewayError):
    """A pupil could not be removed or marked present (the message says why, for staff)."""


def started(session: Session, on: date) -> FollowupDay | None:
    """The day's start record, or None while nobody (and not the gateway) has started it."""
    return session.get(FollowupDay, on)


def mark_started(session: Session, on: date, *, staff_id: int | None, automatic: bool = False,
                 now: datetime | None = None) -> FollowupDay:
    """Record that ``on``'s follow-up has started (idempotent: the first start wins; flushes, no commit)."""
    existing = started(session, on)
    if existing is not None:
        return existing
    day = FollowupDay(date=on, started_at=now or clock.now(), started_by=staff_id, automatic=automatic)
    try:
        with session.begin_nested():
            session.add(day)
            session.flush()
    except IntegrityError:  # another process started it a moment ago
        found = started(session, on)
        assert found is not None
        return found
    return day


def ready_to_open(session: Session, on: date, local_now: datetime, ladder: EscalationLadder) -> bool:
    """May the scheduler open ``on``'s cases now? Yes once the day has started; at ``auto_start`` (when the
    ladder has one) the gateway starts it itself, records that, and says so in the audit log."""
    if started(session, on) is not None:
        return True
    if ladder.auto_start is None or local_now.time() < ladder.auto_start:
        return False
    from gateway.staff import record_audit

    mark_started(session, on, staff_id=None, automatic=True)
    record_audit(session, None, "auto_start_followup", "absence_day", None,
                 {"date": on.isoformat(), "auto_start": ladder.auto_start.strftime("%H:%M")})
    log.info("follow-up started by the gateway (nobody had)", extra={"date": on.isoformat()})
    return True


def exclude_pupil(session: Session, on: date, pupil_id: int, reason: str, staff: StaffUser) -> FollowupExclusion:
    """Take a pupil out of ``on``'s follow-up (before their case opens), audited with the reason."""
    from gateway.staff import record_audit

    reason = " ".join(reason.split())
    if not reason:
        raise FollowupChangeError("Say why this pupil should not be followed up.")
    if session.get(Pupil, pupil_id) is None:
        raise FollowupChangeError("No such pupil.")
    if pupil_id in pupils_in_cases(session, on):
        raise FollowupChangeError("This family's follow-up has already started: use Stop messages instead.")
    existing = excluded_pupils(session, on).get(pupil_id)
    if existing is not None:
        return existing
    row = FollowupExclusion(date=on, pupil_id=pupil_id, reason=reason[:200], staff_id=staff.id,
                            created_at=clock.now())
    session.add(row)
    session.flush()
    record_audit(session, staff, "exclude_from_followup", "pupil", pupil_id,
                 {"date": on.isoformat(), "reason": reason[:200]})
    return row


def mark_present(session: Session, on: date, pupil_id: int, staff: StaffUser) -> int:
    """Record the pupil as arrived late (``L``) wherever they were marked ``N`` on ``on``; audited. Returns the
    number of marks changed."""
    from gateway.staff import record_audit

    marks = session.scalars(select(AttendanceMark).where(
        AttendanceMark.pupil_id == pupil_id, AttendanceMark.date == on, AttendanceMark.code == UNEXPLAINED)).all()
    if not marks:
        raise FollowupChangeError("This pupil has no unexplained absence mark that day.")
    for mark in marks:
        mark.code = LATE_CODE
    session.flush()
    record_audit(session, staff, "mark_present", "pupil", pupil_id,
                 {"date": on.isoformat(), "code": LATE_CODE, "sessions": sorted(m.session for m in marks)})
    return len(marks)
