"""Follow-up starts when the office presses Start, or at the ladder's ``auto_start`` when nobody has; a pupil
taken out before the start gets no message; a batch is never planned from a half-term that has not finished."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InputError
from gateway.models import (
    AbsenceCase,
    AttendanceMark,
    AuditEntry,
    FollowupDay,
    HalfTerm,
    MilestoneBatch,
    OutboxMessage,
    StaffUser,
)
from gateway.pipeline import ports
from gateway.pipeline.absence import start_followup
from gateway.pipeline.followup_start import FollowupChangeError, exclude_pupil, mark_present
from gateway.pipeline.milestones import BatchError, plan_fresh_start_batch
from gateway.routing.ladder import EscalationLadder
from tests.pipeline.conftest import DAY, Pipeline, add_family, at


def _ladder(auto_start: str) -> EscalationLadder:
    packaged = EscalationLadder.packaged()
    return replace(packaged, auto_start=None if auto_start == "off" else
                   EscalationLadder.from_mapping({"registers_close": "09:15", "auto_start": auto_start,
                                                  "step": [{"name": "x", "after_minutes": 0, "audience": "primary",
                                                            "kind": "absence_first_day"}]}).auto_start)


def test_nothing_starts_by_itself_at_registers_close(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    with ports.using(replace(ports.current(), ladder=lambda: _ladder("off"))):
        for hour, minute in ((9, 15), (9, 50), (11, 0)):
            pipeline.clock.current = at(hour, minute)
            assert pipeline.tick().cases_opened == 0
        assert session.scalars(select(AbsenceCase)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []
        summary = start_followup(session, DAY, family.dsl)  # the office presses Start
    assert summary.cases_opened == 1 and summary.messages_queued == 1
    started = session.get(FollowupDay, DAY)
    assert started is not None and started.started_by == family.dsl and not started.automatic


def test_the_gateway_starts_on_its_own_at_auto_start_and_says_so(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    with ports.using(replace(ports.current(), ladder=lambda: _ladder("09:45"))):
        pipeline.clock.current = at(9, 44)
        assert pipeline.tick().cases_opened == 0
        pipeline.clock.current = at(9, 45)
        assert pipeline.tick().cases_opened == 1
    session.expire_all()
    started = session.get(FollowupDay, DAY)
    assert started is not None and started.automatic and started.started_by is None
    said = session.scalars(select(AuditEntry).where(AuditEntry.action == "auto_start_followup")).one()
    assert said.staff_id is None and said.detail == {"date": DAY.isoformat(), "auto_start": "09:45"}


def test_a_pupil_taken_out_before_the_start_gets_no_message(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    staff = session.get(StaffUser, family.dsl)
    assert staff is not None
    with pytest.raises(FollowupChangeError):
        exclude_pupil(session, DAY, family.kuba, "   ", staff)  # a reason is required
    exclude_pupil(session, DAY, family.kuba, "arrived at 09:16: late, not absent", staff)
    session.commit()
    with ports.using(replace(ports.current(), ladder=lambda: _ladder("off"))):
        pipeline.clock.current = at(9, 30)
        start_followup(session, DAY, family.dsl)
        pipeline.drain()
    case = session.scalars(select(AbsenceCase)).one()
    assert [p.id for p in case.pupils] == [family.ola]
    assert all(family.kuba not in row.pupil_ids for row in session.scalars(select(OutboxMessage)))
    with pytest.raises(FollowupChangeError):  # too late for Ola: her case is open (Stop messages instead)
        exclude_pupil(session, DAY, family.ola, "wrong mark", staff)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "exclude_from_followup")).one()
    assert entry.entity_id == family.kuba and entry.detail["reason"] == "arrived at 09:16: late, not absent"


def test_marking_a_pupil_present_before_the_start_records_them_late(session: Session) -> None:
    family = add_family(session)
    staff = session.get(StaffUser, family.dsl)
    assert staff is not None
    assert mark_present(session, DAY, family.ola, staff) == 1
    session.commit()
    mark = session.scalars(select(AttendanceMark).where(AttendanceMark.pupil_id == family.ola)).one()
    assert mark.code == "L"
    with pytest.raises(FollowupChangeError):
        mark_present(session, DAY, family.ola, staff)


@pytest.mark.parametrize(("raw", "problem"), [("9.45", "is not a time of day"), ("09:00", "before registers_close")])
def test_auto_start_must_be_a_time_after_registers_close(raw: str, problem: str) -> None:
    data = {"registers_close": "09:15", "auto_start": raw,
            "step": [{"name": "x", "after_minutes": 0, "audience": "primary", "kind": "absence_first_day"}]}
    with pytest.raises(InputError) as error:
        EscalationLadder.from_mapping(data)
    assert problem in str(error.value)
    assert EscalationLadder.packaged().auto_start is not None  # the shipped file sets one


def test_no_batch_from_a_half_term_that_has_not_finished(session: Session, pipeline: Pipeline) -> None:
    add_family(session, marks=False)
    autumn_2 = HalfTerm(name="Autumn 2", start=date(2026, 11, 2), end=date(2026, 12, 18))
    spring_1 = HalfTerm(name="Spring 1", start=date(2027, 1, 4), end=date(2027, 2, 12))
    session.add_all([autumn_2, spring_1])
    session.commit()
    with pytest.raises(BatchError, match="Autumn 2 has not finished yet"):
        plan_fresh_start_batch(session, spring_1, at(10, 0))  # 23 November: Autumn 2 runs to December
    assert session.scalars(select(MilestoneBatch)).all() == []
    plan_fresh_start_batch(session, spring_1, at(17, 0, date(2027, 1, 3)))  # the Sunday before: fine
    assert session.scalars(select(MilestoneBatch)).one().half_term_id == spring_1.id
