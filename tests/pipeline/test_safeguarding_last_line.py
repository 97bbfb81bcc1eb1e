"""Safeguarding is absolute, on every path that sends, not only in routing's plans.

These tests try to get a message to a restricted adult the ways the real world would: the DSL restricts a
father after his message was queued, a member of staff sends by hand, a restricted parent texts in and would
be thanked, an approval is withdrawn. Nothing may reach him.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, OutboxState, PupilContact, Restriction, utcnow
from gateway.pipeline.absence import send_one_off, start_followup
from gateway.pipeline.replies import process_inbound_message, record_inbound
from gateway.pipeline.scheduler import tick as scheduler_tick
from gateway.safeguarding import ContactRestricted, blocked_reason, blocked_reasons
from tests.pipeline.conftest import DAD_MOBILE, DAY, Pipeline, add_family


def _restrict(session: Session, adult_id: int, restriction: Restriction, *, pupil_id: int | None = None) -> None:
    statement = update(PupilContact).where(PupilContact.adult_id == adult_id)
    if pupil_id is not None:
        statement = statement.where(PupilContact.pupil_id == pupil_id)
    session.execute(statement.values(restriction=restriction, dsl_approved_at=None))
    session.commit()


def _sent_to(pipeline: Pipeline, address: str) -> list[object]:
    return [m for channel in (pipeline.sms, pipeline.email, pipeline.voice) for m in channel.outbox if m.to == address]


def test_a_father_restricted_after_his_message_was_queued_receives_nothing(session: Session,
                                                                          pipeline: Pipeline) -> None:
    family = add_family(session)
    with pipeline.broker_paused():
        start_followup(session, DAY)
        pipeline.clock.advance(minutes=45)  # step 2 (every adult with parental responsibility) falls due
        scheduler_tick()  # queues the father's message; the paused workers take nothing yet
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.dad)).all()
        _restrict(session, family.dad, Restriction.NO_CONTACT)
    pipeline.drain()
    pipeline.clock.advance(minutes=60)
    pipeline.tick()
    assert _sent_to(pipeline, DAD_MOBILE) == []
    session.expire_all()
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.dad)):
        assert row.state in (OutboxState.SUPPRESSED, OutboxState.CANCELLED), row.state


def test_a_restriction_on_one_child_only_still_covers_the_sibling(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    _restrict(session, family.dad, Restriction.NO_CONTACT, pupil_id=family.kuba)
    assert blocked_reason(session, family.dad) == "restricted"
    start_followup(session, DAY)
    pipeline.drain()
    for minutes in (45, 60, 60):
        pipeline.clock.advance(minutes=minutes)
        pipeline.tick()
    assert _sent_to(pipeline, DAD_MOBILE) == []


def test_staff_cannot_send_by_hand_to_a_restricted_adult(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    _restrict(session, family.dad, Restriction.NO_CONTACT)
    with pytest.raises(ContactRestricted):
        send_one_off(session, adult_id=family.dad, kind="fortnightly_checkin", pupil_ids=family.pupils, on=DAY,
                     staff_id=family.dsl, channel="sms")
    pipeline.drain()
    assert _sent_to(pipeline, DAD_MOBILE) == []
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.dad)).all() == []


def test_a_restricted_father_who_texts_in_is_not_thanked(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    _restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    inbound_id, _created = record_inbound(session, provider_sid="SMdad", from_number=DAD_MOBILE, to_number=None,
                                          body="Kuba jest chory")
    session.commit()
    process_inbound_message(inbound_id)
    pipeline.drain()
    assert _sent_to(pipeline, DAD_MOBILE) == []


def test_awaiting_approval_blocks_until_approved_and_again_once_withdrawn(session: Session,
                                                                         pipeline: Pipeline) -> None:
    family = add_family(session)
    _restrict(session, family.dad, Restriction.DSL_APPROVAL)
    assert blocked_reasons(session, [family.dad, family.mum]) == {family.dad: "awaiting_dsl_approval"}
    session.execute(update(PupilContact).where(PupilContact.adult_id == family.dad).values(dsl_approved_at=utcnow()))
    session.commit()
    assert blocked_reason(session, family.dad) is None
    # Approval withdrawn on one link after the message was queued, before a worker picks it up: it must not go.
    with pipeline.broker_paused():
        outbox_id = send_one_off(session, adult_id=family.dad, kind="fortnightly_checkin", pupil_ids=family.pupils,
                                 on=DAY, staff_id=family.dsl, channel="sms")
        assert outbox_id is not None
        session.execute(update(PupilContact).where(PupilContact.adult_id == family.dad,
                                                   PupilContact.pupil_id == family.ola)
                        .values(dsl_approved_at=None))
        session.commit()
    pipeline.drain()
    assert _sent_to(pipeline, DAD_MOBILE) == []
    session.expire_all()
    assert session.get(OutboxMessage, outbox_id).state is OutboxState.SUPPRESSED  # type: ignore[union-attr]
