"""Milestones: the fresh-start batch held for approval, positive attendance, fortnightly check-ins."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Adult, AttendanceMark, HalfTerm, MilestoneBatch, OutboxMessage, OutboxState, Pupil
from gateway.pipeline import milestones
from gateway.pipeline.milestones import approve_batch, plan_and_release
from tests.pipeline.conftest import Family, Pipeline, add_family, at

AUTUMN_2 = (date(2026, 11, 2), date(2026, 12, 18))
SPRING_1 = (date(2027, 1, 4), date(2027, 2, 12))


def _weekdays(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)
            if (start + timedelta(days=n)).weekday() < 5]


def _school_year(session: Session, family: Family, *, missed_autumn: int) -> HalfTerm:
    autumn = HalfTerm(name="Autumn 2", start=AUTUMN_2[0], end=AUTUMN_2[1])
    spring = HalfTerm(name="Spring 1", start=SPRING_1[0], end=SPRING_1[1])
    session.add_all([autumn, spring])
    for pupil_id in family.pupils:
        for index, day in enumerate(_weekdays(*AUTUMN_2)):
            code = "N" if index < missed_autumn else "/"
            session.add_all([AttendanceMark(pupil_id=pupil_id, date=day, session=s, code=code) for s in ("AM", "PM")])
    session.commit()
    return spring


@pytest.fixture(autouse=True)
def _fresh_daily_memo() -> None:
    milestones._last_daily_run = None


def test_fresh_start_nudges_wait_for_approval(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    spring = _school_year(session, family, missed_autumn=5)
    pipeline.clock.current = at(17, 0, date(2027, 1, 3))  # the Sunday before Spring 1
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    batch = session.scalars(select(MilestoneBatch)).one()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.batch_id == batch.id)).all()
    assert rows and all(r.state is OutboxState.PLANNED for r in rows)
    assert {r.idempotency_key for r in rows} == {f"nudge:{spring.id}:{r.adult_id}" for r in rows}
    assert family.gran not in {r.adult_id for r in rows}  # nudges go to adults with parental responsibility
    plan_and_release(session, pipeline.clock.now())  # planning again adds nothing
    session.commit()
    assert len(session.scalars(select(OutboxMessage)).all()) == len(rows)
    pipeline.tick()
    assert pipeline.sms.outbox == []  # not approved: nothing goes
    assert approve_batch(session, batch.id, family.dsl) == len(rows)
    session.commit()
    pipeline.clock.current = at(18, 0, date(2027, 1, 4))
    pipeline.tick()
    session.expire_all()
    sent = session.scalars(select(OutboxMessage).where(OutboxMessage.batch_id == batch.id)).all()
    assert all(r.state is OutboxState.ACCEPTED for r in sent)
    assert sent[0].context["days_missed"] == 5 and sent[0].context["half_term_name"] == "Spring 1"


def test_positive_attendance_once_per_half_term(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    spring = _school_year(session, family, missed_autumn=6)  # Autumn 2: 80% attendance
    for pupil_id in family.pupils:
        for day in _weekdays(SPRING_1[0], date(2027, 2, 5)):
            session.add_all([AttendanceMark(pupil_id=pupil_id, date=day, session=s, code="/") for s in ("AM", "PM")])
    session.commit()
    pipeline.clock.current = at(10, 0, date(2027, 2, 5))
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    milestones._last_daily_run = None
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "positive_attendance")).all()
    # Every adult with parental responsibility (the seeds), once per half-term; not the grandmother.
    assert sorted(r.idempotency_key for r in rows) == sorted(
        f"positive:{spring.id}:{adult}" for adult in (family.mum, family.dad))
    assert all(r.context["improved_sessions"] >= 1 for r in rows)
    assert all(sorted(r.pupil_ids) == sorted(family.pupils) for r in rows)  # siblings: one message each


def test_fortnightly_checkin_for_support_plans(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=0)
    ola = session.get(Pupil, family.ola)
    assert ola is not None
    ola.support_plan = True
    session.commit()
    pipeline.clock.current = at(10, 0, date(2027, 1, 6))
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "fortnightly_checkin")).all()
    assert sorted((r.adult_id, r.pupil_ids) for r in rows) == [(family.mum, [family.ola]), (family.dad, [family.ola])]


def test_no_routine_message_is_planned_or_timed_on_a_weekend(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=0)
    ola = session.get(Pupil, family.ola)
    assert ola is not None
    ola.support_plan = True
    session.commit()
    for day in (date(2027, 1, 9), date(2027, 1, 10)):  # Saturday, Sunday
        milestones._last_daily_run = None
        pipeline.clock.current = at(10, 0, day)
        plan_and_release(session, pipeline.clock.now())
        session.commit()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "fortnightly_checkin")).all() == []
    milestones._last_daily_run = None
    pipeline.clock.current = at(19, 30, date(2027, 1, 8))  # Friday evening, after the contact window
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "fortnightly_checkin")).all()
    assert rows and all(r.send_after is not None for r in rows)
    # Routing moves it past the weekend to Monday morning, inside the window.
    assert {r.send_after.astimezone(at(8, 0).tzinfo).date() for r in rows if r.send_after} == {date(2027, 1, 11)}


def test_a_checkin_goes_at_most_once_a_fortnight(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=0)
    ola = session.get(Pupil, family.ola)
    assert ola is not None
    ola.support_plan = True
    session.commit()
    # Friday 15 and Monday 18 January straddle a 14-day block boundary (ordinal // 14): a new key, not a new
    # fortnight; Friday 29 January is a fortnight after the first.
    for day in (date(2027, 1, 15), date(2027, 1, 18), date(2027, 1, 29)):
        milestones._last_daily_run = None
        pipeline.clock.current = at(10, 0, day)
        plan_and_release(session, pipeline.clock.now())
        session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "fortnightly_checkin",
                                                       OutboxMessage.adult_id == family.mum)
                           .order_by(OutboxMessage.send_after)).all()
    times = [r.send_after for r in rows if r.send_after is not None]
    assert len(times) == 2
    assert times[1] - times[0] >= timedelta(days=14)


def test_no_routine_call_in_a_language_without_a_voice(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=0)
    mum, dad = session.get(Adult, family.mum), session.get(Adult, family.dad)
    assert mum is not None and dad is not None
    for adult in (mum, dad):
        adult.language, adult.channel_order = "so", "voice"  # Somali: Twilio has no voice for it
        for point in adult.contact_points:
            point.sms_capable = False
    ola = session.get(Pupil, family.ola)
    assert ola is not None
    ola.support_plan = True
    session.commit()
    pipeline.clock.current = at(10, 0, date(2027, 1, 6))
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")).all() == []
