"""Milestones: the fresh-start batch held for approval, positive attendance, fortnightly check-ins."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Adult, AttendanceMark, HalfTerm, MilestoneBatch, OutboxMessage, OutboxState, Pupil
from gateway.pipeline import milestones
from gateway.pipeline.milestones import approve_batch, plan_and_release
from gateway.pipeline.outbox import from_json_context
from gateway.rendering import render_message
from tests.pipeline.conftest import Family, Pipeline, add_family, at

AUTUMN_2 = (date(2026, 11, 2), date(2026, 12, 18))
SPRING_1 = (date(2027, 1, 4), date(2027, 2, 12))


def _weekdays(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)
            if (start + timedelta(days=n)).weekday() < 5]


def _school_year(session: Session, family: Family, *, missed_autumn: int | dict[int, int],
                 missed_late: bool = False) -> HalfTerm:
    """Autumn 2's register: ``missed_autumn`` days missed (per pupil id when a dict), at the start of the
    half-term or, with ``missed_late``, in its last days."""
    autumn = HalfTerm(name="Autumn 2", start=AUTUMN_2[0], end=AUTUMN_2[1])
    spring = HalfTerm(name="Spring 1", start=SPRING_1[0], end=SPRING_1[1])
    session.add_all([autumn, spring])
    days = _weekdays(*AUTUMN_2)
    for pupil_id in family.pupils:
        missed = missed_autumn if isinstance(missed_autumn, int) else missed_autumn.get(pupil_id, 0)
        absent = days[len(days) - missed:] if missed_late else days[:missed]
        for day in days:
            code = "N" if day in absent else "/"
            session.add_all([AttendanceMark(pupil_id=pupil_id, date=day, session=s, code=code) for s in ("AM", "PM")])
    session.commit()
    return spring


def _spring_so_far(session: Session, family: Family, until: date = date(2027, 2, 5)) -> None:
    for pupil_id in family.pupils:
        for day in _weekdays(SPRING_1[0], until):
            session.add_all([AttendanceMark(pupil_id=pupil_id, date=day, session=s, code="/") for s in ("AM", "PM")])
    session.commit()


def _positive_rows(session: Session, pipeline: Pipeline, day: date = date(2027, 2, 5)) -> list[OutboxMessage]:
    milestones._last_daily_run = None
    pipeline.clock.current = at(10, 0, day)
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "positive_attendance")))


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
    # Each child's own figure, in the order of the message's pupils (both missed 5 days here).
    assert sent[0].context["days_missed"] == [5, 5] and sent[0].context["half_term_name"] == "Spring 1"


def test_fresh_start_gives_each_sibling_their_own_days_missed(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn={family.ola: 5, family.kuba: 3})
    pipeline.clock.current = at(17, 0, date(2027, 1, 3))
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "fresh_start")).all()
    assert rows
    for row in rows:  # one message per adult names both children, each with their own days
        figures = dict(zip(row.pupil_ids, row.context["days_missed"], strict=True))
        assert figures == {family.ola: 5, family.kuba: 3}
    context = from_json_context(rows[0].context)
    text = render_message("fresh_start", locale="pl", channel="sms", context=context).text
    assert "Ola - 5 dni" in text and "Kuba - 3 dni" in text


def test_half_days_missed_round_half_up() -> None:
    assert [milestones.whole_days(days) for days in (0.5, 2.5, 3.5, 4.0, 4.49)] == [1, 3, 4, 4, 4]


def test_positive_attendance_once_per_half_term(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    spring = _school_year(session, family, missed_autumn=6, missed_late=True)  # the last 6 days of Autumn 2
    _spring_so_far(session, family)  # every session of Spring 1 so far: 25 days, 50 sessions
    _positive_rows(session, pipeline)
    rows = _positive_rows(session, pipeline)
    # Every adult with parental responsibility (the seeds), once per half-term; not the grandmother.
    assert sorted(r.idempotency_key for r in rows) == sorted(
        f"positive:{spring.id}:{adult}" for adult in (family.mum, family.dad))
    # Counted: 50 of 50 sessions now against 38 of the last 50 possible sessions of Autumn 2.
    assert {r.context["improved_sessions"] for r in rows} == {12}
    assert all(sorted(r.pupil_ids) == sorted(family.pupils) for r in rows)  # siblings: one message each


def test_positive_attendance_compares_with_the_sessions_just_before_not_an_estimate(
        session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    # Autumn 2 was 83% (6 days missed in its first week and a half) but fully attended after that: the 50
    # sessions just before Spring 1 were all attended, so Spring's 50 of 50 is no improvement on them.
    _school_year(session, family, missed_autumn=6)
    _spring_so_far(session, family)
    assert _positive_rows(session, pipeline) == []


def test_positive_attendance_needs_two_weeks_of_sessions_to_compare(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=6, missed_late=True)
    _spring_so_far(session, family, until=date(2027, 1, 13))  # 8 days: 16 sessions
    assert _positive_rows(session, pipeline, date(2027, 1, 13)) == []


def test_siblings_improvement_is_the_smaller_of_their_own_counts(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn={family.ola: 6, family.kuba: 2}, missed_late=True)
    _spring_so_far(session, family)
    rows = _positive_rows(session, pipeline)
    assert rows and {r.context["improved_sessions"] for r in rows} == {4}  # Kuba: 2 days more; Ola: 6


@pytest.mark.parametrize(("recent", "before", "more"), [
    (["/"] * 40, ["/"] * 36 + ["N"] * 4, 4),
    (["/"] * 40, ["/"] * 39 + ["N"], 0),  # one session: not a whole day more
    (["/"] * 38 + ["N"] * 2, ["/"] * 30 + ["N"] * 10, 8),
    (["/"] * 37 + ["N"] * 3, ["N"] * 40, 0),  # 92.5% now: better, but not good attendance yet
    (["/"] * 19, ["N"] * 19, 0),  # under two weeks to compare
    (["/"] * 30, ["N"] * 10 + ["/"] * 20 + ["N"] * 10, 10),  # the last 30 before: 20 attended
    (["/"] * 20 + ["V"] * 10, ["/"] * 20 + ["G"] * 10, 10),  # an educational visit counts as attended
])
def test_sessions_attended_more_counts_register_codes(recent: list[str], before: list[str], more: int) -> None:
    assert milestones.sessions_attended_more(recent, before) == more


def test_a_holiday_mark_is_not_a_possible_session(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=6, missed_late=True)
    _spring_so_far(session, family)
    for pupil_id in family.pupils:  # school closed (code #) on the last Friday of Autumn 2
        for mark in session.scalars(select(AttendanceMark).where(AttendanceMark.pupil_id == pupil_id,
                                                                 AttendanceMark.date == AUTUMN_2[1])):
            mark.code = "#"
    session.commit()
    rows = _positive_rows(session, pipeline)
    # The 50 possible sessions before Spring now reach back one more day (attended): 40 of 50, 10 fewer.
    assert {r.context["improved_sessions"] for r in rows} == {10}


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
