"""Casework in the pipeline (memory channels): the interpreter task, and a call-back request by text."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, Adult, CaseState, CaseTask, OutboxMessage, OutboxState, TaskKind
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.replies import record_inbound
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family


def test_a_call_in_english_for_a_somali_speaker_becomes_an_interpreter_task(session: Session,
                                                                            pipeline: Pipeline) -> None:
    family = add_family(session)
    gran = session.get(Adult, family.gran)
    assert gran is not None
    gran.language, gran.title = "so", "Mrs"  # voice only, and Twilio has no Somali voice
    session.commit()
    start_followup(session, DAY)
    pipeline.drain()
    for minutes in (40, 50):
        pipeline.clock.advance(minutes=minutes)
        pipeline.tick()
    session.expire_all()
    call = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.gran)).one()
    assert call.channel == "voice" and call.locale == "en-GB"
    task = session.scalars(select(CaseTask)).one()
    assert task.kind is TaskKind.INTERPRETER and task.language == "so"
    assert task.title == "Call Mrs Kowalska in Somali — needs an interpreter"


def test_call_me_by_text_keeps_the_case_open_and_a_later_reason_answers_it(session: Session,
                                                                            pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    pipeline.clock.advance(minutes=10)
    first, _ = record_inbound(session, provider_sid="SM-callme", from_number=MUM_MOBILE, to_number=None,
                              body="Prosze o telefon")
    session.commit()
    enqueue_inbound(first)
    pipeline.drain()
    session.expire_all()
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.CALL_BACK
    assert session.scalars(select(CaseTask)).one().title == "Call Mrs Nowak back — asked at 09:25"
    pipeline.clock.advance(minutes=40)  # step 2's time: nobody else is messaged
    pipeline.tick()
    session.expire_all()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.step == 2)).all() == []
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []

    second, _ = record_inbound(session, provider_sid="SM-reason", from_number=MUM_MOBILE, to_number=None,
                               body="Ola jest chora")
    session.commit()
    enqueue_inbound(second)
    pipeline.drain()
    session.expire_all()
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED
    thanks = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).one()
    assert thanks.state is OutboxState.ACCEPTED
