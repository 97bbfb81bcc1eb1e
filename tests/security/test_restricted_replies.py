"""A message from a restricted adult never closes, pauses or answers a case.

The barred father texts the school's number ("George is ill today"): the ladder must go on to the other
parent, the emergency contact and the DSL; his text is the DSL's alone (not the office Inbox, no suggested
code, never exported, never thanked).
"""

from __future__ import annotations

import io

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage, PupilContact, Restriction, utcnow
from gateway.operations.reasons import reason_rows, write_reasons
from gateway.pipeline.absence import start_followup
from gateway.pipeline.actors import enqueue_inbound
from gateway.pipeline.replies import record_inbound
from gateway.web.pages.inbox import inbox_items
from tests.pipeline.conftest import DAD_MOBILE, DAY, MUM_MOBILE, Pipeline, add_family
from tests.security.support import add_point, restrict, sent_to

BODY = "George is ill today"


def _text_in(session: Session, pipeline: Pipeline, sender: str, body: str = BODY, sid: str = "SM-dad-1") -> int:
    inbound_id, _ = record_inbound(session, provider_sid=sid, from_number=sender, to_number="+447700900000",
                                   body=body)
    session.commit()
    enqueue_inbound(inbound_id)
    pipeline.drain()
    session.expire_all()
    return inbound_id


def _case(session: Session) -> AbsenceCase:
    session.expire_all()
    return session.scalars(select(AbsenceCase)).one()


def test_restricted_father_text_does_not_close_case(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    before = _case(session)
    step, due = before.current_step, before.next_step_at
    inbound_id = _text_in(session, pipeline, DAD_MOBILE)
    case = _case(session)
    assert case.state is CaseState.OPEN and case.closed_at is None
    assert (case.current_step, case.next_step_at) == (step, due)  # not paused either
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None
    assert (inbound.dsl_only, inbound.dsl_reason, inbound.case_id) == (True, "restricted", None)
    assert inbound.suggested_code is None and inbound.matched_keywords == []
    assert not case.thanked
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []
    assert sent_to(pipeline, DAD_MOBILE) == []
    # The ladder goes on: step 2 reaches the mother at the next due time.
    pipeline.clock.advance(minutes=45)
    pipeline.tick()
    session.expire_all()
    step2 = session.scalars(select(OutboxMessage).where(OutboxMessage.step == 2)).all()
    assert {r.adult_id for r in step2} == {family.mum}
    assert sent_to(pipeline, DAD_MOBILE) == []


def test_restricted_father_text_alerts_the_dsl_without_its_content(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    _text_in(session, pipeline, DAD_MOBILE)
    alerts = [m for m in pipeline.email.outbox if m.to == "dsl@school.invalid"]
    assert len(alerts) == 1
    assert "/dsl/messages" in alerts[0].text
    assert "George" not in alerts[0].text and "ill" not in alerts[0].text.split()  # no body leaves by e-mail
    assert family.dsl in {r.staff_id for r in session.scalars(select(OutboxMessage)
                                                               .where(OutboxMessage.kind == "dsl_alert"))}


def test_restricted_father_text_is_not_in_inbox_nor_exported(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    _text_in(session, pipeline, DAD_MOBILE)
    # An ordinary reply from the mother afterwards is still an office matter.
    _text_in(session, pipeline, MUM_MOBILE, "Ola jest chora", sid="SM-mum-1")
    known, unmatched = inbox_items(session, handled=False)
    assert [item.reply.from_number for item in known + unmatched] == [MUM_MOBILE]
    rows = list(reason_rows(session, DAY))
    assert rows and all(BODY not in row for row in rows)
    out = io.StringIO()
    write_reasons(session, DAY, out)
    assert BODY not in out.getvalue() and "Ola jest chora" in out.getvalue()
    assert family.dad not in {r.adult_id for r in session.scalars(select(InboundMessage)
                                                                  .where(InboundMessage.dsl_only.is_(False)))}


def test_father_awaiting_dsl_approval_text_does_not_close_case(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.DSL_APPROVAL)
    start_followup(session, DAY)
    pipeline.drain()
    inbound_id = _text_in(session, pipeline, DAD_MOBILE)
    assert _case(session).state is CaseState.OPEN
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and (inbound.dsl_only, inbound.dsl_reason) == (True, "awaiting_dsl_approval")
    assert sent_to(pipeline, DAD_MOBILE) == []
    # Once the DSL approves contact, his reply is an ordinary one again.
    session.execute(update(PupilContact).where(PupilContact.adult_id == family.dad).values(dsl_approved_at=utcnow()))
    session.commit()
    second = _text_in(session, pipeline, DAD_MOBILE, "Kuba jest chory", sid="SM-dad-2")
    assert session.get(InboundMessage, second).dsl_only is False  # type: ignore[union-attr]
    assert _case(session).state is CaseState.REPLIED


def test_shared_family_phone_held_by_barred_father_and_mother_does_not_close_case(
        session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    add_point(session, family.mum, DAD_MOBILE, position=5)  # the family's shared phone is on her record too
    restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    inbound_id = _text_in(session, pipeline, DAD_MOBILE)
    assert _case(session).state is CaseState.OPEN
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.dsl_only and inbound.adult_id == family.dad
    assert sent_to(pipeline, DAD_MOBILE) == []  # neither thanked nor messaged as the mother's number


def test_restriction_set_after_the_text_arrived_still_keeps_it_from_the_case(session: Session,
                                                                            pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    with pipeline.broker_paused():  # the text is stored, the worker has not processed it yet
        inbound_id, _ = record_inbound(session, provider_sid="SM-late", from_number=DAD_MOBILE, to_number=None,
                                       body=BODY)
        session.commit()
        enqueue_inbound(inbound_id)
        restrict(session, family.dad, Restriction.NO_CONTACT)
    pipeline.drain()
    assert _case(session).state is CaseState.OPEN
    assert session.get(InboundMessage, inbound_id).dsl_only is True  # type: ignore[union-attr]
    assert sent_to(pipeline, DAD_MOBILE) == []


def test_restricted_fathers_email_reply_in_other_capitals_does_not_close_case(session: Session,
                                                                            pipeline: Pipeline) -> None:
    family = add_family(session)
    add_point(session, family.dad, "Piotr.Nowak@Example.org", position=1)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    start_followup(session, DAY)
    pipeline.drain()
    inbound_id, _ = record_inbound(session, provider_sid="imap:<dad-1@example.org>",
                                   from_number="PIOTR.NOWAK@example.ORG", to_number=None, body=BODY, source="email")
    session.commit()
    enqueue_inbound(inbound_id)
    pipeline.drain()
    assert _case(session).state is CaseState.OPEN
    inbound = session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.dsl_only and inbound.adult_id == family.dad
    assert [m.to for m in pipeline.email.outbox if "nowak" in m.to.lower()] == []  # never thanked by e-mail
