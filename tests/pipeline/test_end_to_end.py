"""End to end through the real channels and the Twilio and SMTP sandboxes, with real templates:
PostgreSQL + Redis (when both are configured) and SQLite + the stub broker.

A family with two absent children; the ladder starts; nobody replies so it climbs; a Polish reply stops it,
suggests code I and is thanked in Polish; the siblings share every message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage, OutboxState
from gateway.pipeline import ports
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.broker import reset_broker, setup_broker
from gateway.pipeline.replies import record_inbound
from gateway.pipeline.scheduler import tick
from gateway.pipeline.worker import start_worker, stop_worker
from tests.pipeline.conftest import DAD_MOBILE, DAY, MUM_MOBILE, add_family, at
from tests.pipeline.live_channels import Live, broker_url_for, drain, live_channels


@pytest.fixture
def broker_url(database_url: str) -> str:
    return broker_url_for(database_url)


@pytest.fixture
def live(broker_url: str) -> Iterator[Live]:
    with live_channels(broker_url, FixedClock(at(9, 15))) as running:
        yield running


def test_absence_day_end_to_end(session: Session, live: Live) -> None:
    broker, worker, twilio, smtp = live
    clock = gateway_clock.get_clock()
    assert isinstance(clock, FixedClock)
    family = add_family(session)

    start_followup(session, DAY)
    drain(broker, worker)
    texts = twilio.state.messages()  # type: ignore[attr-defined]
    assert [m.params["To"] for m in texts] == [MUM_MOBILE]  # one text for both children
    assert "Ola" in texts[0].params["Body"] and "Kuba" in texts[0].params["Body"]

    clock.advance(minutes=40)  # nobody replied: step 2 to every adult with parental responsibility
    tick()
    drain(broker, worker)
    session.expire_all()
    step2 = session.scalars(select(OutboxMessage).where(OutboxMessage.step == 2)).all()
    assert {r.adult_id for r in step2} == {family.mum, family.dad}
    assert all(r.state is OutboxState.ACCEPTED for r in step2)
    assert any(r.channel == "email" for r in step2)  # mum was texted at step 1: this time an e-mail
    assert len(smtp.mailbox.messages()) == 1  # type: ignore[attr-defined]
    assert DAD_MOBILE in [m.params["To"] for m in twilio.state.messages()]  # type: ignore[attr-defined]

    inbound_id, _ = record_inbound(session, provider_sid="SM-pl-1", from_number=MUM_MOBILE, to_number=None,
                                   body="Ola jest chora")
    session.commit()
    enqueue_inbound(inbound_id)
    drain(broker, worker)
    session.expire_all()
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.suggested_code == "I"
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.REPLIED
    thanks = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).one()
    assert thanks.locale == "pl" and thanks.state is OutboxState.ACCEPTED

    sent_before = len(twilio.state.messages()) + len(twilio.state.calls())  # type: ignore[attr-defined]
    clock.advance(hours=3)
    tick()
    drain(broker, worker)
    assert len(twilio.state.messages()) + len(twilio.state.calls()) == sent_before  # type: ignore[attr-defined]
    assert case.current_step == 2



def test_unanswered_ladder_calls_the_emergency_contact_and_mails_the_dsl(session: Session, live: Live) -> None:
    broker, worker, twilio, smtp = live
    clock = gateway_clock.get_clock()
    assert isinstance(clock, FixedClock)
    family = add_family(session)
    start_followup(session, DAY)
    drain(broker, worker)
    for minutes in (40, 50, 60):
        clock.advance(minutes=minutes)
        tick()
        drain(broker, worker)
    calls = twilio.state.calls()  # type: ignore[attr-defined]
    assert [c.params["To"] for c in calls] == ["+441632960789"]  # gran's landline, spoken in Polish
    session.expire_all()
    call_row = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.gran)).one()
    assert (call_row.kind, call_row.state, call_row.voice_language) == (
        "absence_emergency_contact", OutboxState.ACCEPTED, "pl-PL")
    assert call_row.provider_id == calls[0].sid
    mails = smtp.mailbox.messages()  # type: ignore[attr-defined]
    assert any("dsl@school.invalid" in m.rcpt_tos for m in mails)
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.DSL_ALERTED

RABBITMQ_URL = os.environ.get("GATEWAY_TEST_RABBITMQ_URL")


@pytest.mark.skipif(not RABBITMQ_URL, reason="GATEWAY_TEST_RABBITMQ_URL not set")
def test_rabbitmq_broker_carries_the_same_flow(session: Session, database_url: str) -> None:
    from tests.pipeline.conftest import MemoryChannels, fake_render

    if not database_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the broker check")
    assert RABBITMQ_URL is not None
    gateway_clock.set_clock(FixedClock(at(9, 15)))
    reset_broker()
    broker = setup_broker(RABBITMQ_URL)
    broker.flush_all()
    channels = MemoryChannels()
    try:
        with ports.using(replace(ports.current(), channels=channels, render=fake_render)):
            worker = start_worker(threads=2, broker=broker)
            try:
                add_family(session)
                start_followup(session, DAY)
                drain(broker, worker)
            finally:
                stop_worker(worker)
        session.expire_all()
        assert [r.state for r in session.scalars(select(OutboxMessage))] == [OutboxState.ACCEPTED]
        assert len(channels.sms.outbox) == 1
    finally:
        broker.flush_all()
        reset_broker()
        gateway_clock.set_clock(None)
