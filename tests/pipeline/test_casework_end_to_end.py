"""Casework end to end, through the real channels and the Twilio and SMTP sandboxes with real templates:
a keypad-3 answer is a call-back task (no thanks, ladder stopped, the DSL told when nobody calls in time); a
Polish welfare message reaches the DSL within one scheduler tick; a reply naming one of three siblings
suggests a code for that sibling only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import (
    AbsenceCase,
    AttendanceMark,
    CaseState,
    CaseTask,
    DslAlert,
    InboundMessage,
    OutboxMessage,
    Pupil,
    PupilContact,
    TaskKind,
)
from gateway.operations.reasons import reason_rows
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.replies import record_inbound
from gateway.pipeline.scheduler import tick
from tests.pipeline.conftest import DAY, GRAN_PHONE, MUM_MOBILE, add_family
from tests.pipeline.test_end_to_end import Live, broker_url, drain, live

__all__ = ["broker_url", "live"]  # the live-channel fixtures, shared with test_end_to_end


def _clock() -> FixedClock:
    clock = gateway_clock.get_clock()
    assert isinstance(clock, FixedClock)
    return clock


def _dsl_mails(smtp: object) -> list[tuple[str, str]]:
    """(subject, plain-text body) of every e-mail the DSL received."""
    found = []
    for mail in smtp.mailbox.messages():  # type: ignore[attr-defined]
        if "dsl@school.invalid" in mail.rcpt_tos:
            body = mail.message.get_body(("plain",))
            found.append((str(mail.message["Subject"]), body.get_content() if body is not None else ""))
    return found


def test_keypad_three_is_a_call_back_task_not_an_answer(session: Session, live: Live) -> None:
    broker, worker, sandbox, smtp = live
    twilio: Any = sandbox
    clock = _clock()
    family = add_family(session)
    start_followup(session, DAY)
    drain(broker, worker)
    for minutes in (40, 50):  # nobody answers: at 10:45 the grandmother (voice) is called
        clock.advance(minutes=minutes)
        tick()
        drain(broker, worker)
    session.expire_all()
    call = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.gran)).one()
    assert call.channel == "voice" and [c.params["To"] for c in twilio.state.calls()] == [GRAN_PHONE]

    inbound_id, _ = record_inbound(session, provider_sid=f"{call.provider_id}:3", from_number=GRAN_PHONE,
                                   to_number=None, body="3", source="voice", outbox_id=call.id)
    session.commit()
    enqueue_inbound(inbound_id)
    drain(broker, worker)
    session.expire_all()

    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.CALL_BACK and case.next_step_at is None  # ladder stopped, case still open
    task = session.scalars(select(CaseTask)).one()
    assert task.kind is TaskKind.CALL_BACK and task.case_id == case.id and task.done_at is None
    assert task.title == "Call Maria Kowalska back — asked at 10:45"
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []
    assert _dsl_mails(smtp) == []

    sent = len(twilio.state.messages()) + len(twilio.state.calls())
    clock.advance(minutes=60)  # 11:45: the ladder's DSL step would run now; the unmade call-back alerts instead
    tick()
    drain(broker, worker)
    session.expire_all()
    assert len(twilio.state.messages()) + len(twilio.state.calls()) == sent  # nobody else was messaged
    mails = _dsl_mails(smtp)
    assert len(mails) == 1 and "asked to be called back" in mails[0][0]
    assert "Call Maria Kowalska back — asked at 10:45" in mails[0][1]
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.CALL_BACK
    assert session.scalars(select(CaseTask)).one().dsl_alerted_at is not None
    tick()
    drain(broker, worker)
    assert len(_dsl_mails(smtp)) == 1  # told once


def test_polish_welfare_message_alerts_the_dsl_within_one_tick(session: Session, live: Live) -> None:
    broker, worker, _twilio, smtp = live
    clock = _clock()
    add_family(session)
    start_followup(session, DAY)
    drain(broker, worker)
    clock.advance(minutes=5)
    inbound_id, _ = record_inbound(session, provider_sid="SM-welfare-pl", from_number=MUM_MOBILE, to_number=None,
                                   body="Nie wiem, gdzie ona jest. Nie wróciła do domu.")
    session.commit()
    enqueue_inbound(inbound_id)
    tick()  # one scheduler tick
    drain(broker, worker)
    session.expire_all()

    mails = _dsl_mails(smtp)
    assert len(mails) == 1
    assert mails[0][0].startswith("Safeguarding: welfare concern")
    assert "nie wiem gdzie" in mails[0][1] and "Nie wróciła" not in mails[0][1]  # the words, never the reply
    case = session.scalars(select(AbsenceCase)).one()
    alert = session.scalars(select(DslAlert).where(DslAlert.case_id == case.id)).one()  # shown in the app
    assert alert.concern is not None and "Welfare concern" in alert.concern and alert.acknowledged_at is None
    flag = session.scalars(select(CaseTask).where(CaseTask.kind == TaskKind.WELFARE)).one()
    assert flag.case_id == case.id and flag.inbound_id == inbound_id


def test_reply_naming_one_of_three_siblings_suggests_a_code_for_that_one_only(session: Session,
                                                                              live: Live) -> None:
    broker, worker, sandbox, _smtp = live
    twilio: Any = sandbox
    family = add_family(session)
    ola = session.get(Pupil, family.ola)
    assert ola is not None
    zosia = Pupil(upn="C123456789012", forename="Zosia", surname="Nowak", school_id=ola.school_id)
    zosia.links.append(PupilContact(adult_id=family.mum, relationship_code="PAM", priority=1,
                                    parental_responsibility=True, lives_with_pupil=True))
    session.add(zosia)
    session.flush()
    session.add(AttendanceMark(pupil_id=zosia.id, date=DAY, session="AM", code="N"))
    session.commit()
    start_followup(session, DAY)
    drain(broker, worker)
    texts = twilio.state.messages()
    assert len(texts) == 1 and "Zosia" in texts[0].params["Body"]  # one case, one text for all three

    inbound_id, _ = record_inbound(session, provider_sid="SM-siblings", from_number=MUM_MOBILE, to_number=None,
                                   body="Kuba is sick, the others will come at 11")
    session.commit()
    enqueue_inbound(inbound_id)
    drain(broker, worker)
    session.expire_all()
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.suggested_code == "I"
    rows = {(row[0], row[2]): row[3] for row in reason_rows(session, DAY)}
    assert rows == {("A123456789012", "AM"): "", ("B123456789012", "AM"): "I", ("C123456789012", "AM"): ""}
