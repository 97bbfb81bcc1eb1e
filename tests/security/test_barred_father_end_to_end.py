"""End to end through the real channels, the Twilio and SMTP sandboxes and real templates: absences start,
the barred father texts "George is ill today", and the ladder still reaches the other parent, the emergency
contact and the DSL; he receives nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage, OutboxState, Restriction
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.replies import record_inbound
from gateway.pipeline.scheduler import tick
from tests.pipeline.conftest import DAD_MOBILE, DAY, GRAN_PHONE, MUM_MOBILE, add_family, at
from tests.pipeline.live_channels import Live, broker_url_for, drain, live_channels
from tests.security.support import restrict


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """Workers on a real broker (Redis with PostgreSQL, the stub with SQLite) sending through the sandboxes."""
    with live_channels(broker_url_for(database_url), FixedClock(at(9, 15))) as running:
        yield running


def _reached(twilio: Any) -> list[str]:
    return [m.params["To"] for m in twilio.state.messages()] + [c.params["To"] for c in twilio.state.calls()]


def test_barred_father_text_does_not_stop_the_ladder_end_to_end(session: Session, live: Live) -> None:
    broker, worker, twilio, smtp = live
    clock = gateway_clock.get_clock()
    assert isinstance(clock, FixedClock)
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)

    start_followup(session, DAY)
    drain(broker, worker)
    assert _reached(twilio) == [MUM_MOBILE]

    clock.advance(minutes=5)  # 09:20: the barred father texts the school's number
    inbound_id, _ = record_inbound(session, provider_sid="SM-barred-1", from_number=DAD_MOBILE,
                                   to_number="+447700900000", body="George is ill today")
    session.commit()
    enqueue_inbound(inbound_id)
    drain(broker, worker)
    session.expire_all()
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.dsl_only and inbound.suggested_code is None
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.OPEN
    mails = smtp.mailbox.messages()
    assert len(mails) == 1 and "dsl@school.invalid" in mails[0].rcpt_tos  # the DSL is told at once
    alert = mails[0].message
    assert "restricted contact" in str(alert["Subject"])
    assert "George" not in alert.as_string()  # what he wrote stays in the gateway, for the DSL to read there

    for minutes in (35, 50, 60):  # step 2 (other channel), emergency contacts, then the DSL
        clock.advance(minutes=minutes)
        tick()
        drain(broker, worker)

    session.expire_all()
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.DSL_ALERTED
    assert DAD_MOBILE not in _reached(twilio)  # he receives nothing: no text, no call, no thanks
    assert GRAN_PHONE in [c.params["To"] for c in twilio.state.calls()]  # the emergency contact is called
    to_mum = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.mum)).all()
    assert {r.channel for r in to_mum if r.state is OutboxState.ACCEPTED} >= {"sms", "email"}
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.dad)).all() == []
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []
    dsl_mails = [m for m in smtp.mailbox.messages() if "dsl@school.invalid" in m.rcpt_tos]
    assert len(dsl_mails) == 2  # the restricted contact's message, then the ladder running out
