"""Absence cases: finding the day's unexplained absences, grouping siblings into families, opening and closing.

A family is the pupils linked through any adult with parental responsibility (siblings share a parent); the
pupils of one family absent on the same day are one case. ``(date, family_key)`` is unique, so opening the
same day twice (two schedulers, a re-run of ``gateway absences start``) never doubles a case.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import AbsenceCase, AttendanceMark, CaseState, FollowupExclusion, PupilContact
from gateway.models.attendance import PRESENT_CODES, UNEXPLAINED
from gateway.models.messaging import ACTIVE_CASE_STATES, absence_case_pupil
from gateway.pipeline.outbox import cancel_pending

if TYPE_CHECKING:
    from gateway.importing.absences import MarkChange

log = logging.getLogger(__name__)
CLOSE_REASONS = ("reply", "present_mark", "staff", "keypad")
# The case states in which the ladder still climbs; a DSL-alerted case stays open for a reply.
# A call-back request stops the ladder but leaves the case open for the parent's (or staff's) reason.
REPLYABLE_STATES = (*ACTIVE_CASE_STATES, CaseState.DSL_ALERTED, CaseState.CALL_BACK)


def unexplained_pupils(session: Session, on: date) -> list[int]:
    """Pupils with an N mark on ``on`` and no present mark that day."""
    marks = session.execute(select(AttendanceMark.pupil_id, AttendanceMark.code)
                            .where(AttendanceMark.date == on)).all()
    absent = {pupil for pupil, code in marks if code == UNEXPLAINED}
    present = {pupil for pupil, code in marks if code in PRESENT_CODES}
    return sorted(absent - present)


def group_families(session: Session, pupil_ids: Iterable[int]) -> list[list[int]]:
    """Split pupils into families: connected through shared adults with parental responsibility."""
    pupils = sorted(set(pupil_ids))
    parent: dict[int, int] = {p: p for p in pupils}

    def find(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    links = session.execute(select(PupilContact.adult_id, PupilContact.pupil_id).where(
        PupilContact.pupil_id.in_(pupils), PupilContact.parental_responsibility.is_(True))).all()
    by_adult: dict[int, list[int]] = defaultdict(list)
    for adult_id, pupil_id in links:
        by_adult[adult_id].append(pupil_id)
    for members in by_adult.values():
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    families: dict[int, list[int]] = defaultdict(list)
    for p in pupils:
        families[find(p)].append(p)
    return sorted(families.values())


def excluded_pupils(session: Session, on: date) -> dict[int, FollowupExclusion]:
    """The pupils taken out of ``on``'s follow-up, by pupil id (``followup_start.exclude_pupil``)."""
    rows = session.scalars(select(FollowupExclusion).where(FollowupExclusion.date == on))
    return {row.pupil_id: row for row in rows}


def pupils_in_cases(session: Session, on: date) -> set[int]:
    """Pupils already in a case for ``on``."""
    return set(session.scalars(
        select(absence_case_pupil.c.pupil_id).join(AbsenceCase, AbsenceCase.id == absence_case_pupil.c.case_id)
        .where(AbsenceCase.date == on)))


def previous_school_day(on: date) -> date:
    """The weekday before ``on`` (a later day of the same absence continues across a weekend)."""
    day = on - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def days_absent_before(session: Session, pupil_ids: list[int], on: date) -> int:
    """How many consecutive school days before ``on`` these pupils already had a case."""
    latest = session.scalars(
        select(AbsenceCase).join(absence_case_pupil, AbsenceCase.id == absence_case_pupil.c.case_id)
        .where(absence_case_pupil.c.pupil_id.in_(pupil_ids), AbsenceCase.date == previous_school_day(on))
        .order_by(AbsenceCase.days_absent.desc()).limit(1)).first()
    return latest.days_absent if latest is not None else 0


def open_cases(session: Session, on: date, *, staff_id: int | None = None) -> list[AbsenceCase]:
    """Open one case per family for ``on``'s unexplained absences not yet in a case (flushes, no commit)."""
    from gateway.models import Pupil

    taken = pupils_in_cases(session, on) | set(excluded_pupils(session, on))  # removed by staff before the start
    fresh = [p for p in unexplained_pupils(session, on) if p not in taken]
    opened: list[AbsenceCase] = []
    now = clock.now()
    for family in group_families(session, fresh):
        key = ",".join(str(p) for p in family)
        case = AbsenceCase(date=on, family_key=key, state=CaseState.OPEN, current_step=0, next_step_at=now,
                           opened_at=now, opened_by=staff_id,
                           days_absent=days_absent_before(session, family, on) + 1)
        case.pupils = list(session.scalars(select(Pupil).where(Pupil.id.in_(family)).order_by(Pupil.id)))
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:  # another process opened it a moment ago
            log.info("case already opened elsewhere", extra={"date": on.isoformat()})
            continue
        opened.append(case)
    if opened:
        log.info("cases opened", extra={"date": on.isoformat(), "count": len(opened)})
    return opened


def close_case(session: Session, case_id: int, reason: str, staff_id: int | None = None, *,
               state: CaseState = CaseState.CLOSED) -> bool:
    """Close a case (reply, present mark, staff action) and cancel what is still pending. False if closed."""
    case = session.get(AbsenceCase, case_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if case is None or case.state not in REPLYABLE_STATES:
        return False
    now = clock.now()
    case.state = state
    case.closed_at = now
    case.close_reason = reason[:64]
    case.closed_by = staff_id
    case.next_step_at = None
    cancelled = cancel_pending(session, case_id=case_id, reason=f"case_{state.value}")
    log.info("case closed", extra={"case_id": case_id, "reason": reason, "cancelled": cancelled})
    return True


def close_cases_for_present_marks(session: Session, marks: Iterable[tuple[int, date]]) -> list[int]:
    """Close the open cases whose every pupil now has a present mark (``/``, ``\\``, ``L``) that day."""
    closed: list[int] = []
    by_date: dict[date, set[int]] = defaultdict(set)
    for pupil_id, on in marks:
        by_date[on].add(pupil_id)
    for on, pupil_ids in by_date.items():
        cases = session.scalars(
            select(AbsenceCase).join(absence_case_pupil, AbsenceCase.id == absence_case_pupil.c.case_id)
            .where(AbsenceCase.date == on, absence_case_pupil.c.pupil_id.in_(pupil_ids),
                   AbsenceCase.state.in_(REPLYABLE_STATES))).unique().all()
        present = set(session.scalars(select(AttendanceMark.pupil_id).where(
            AttendanceMark.date == on, AttendanceMark.code.in_(PRESENT_CODES))))
        for case in cases:
            if all(p.id in present for p in case.pupils) and close_case(session, case.id, "present_mark"):
                closed.append(case.id)
    return closed


def close_cases_after_import(session: Session, changes: Iterable[MarkChange]) -> list[int]:
    """Close cases explained by an absences import (``AbsenceImportSummary.changes``: any mark now present)."""
    return close_cases_for_present_marks(
        session, [(c.pupil_id, c.date) for c in changes if c.new_code in PRESENT_CODES])


def sweep_present_cases(session: Session, on: date) -> list[int]:
    """Close ``on``'s replyable cases whose pupils are all marked present by now (the scheduler's safety net
    for marks that arrived by any route)."""
    pupil_ids = session.scalars(
        select(absence_case_pupil.c.pupil_id).join(AbsenceCase, AbsenceCase.id == absence_case_pupil.c.case_id)
        .where(AbsenceCase.date == on, AbsenceCase.state.in_(REPLYABLE_STATES))).all()
    return close_cases_for_present_marks(session, [(p, on) for p in pupil_ids]) if pupil_ids else []
