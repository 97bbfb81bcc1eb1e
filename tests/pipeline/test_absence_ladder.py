"""The absence ladder on SQLite and PostgreSQL with the stub broker: open, climb, reply, close."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, AttendanceMark, CaseState, DslAlert, InboundMessage, OutboxMessage, OutboxState
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.cases import close_case, close_cases_for_present_marks
from gateway.pipeline.replies import record_inbound
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family


def _rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _reply(session: Session, pipeline: Pipeline, sid: str, sender: str, body: str) -> int:
    inbound_id, created = record_inbound(session, provider_sid=sid, from_number=sender, to_number=None, body=body)
    session.commit()
    if created:
        enqueue_inbound(inbound_id)
    pipeline.drain()
    return inbound_id


def test_siblings_get_one_message_and_the_ladder_climbs_until_a_polish_reply(
        session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    summary = start_followup(session, DAY)
    pipeline.drain()
    assert summary.cases_opened == 1
    case = session.scalars(select(AbsenceCase)).one()
    assert sorted(p.id for p in case.pupils) == sorted(family.pupils)
    rows = _rows(session)
    assert [(r.adult_id, r.channel, r.kind, r.state) for r in rows] == [
        (family.mum, "sms", "absence_first_day", OutboxState.ACCEPTED)]
    assert len(pipeline.sms.outbox) == 1  # one message for both siblings
    assert pipeline.sms.outbox[0].text == "absence_first_day|pl|sms|Ola+Kuba"
    assert rows[0].provider_id and rows[0].attempts == 1

    # Nobody replies: at 09:55 the second step goes to every adult with parental responsibility.
    pipeline.clock.advance(minutes=40)
    pipeline.tick()
    step2 = [r for r in _rows(session) if r.step == 2]
    assert {r.adult_id for r in step2} == {family.mum, family.dad}
    # "We have still not heard" only to mum, whom step 1 reached; dad hears of the absence for the first time.
    assert {r.adult_id: r.kind for r in step2} == {family.mum: "absence_followup", family.dad: "absence_first_day"}
    # Running the scheduler again at the same time doubles nothing.
    pipeline.tick()
    assert len([r for r in _rows(session) if r.step == 2]) == len(step2)

    # Mum replies in Polish: the ladder stops, code I is suggested, she is thanked in Polish, once.
    inbound_id = _reply(session, pipeline, "SM-reply-1", MUM_MOBILE, "Ola jest chora")
    _reply(session, pipeline, "SM-reply-1", MUM_MOBILE, "Ola jest chora")  # Twilio's retry of the same text
    session.expire_all()
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None
    assert (inbound.adult_id, inbound.case_id, inbound.suggested_code) == (family.mum, case.id, "I")
    assert session.scalar(select(InboundMessage.id).where(InboundMessage.id != inbound_id)) is None
    session.refresh(case)
    assert case.state is CaseState.REPLIED and case.close_reason == "reply"
    thanks = [r for r in _rows(session) if r.kind == "reply_thanks"]
    assert len(thanks) == 1 and thanks[0].locale == "pl" and thanks[0].state is OutboxState.ACCEPTED

    # Later steps never come.
    pipeline.clock.advance(hours=3)
    pipeline.tick()
    assert not [r for r in _rows(session) if (r.step or 0) >= 3]
    assert session.scalar(select(DslAlert)) is None


def test_a_mother_whose_first_text_was_undelivered_is_not_told_we_have_still_not_heard(
        session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    first = _rows(session)[0]
    assert (first.adult_id, first.step) == (family.mum, 1)
    first.state = OutboxState.UNDELIVERED  # the network's status callback: the text never reached her phone
    session.commit()
    pipeline.clock.advance(minutes=40)
    pipeline.tick()
    step2 = {r.adult_id: r.kind for r in _rows(session) if r.step == 2}
    assert step2 == {family.mum: "absence_first_day", family.dad: "absence_first_day"}


def test_no_reply_reaches_emergency_contacts_then_alerts_the_dsl(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    for minutes in (40, 50, 60):
        pipeline.clock.advance(minutes=minutes)
        pipeline.tick()
    rows = _rows(session)
    gran = [r for r in rows if r.adult_id == family.gran]
    assert [(r.kind, r.channel) for r in gran] == [("absence_emergency_contact", "voice")]
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.DSL_ALERTED
    assert session.scalar(select(DslAlert).where(DslAlert.case_id == case.id)) is not None
    alert_mail = [r for r in rows if r.kind == "dsl_alert"]
    assert [r.to_address for r in alert_mail] == ["dsl@school.invalid"]
    assert alert_mail[0].state is OutboxState.ACCEPTED
    assert any("Ola Nowak" in m.text for m in pipeline.email.outbox if m.to == "dsl@school.invalid")


def test_present_mark_closes_the_case_and_cancels_pending(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    pipeline.clock.advance(minutes=40)
    from gateway.pipeline.scheduler import tick

    tick()  # step 2 queued but not yet drained
    for pupil_id in family.pupils:
        session.add(AttendanceMark(pupil_id=pupil_id, date=DAY, session="PM", code="L"))
    session.flush()
    closed = close_cases_for_present_marks(session, [(p, DAY) for p in family.pupils])
    session.commit()
    pipeline.drain()
    assert len(closed) == 1
    case = session.get(AbsenceCase, closed[0])
    assert case is not None and case.state is CaseState.CLOSED and case.close_reason == "present_mark"
    states = {r.state for r in _rows(session) if r.step == 2}
    assert states <= {OutboxState.CANCELLED, OutboxState.ACCEPTED}


def test_staff_close_and_rerun_start_are_idempotent(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    first = start_followup(session, DAY)
    second = start_followup(session, DAY)
    pipeline.drain()
    assert (first.cases_opened, second.cases_opened) == (1, 0)
    assert len(pipeline.sms.outbox) == 1
    assert close_case(session, first.case_ids[0], "staff", family.dsl)
    assert not close_case(session, first.case_ids[0], "staff", family.dsl)
    session.commit()


def test_a_later_day_uses_absence_continuing(session: Session, pipeline: Pipeline) -> None:
    from datetime import timedelta

    from tests.pipeline.conftest import at

    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    tomorrow = DAY + timedelta(days=1)
    for pupil_id in family.pupils:
        session.add(AttendanceMark(pupil_id=pupil_id, date=tomorrow, session="AM", code="N"))
    session.commit()
    pipeline.clock.current = at(9, 15, tomorrow)
    start_followup(session, tomorrow)
    pipeline.drain()
    later = [r for r in _rows(session) if r.created_at >= at(9, 15, tomorrow)]
    assert [r.kind for r in later] == ["absence_continuing"]
    assert later[0].context["days_absent"] == 2


def test_a_step_planned_for_later_waits_for_its_time(session: Session, pipeline: Pipeline) -> None:
    from tests.pipeline.conftest import at

    add_family(session)
    pipeline.clock.current = at(6, 30)  # started before registers close: routing times it for later
    start_followup(session, DAY)
    pipeline.drain()
    row = _rows(session)[0]
    assert row.state is OutboxState.QUEUED and row.enqueued_at is None
    assert row.send_after is not None and row.send_after > pipeline.clock.now()
    assert pipeline.sms.outbox == []
    pipeline.clock.current = row.send_after
    pipeline.tick()
    assert _rows(session)[0].state is OutboxState.ACCEPTED and len(pipeline.sms.outbox) == 1


def test_one_familys_template_error_does_not_block_the_others(session: Session, pipeline: Pipeline) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from gateway.models import Adult, ContactKind, ContactPoint, Pupil, PupilContact
    from gateway.pipeline import ports
    from tests.pipeline.conftest import fake_render

    family = add_family(session)
    other = Adult(forename="Broken", surname="Template", language="xx", channel_order="sms")
    other.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900321", sms_capable=True))
    pupil = Pupil(upn="C123456789012", forename="Zed", surname="Template")
    pupil.links.append(PupilContact(adult=other, relationship_code="PAF", priority=1, parental_responsibility=True))
    session.add(pupil)
    session.flush()
    session.add(AttendanceMark(pupil_id=pupil.id, date=DAY, session="AM", code="N"))
    session.commit()

    def render(kind: str, **options: object) -> object:
        if options["context"]["recipient"]["forename"] == "Broken":  # type: ignore[index]
            raise RuntimeError("template error")
        return fake_render(kind, **options)  # type: ignore[arg-type]

    with ports.using(replace(ports.current(), render=render)):
        summary = start_followup(session, DAY)
        pipeline.drain()
    assert summary.cases_opened == 2
    rows = _rows(session)
    assert [(r.adult_id, r.state) for r in rows] == [(family.mum, OutboxState.ACCEPTED)]
    stuck = session.scalars(select(AbsenceCase).where(AbsenceCase.current_step == 0)).one()
    assert stuck.next_step_at == pipeline.clock.now() + timedelta(minutes=5)
