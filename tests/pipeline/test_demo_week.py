"""A week on the demo school (seeded absences, replies, check-ins, the daily routine job every day including
the weekend): nothing goes on Saturday or Sunday, and every parent is thanked in the language routing gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import OutboxMessage, Pupil
from gateway.pipeline import milestones, ports
from gateway.routing.language import language_for

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)


@pytest.fixture
def stub_broker() -> Iterator[None]:
    from gateway.pipeline.broker import reset_broker, setup_broker

    reset_broker()
    setup_broker("memory://")
    yield
    reset_broker()


def test_a_demo_week_sends_nothing_at_weekends_and_thanks_each_parent_in_their_language(
        session: Session, tmp_path: Path, stub_broker: None) -> None:
    from gateway.operations.demo_school import seed_demo_school
    from gateway.pipeline.absence import run_due_steps, start_followup
    from gateway.pipeline.replies import process_inbound_message, record_inbound

    clock = FixedClock(datetime.combine(MONDAY, time(8), LONDON))
    gateway_clock.set_clock(clock)
    try:
        seed_demo_school(session, tmp_path / "demo", MONDAY, pupils=120)
        for pupil in session.scalars(select(Pupil).order_by(Pupil.id)).all()[::5]:
            pupil.support_plan = True  # fortnightly check-ins for a fifth of the school
        session.commit()
        for offset in range(7):
            day = MONDAY + timedelta(days=offset)
            for hour in (7, 12, 19):  # the routine job whenever the scheduler first runs that day
                milestones._last_daily_run = None
                clock.current = datetime.combine(day, time(hour, 10), LONDON)
                milestones.plan_and_release(session, clock.now())
                session.commit()
            if offset == 0:
                clock.current = datetime.combine(day, time(9, 30), LONDON)
                start_followup(session, day)
                clock.current = datetime.combine(day, time(10, 15), LONDON)
                texted = session.scalars(select(OutboxMessage).where(
                    OutboxMessage.case_id.is_not(None), OutboxMessage.channel == "sms")).all()
                for index, row in enumerate(texted):  # every texted parent answers
                    inbound_id, _ = record_inbound(session, provider_sid=f"SMweek{index}", from_number=row.to_address,
                                                   to_number=None, body="ill today, sorry")
                    session.commit()
                    process_inbound_message(inbound_id)
            for hour in range(10, 18):
                clock.current = datetime.combine(day, time(hour), LONDON)
                run_due_steps(session, clock.now(), on=day)
                session.commit()
        session.expire_all()
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id.is_not(None))).all()
        assert {r.kind for r in rows} >= {"absence_first_day", "reply_thanks", "fortnightly_checkin"}
        for row in rows:
            when = (row.send_after or row.created_at).astimezone(LONDON)
            assert when.weekday() < 5, f"{row.kind} to adult {row.adult_id} on {when:%A}"
        thanks = [r for r in rows if r.kind == "reply_thanks"]
        used = ports.current()
        capabilities = used.capabilities()
        for row in thanks:
            assert row.adult_id is not None
            recipient = used.routing.recipient(session, row.adult_id, row.pupil_ids)
            assert recipient is not None
            language = language_for(recipient.adult, recipient.pupils, capabilities, row.channel)
            assert (row.locale, row.variant) == (language.locale, language.variant)
        assert len({r.locale for r in thanks}) >= 3  # the demo's parents are thanked in several languages
    finally:
        gateway_clock.set_clock(None)
